//! Helpers for the scrape tests: run the exporter in-process (`run_with`) against an in-process
//! fake GitHub whose clock the exporter follows, read `/metrics`, and compare every
//! `gh_activity_*` series with the fake's truth at each org's
//! `gh_exporter_scrape_window_end_timestamp_seconds`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_github::{FakeConfig, FakeGithub};
use github_stats_exporter::{config, run_with, RunOptions};
use gse_actors::scrape::memory_state::MemoryStateStore;
use gse_actors::scrape::port::Clock;

/// The exporter's clock follows the fake's (which tests may advance).
pub struct FakeClock(pub Arc<FakeGithub>);

impl Clock for FakeClock {
    fn now(&self) -> f64 {
        self.0.now()
    }
}

/// A running in-process exporter; stopped on drop.
pub struct Exporter {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
}

/// The base environment for a fake: token, base URL, orgs, short interval, fast retries.
pub fn env_for(fake: &FakeGithub, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        (
            "GITHUB_STATS_GITHUB__API_BASE_URL".into(),
            format!("{}/", fake.base_url()),
        ),
        ("GITHUB_STATS_GITHUB__TOKEN".into(), "fake-token".into()),
        (
            "GITHUB_STATS_GITHUB__ORGS".into(),
            fake.org_names().join(","),
        ),
        ("GITHUB_STATS_GITHUB__SCRAPE_INTERVAL".into(), "1s".into()),
        ("GITHUB_STATS_RETRY__INITIAL_BACKOFF".into(), "20ms".into()),
        ("GITHUB_STATS_RETRY__MAX_BACKOFF".into(), "200ms".into()),
        (
            "GITHUB_STATS_RATE_LIMIT__MIN_REMAINING_THRESHOLD".into(),
            "5".into(),
        ),
        (
            "GITHUB_STATS_RATE_LIMIT__SECONDARY_LIMIT_BACKOFF".into(),
            "1s".into(),
        ),
        (
            "GITHUB_STATS_SERVER__LISTEN_ADDR".into(),
            "127.0.0.1:0".into(),
        ),
        // The fake answers far faster than GitHub allows; pace, but not at GitHub's rate.
        (
            "GITHUB_STATS_RATE_LIMIT__REQUESTS_PER_MINUTE".into(),
            "6000".into(),
        ),
    ];
    for (k, v) in extra {
        env.retain(|(key, _)| key != k);
        env.push((k.to_string(), v.to_string()));
    }
    env
}

impl Exporter {
    /// Starts the exporter with `env` (see [`env_for`]) and the fake's clock.
    pub fn start(fake: Arc<FakeGithub>, env: Vec<(String, String)>) -> Exporter {
        Exporter::start_with_state(fake, env, Arc::new(MemoryStateStore::new()))
    }

    /// Like [`Exporter::start`] with a given scrape state store (shared across exporters to
    /// model a restart or a leader change).
    pub fn start_with_state(
        fake: Arc<FakeGithub>,
        env: Vec<(String, String)>,
        state_store: Arc<MemoryStateStore>,
    ) -> Exporter {
        let config =
            config::load_from(None, env).unwrap_or_else(|e| panic!("config: {:?}", e.problems));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let system = actix_rt::System::new();
            let options = RunOptions {
                clock: Arc::new(FakeClock(fake)),
                state_store: Some(state_store),
            };
            system
                .block_on(run_with(
                    config,
                    listener,
                    async move {
                        let _ = rx.await;
                    },
                    options,
                ))
                .map_err(|e| gse_actors::store::error_chain(&e))
        });
        Exporter {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.addr, path)
    }

    pub fn metrics(&self) -> Metrics {
        Metrics::parse(&self.get("/metrics").map(|r| r.1).unwrap_or_default())
    }

    /// Stops the exporter and fails the test unless it has stopped within `deadline` (for
    /// tests where a stop that waits out `server.shutdown_timeout` is the defect).
    pub fn stop_within(mut self, deadline: Duration, what: &str) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let Some(thread) = self.thread.take() else {
            return;
        };
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done_tx.send(thread.join());
        });
        match done_rx.recv_timeout(deadline) {
            Ok(Ok(result)) => assert!(result.is_ok(), "exporter failed: {result:?}"),
            Ok(Err(_)) => panic!("the exporter thread panicked"),
            Err(_) => panic!("the exporter did not stop within {deadline:?}: {what}"),
        }
    }

    /// Stops the exporter and returns how long the stop took.
    pub fn stop(mut self) -> Duration {
        let started = Instant::now();
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let result = t.join().expect("exporter thread");
            assert!(result.is_ok(), "exporter failed: {result:?}");
        }
        started.elapsed()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A plain HTTP/1.1 GET.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head
        .lines()
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some((status, body))
}

fn dechunk(mut data: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = data.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        data = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// `(metric, labels)` → value, from a Prometheus text body.
#[derive(Debug, Default, Clone)]
pub struct Metrics(pub BTreeMap<(String, Vec<(String, String)>), f64>);

impl Metrics {
    pub fn parse(body: &str) -> Metrics {
        let mut out = BTreeMap::new();
        for line in body
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (series, value) = match line.rsplit_once(' ') {
                Some(x) => x,
                None => continue,
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, parse_labels(rest.trim_end_matches('}'))),
                None => (series, Vec::new()),
            };
            out.insert((name.to_string(), labels), value);
        }
        Metrics(out)
    }

    /// The value of `name` with exactly these labels.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut l: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        l.sort();
        self.0.get(&(name.to_string(), l)).copied()
    }

    /// Sum over every series of `name` whose labels include `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|((n, l), _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(a, b)| a == k && b == v))
            })
            .map(|(_, v)| *v)
            .sum()
    }

    pub fn window_end(&self, org: &str) -> Option<f64> {
        self.get(
            "gh_exporter_scrape_window_end_timestamp_seconds",
            &[("org", org)],
        )
    }

    /// Every `gh_activity_*` series of `org`: (metric, repo, user) → value.
    pub fn activity(&self, org: &str) -> BTreeMap<(String, String, String), f64> {
        self.0
            .iter()
            .filter(|((n, _), _)| n.starts_with("gh_activity_"))
            .filter_map(|((n, l), v)| {
                let get = |k: &str| l.iter().find(|(a, _)| a == k).map(|(_, b)| b.clone());
                if get("org")? != org {
                    return None;
                }
                Some(((n.clone(), get("repo")?, get("user")?), *v))
            })
            .collect()
    }
}

fn parse_labels(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(match n {
                            'n' => '\n',
                            other => other,
                        });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                other => value.push(other),
            }
        }
        out.push((key.trim_start_matches(',').to_string(), value));
        rest = &after[end..];
    }
    out.sort();
    out
}

/// The truth of `org` at `at`: (metric, repo, user) → value.
pub fn truth(fake: &FakeGithub, org: &str, at: f64) -> BTreeMap<(String, String, String), f64> {
    fake.truth(at)
        .series
        .into_iter()
        .filter(|s| s.org == org)
        .map(|s| ((s.metric.to_string(), s.repo, s.user), s.value as f64))
        .collect()
}

/// The truth of `org` at `at`, fetched over the fake's HTTP control API as an outside observer
/// (a test running the exporter binary) reads it: (metric, repo, user) → value.
pub fn truth_over_http(
    fake: &FakeGithub,
    org: &str,
    at: f64,
) -> BTreeMap<(String, String, String), f64> {
    let (status, body) =
        http_get(fake.addr(), &format!("/_fake/truth?at={at}")).expect("truth answers");
    assert_eq!(status, 200);
    let truth: serde_json::Value = serde_json::from_str(&body).expect("truth is JSON");
    truth["series"]
        .as_array()
        .expect("series")
        .iter()
        .filter(|s| s["org"] == org)
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            (
                (text("metric"), text("repo"), text("user")),
                s["value"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect()
}

/// Describes the differences between served and expected series (empty when equal).
pub fn diff<K: Ord + std::fmt::Debug>(
    served: &BTreeMap<K, f64>,
    expected: &BTreeMap<K, f64>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in expected {
        match served.get(k) {
            None => out.push(format!("missing {k:?} = {v}")),
            Some(s) if s != v => out.push(format!("wrong {k:?}: served {s}, truth {v}")),
            _ => {}
        }
    }
    for (k, v) in served {
        if !expected.contains_key(k) {
            out.push(format!("extra {k:?} = {v}"));
        }
    }
    out
}

/// Polls until `check` holds (generous deadline), returning the last metrics.
pub fn wait_for(
    exporter: &Exporter,
    what: &str,
    deadline: Duration,
    mut check: impl FnMut(&Metrics) -> bool,
) -> Metrics {
    let until = Instant::now() + deadline;
    loop {
        let m = exporter.metrics();
        if check(&m) {
            return m;
        }
        assert!(Instant::now() < until, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The series a commit can change. On GitHub (and the fake) a commit appears when it is
/// pushed, possibly hours after its committer date, and nothing in the API tells when: a push
/// landing between a cycle's `now` and its commit listing is counted by the exporter although
/// the truth at `now` does not have it yet. Such a cycle is not wrong, only unlucky; the next
/// cycle must be exact.
pub const PUSH_RACE_METRICS: [&str; 4] = [
    "gh_activity_commits_24h",
    "gh_activity_last_event_unixtime",
    "gh_activity_loc_added_weekly",
    "gh_activity_loc_removed_weekly",
];

/// Whether every difference is in a series a late push can race (see [`PUSH_RACE_METRICS`]).
pub fn push_race_only(problems: &[String]) -> bool {
    !problems.is_empty()
        && problems.iter().all(|p| {
            PUSH_RACE_METRICS
                .iter()
                .any(|m| p.contains(&format!("\"{m}\"")))
        })
}

/// Compares every org's served `gh_activity_*` series with the truth at its window end, with
/// no extra series. `next_cycle(after)` waits for metrics where every org's window ends at or
/// after `after`; `truth_of(org, at)` gives the expected series. A cycle whose only differences
/// are commit series is given up to two more cycles (a push can land between `now` and the
/// listing, see [`PUSH_RACE_METRICS`]); a lasting or any other difference fails.
pub fn compare_allowing_push_race(
    orgs: &[String],
    after: f64,
    mut next_cycle: impl FnMut(f64) -> Metrics,
    truth_of: impl Fn(&str, f64) -> BTreeMap<(String, String, String), f64>,
) -> Metrics {
    let mut after = after;
    for attempt in 0..3 {
        let m = next_cycle(after);
        let mut raced = false;
        for org in orgs {
            let at = m.window_end(org).expect("waited for it");
            let expected = truth_of(org, at);
            assert!(!expected.is_empty(), "the fake has activity for {org}");
            let problems = diff(&m.activity(org), &expected);
            if attempt < 2 && push_race_only(&problems) {
                eprintln!("org {org} at {at}: commit series differ (a push raced the cycle?): {problems:?}");
                raced = true;
                continue;
            }
            assert!(
                problems.is_empty(),
                "org {org} at {at}: {} differences, first: {:#?}",
                problems.len(),
                &problems[..problems.len().min(15)]
            );
        }
        if !raced {
            return m;
        }
        after = orgs
            .iter()
            .filter_map(|o| m.window_end(o))
            .fold(after, f64::max)
            + 0.001;
    }
    unreachable!("the last attempt asserts")
}

/// Waits until every org serves a cycle ending at or after `after`, then asserts every
/// `gh_activity_*` series equals the truth at that org's window end, with no extra series
/// (see [`compare_allowing_push_race`]).
pub fn assert_matches_truth(exporter: &Exporter, fake: &FakeGithub, after: f64) -> Metrics {
    let orgs = fake.org_names();
    compare_allowing_push_race(
        &orgs,
        after,
        |after| {
            wait_for(
                exporter,
                "every org serves a fresh cycle",
                Duration::from_secs(90),
                |m| {
                    orgs.iter()
                        .all(|o| m.window_end(o).is_some_and(|t| t >= after))
                },
            )
        },
        |org, at| truth(fake, org, at),
    )
}

/// Like [`assert_matches_truth`] for any source of `/metrics` text (e.g. a replica process):
/// waits until every org serves a cycle ending at or after `after`, then compares it with the
/// truth (push races allowed, see [`compare_allowing_push_race`]).
pub fn assert_served_truth_after(
    fake: &FakeGithub,
    after: f64,
    mut fetch_metrics: impl FnMut() -> String,
) -> Metrics {
    let orgs = fake.org_names();
    compare_allowing_push_race(
        &orgs,
        after,
        |after| {
            let until = Instant::now() + Duration::from_secs(60);
            loop {
                let m = Metrics::parse(&fetch_metrics());
                if orgs
                    .iter()
                    .all(|o| m.window_end(o).is_some_and(|t| t >= after))
                {
                    return m;
                }
                assert!(
                    Instant::now() < until,
                    "timed out waiting for a fresh cycle of every org"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        },
        |org, at| truth(fake, org, at),
    )
}

/// A fake of `orgs` orgs with `repos` repos each on the real clock.
pub fn fake(
    orgs: usize,
    repos: usize,
    users: usize,
    tweak: impl FnOnce(&mut FakeConfig),
) -> Arc<FakeGithub> {
    let mut cfg = FakeConfig {
        orgs,
        repos,
        users,
        stats_compute_calls: 1,
        ..FakeConfig::default()
    };
    tweak(&mut cfg);
    Arc::new(FakeGithub::spawn(cfg).expect("fake github starts"))
}

/// A request with an optional JSON body; returns (status, body).
pub fn http_send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head
        .lines()
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((status, body.to_string()))
}

/// Injects a fault into the fake (`POST /_fake/faults`).
pub fn inject(fake: &FakeGithub, spec: &str) {
    let answer = http_send(fake.addr(), "POST", "/_fake/faults", Some(spec));
    assert_eq!(answer.map(|a| a.0), Some(201), "fault accepted: {spec}");
}

/// Clears the fake's faults.
pub fn clear_faults(fake: &FakeGithub) {
    http_send(fake.addr(), "DELETE", "/_fake/faults", None);
}

/// Requests the fake counted for `endpoint` (e.g. `GET /orgs/{org}/repos`).
pub fn requests_to(fake: &FakeGithub, endpoint: &str) -> u64 {
    fake.requests()
        .by_endpoint
        .get(endpoint)
        .copied()
        .unwrap_or(0)
}

/// Polls until every org serves a cycle ending at or after `after` whose series equal the
/// truth (for tests where early cycles are legitimately incomplete).
pub fn wait_for_truth(
    exporter: &Exporter,
    fake: &FakeGithub,
    after: f64,
    deadline: Duration,
) -> Metrics {
    poll_served_truth(fake, after, deadline, || exporter.metrics())
}

/// Polls any source of `/metrics` text until every org serves a cycle ending at or after
/// `after` whose series all equal the truth (LOC included), or fails after `deadline` with
/// the remaining differences.
pub fn wait_served_truth_after(
    fake: &FakeGithub,
    after: f64,
    deadline: Duration,
    mut fetch_metrics: impl FnMut() -> String,
) -> Metrics {
    poll_served_truth(fake, after, deadline, || Metrics::parse(&fetch_metrics()))
}

/// The loop of [`wait_for_truth`] and [`wait_served_truth_after`] over any source of metrics.
fn poll_served_truth(
    fake: &FakeGithub,
    after: f64,
    deadline: Duration,
    mut fetch: impl FnMut() -> Metrics,
) -> Metrics {
    let orgs = fake.org_names();
    let until = Instant::now() + deadline;
    loop {
        let m = fetch();
        let mut problems = Vec::new();
        for org in &orgs {
            match m.window_end(org).filter(|t| *t >= after) {
                None => problems.push(format!("{org}: no fresh cycle yet")),
                Some(at) => problems.extend(
                    diff(&m.activity(org), &truth(fake, org, at))
                        .into_iter()
                        .map(|p| format!("{org}: {p}")),
                ),
            }
        }
        if problems.is_empty() {
            return m;
        }
        assert!(
            Instant::now() < until,
            "timed out: {} differences, first: {:#?}",
            problems.len(),
            &problems[..problems.len().min(10)]
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A GitHub client of `org` against the fake (token auth, no pacing, two attempts, 10 ms
/// backoff), for client-level tests.
pub fn github_client(
    fake: &FakeGithub,
    org: &str,
    limits: github_stats_exporter::github::client::ResponseLimits,
) -> github_stats_exporter::github::client::Client {
    use github_stats_exporter::github::auth::Credential;
    use github_stats_exporter::github::client::{Client, RetrySettings};
    use github_stats_exporter::github::governor::{Governor, RateLimitSettings};
    let http = github_stats_exporter::github::http_client(Duration::from_secs(5), "test")
        .expect("http client");
    let base = url::Url::parse(&format!("{}/", fake.base_url())).expect("base url");
    Client::new(
        http,
        base,
        org.to_string(),
        Arc::new(Credential::Token("fake-token".to_string().into())),
        Arc::new(Governor::new(RateLimitSettings {
            min_remaining_threshold: 0,
            min_reset_buffer: Duration::from_secs(1),
            secondary_limit_backoff: Duration::from_secs(1),
            requests_per_minute: 0,
        })),
        RetrySettings {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
            jitter: false,
        },
    )
    .with_limits(limits)
}

/// The replica metrics of the exporter (`/metrics/replica`).
pub fn replica_metrics(exporter: &Exporter) -> Metrics {
    Metrics::parse(
        &exporter
            .get("/metrics/replica")
            .map(|r| r.1)
            .unwrap_or_default(),
    )
}

/// Backfill requests the dispatcher received for `reason` (published, deduplicated into an
/// earlier job, or dropped by the per-org cap), polled until at least `at_least` (or the deadline).
pub fn wait_for_backfill_requests(exporter: &Exporter, reason: &str, at_least: f64) -> f64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let m = replica_metrics(exporter);
        let seen: f64 = [
            "gh_exporter_backfill_jobs_enqueued_total",
            "gh_exporter_backfill_jobs_deduped_total",
            "gh_exporter_backfill_enqueues_dropped_total",
        ]
        .iter()
        .map(|name| m.sum(name, &[("reason", reason)]))
        .sum();
        if seen >= at_least || std::time::Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
