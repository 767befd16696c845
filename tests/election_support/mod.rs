//! Helpers for the leader-election tests: several real exporter processes on one Redis
//! namespace scraping one in-process fake GitHub, with short CI timings (lease 3 s, renew 2 s,
//! retry 500 ms); their roles read from `/healthz`; signals (SIGKILL, SIGTERM, SIGSTOP,
//! SIGCONT); the fake's log of which replica (its `User-Agent`) asked about which org.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_github::{FakeConfig, FakeGithub};

use crate::common::{free_addr, raw_request, HttpResponse};
use crate::redis_common::{delete_namespace, unique_namespace, SHARED_REDIS};

/// Short timings every election test uses (the lease rule holds: 3 > 2 > 1.2 × 0.5).
pub const LEASE: Duration = Duration::from_secs(3);
pub const RENEW: Duration = Duration::from_secs(2);
pub const RETRY: Duration = Duration::from_millis(500);
/// `github.scrape_interval` of every replica, in seconds.
pub const SCRAPE_INTERVAL: f64 = 2.0;

/// One exporter process.
pub struct Replica {
    pub identity: String,
    pub child: Child,
    pub addr: std::net::SocketAddr,
    pub killed: bool,
}

/// What `/healthz` says about the role.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleView {
    pub leader: bool,
    pub epoch: u64,
    pub owned: Vec<String>,
}

impl Replica {
    pub fn get(&self, path: &str) -> Option<HttpResponse> {
        raw_request(self.addr, "GET", path, &[("Accept", "text/plain")])
    }

    /// The role from `/healthz` (`None` while it does not answer, e.g. stopped).
    pub fn role(&self) -> Option<RoleView> {
        let response = self.get("/healthz")?;
        let json: serde_json::Value = serde_json::from_slice(&response.body).ok()?;
        Some(RoleView {
            leader: json["role"] == "leader",
            epoch: json["epoch"].as_u64().unwrap_or(0),
            owned: json["owned_orgs"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    pub fn is_leader(&self) -> bool {
        self.role().is_some_and(|r| r.leader)
    }

    /// `/metrics/replica` as text.
    pub fn replica_metrics(&self) -> String {
        self.get("/metrics/replica")
            .map(|r| r.text())
            .unwrap_or_default()
    }

    /// A counter or gauge of `/metrics/replica` (0 when absent).
    pub fn replica_value(&self, series: &str) -> f64 {
        self.replica_metrics()
            .lines()
            .find_map(|l| {
                l.strip_prefix(series)
                    .and_then(|rest| rest.strip_prefix(' '))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0.0)
    }

    /// Whether the process is stopped (SIGSTOP took effect): state `T` in `/proc/<pid>/stat`.
    pub fn is_stopped(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .ok()
            .and_then(|stat| {
                // `pid (comm) state …`: the state follows the last `)`.
                let rest = &stat[stat.rfind(')')? + 1..];
                rest.split_whitespace().next().map(|s| s == "T")
            })
            .unwrap_or(false)
    }

    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// kill -9.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.killed = true;
    }

    /// Waits for the process to exit (after a signal), failing after `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for exporter") {
                self.killed = true;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {limit:?}",
                self.identity
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if !self.killed {
            // A stopped process must be continued to die cleanly.
            let _ = Command::new("kill").args(["-CONT", &self.pid()]).status();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The fake, the namespace and the environment every replica shares.
pub struct Cluster {
    pub fake: Arc<FakeGithub>,
    pub namespace: String,
    pub orgs: Vec<String>,
    pub redis_url: String,
    base: Vec<(String, String)>,
}

impl Cluster {
    /// A fake of `orgs` small orgs and a fresh namespace on the shared Redis.
    pub fn new(test: &str, orgs: usize, extra: &[(&str, &str)]) -> Cluster {
        Cluster::with_redis(test, orgs, SHARED_REDIS, extra)
    }

    pub fn with_redis(test: &str, orgs: usize, redis_url: &str, extra: &[(&str, &str)]) -> Cluster {
        let mut config = FakeConfig {
            orgs,
            repos: 4,
            users: 6,
            ..FakeConfig::default()
        };
        config.secondary.burst_max = 0;
        Cluster::with_fake(test, config, redis_url, extra)
    }

    /// A fake built from `config` and a fresh namespace on `redis_url`.
    pub fn with_fake(
        test: &str,
        config: FakeConfig,
        redis_url: &str,
        extra: &[(&str, &str)],
    ) -> Cluster {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let fake = Arc::new(FakeGithub::spawn(config).expect("fake GitHub starts"));
        let namespace = unique_namespace(test);
        let orgs = fake.org_names();
        let mut base: Vec<(String, String)> = vec![
            ("GITHUB_STATS_GITHUB__ORGS", orgs.join(",")),
            ("GITHUB_STATS_GITHUB__TOKEN", "fake-token".into()),
            (
                "GITHUB_STATS_GITHUB__API_BASE_URL",
                format!("{}/", fake.base_url()),
            ),
            (
                "GITHUB_STATS_GITHUB__SCRAPE_INTERVAL",
                format!("{SCRAPE_INTERVAL}s"),
            ),
            ("GITHUB_STATS_RETRY__INITIAL_BACKOFF", "20ms".into()),
            ("GITHUB_STATS_RETRY__MAX_BACKOFF", "200ms".into()),
            (
                "GITHUB_STATS_RATE_LIMIT__REQUESTS_PER_MINUTE",
                "6000".into(),
            ),
            ("GITHUB_STATS_STORE__REDIS_URL", redis_url.into()),
            ("GITHUB_STATS_STORE__NAMESPACE", namespace.clone()),
            ("GITHUB_STATS_STORE__METRIC_REFRESH_INTERVAL", "1s".into()),
            ("GITHUB_STATS_LEADER_ELECTION__ENABLED", "true".into()),
            ("GITHUB_STATS_LEADER_ELECTION__LEASE_DURATION", "3s".into()),
            ("GITHUB_STATS_LEADER_ELECTION__RENEW_DEADLINE", "2s".into()),
            ("GITHUB_STATS_LEADER_ELECTION__RETRY_PERIOD", "500ms".into()),
            ("GITHUB_STATS_LEADER_ELECTION__REBALANCE_DELAY", "2s".into()),
            ("GITHUB_STATS_BACKFILL__ENABLED", "false".into()),
            ("GITHUB_STATS_SERVER__LOG_FORMAT", "text".into()),
            ("GITHUB_STATS_SERVER__LOG_LEVEL", "info".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in extra {
            base.retain(|(key, _)| key != k);
            base.push((k.to_string(), v.to_string()));
        }
        Cluster {
            fake,
            namespace,
            orgs,
            redis_url: redis_url.to_string(),
            base,
        }
    }

    /// Starts a replica named `identity` (also its `User-Agent`) with `extra` environment and
    /// waits until it answers.
    pub fn start(&self, identity: &str, extra: &[(&str, &str)]) -> Replica {
        let addr = free_addr();
        let mut command = Command::new(crate::common::exporter_bin());
        for (key, _) in std::env::vars() {
            if key.starts_with("GITHUB_STATS_") {
                command.env_remove(key);
            }
        }
        command.envs(self.base.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command.env("GITHUB_STATS_SERVER__LISTEN_ADDR", addr.to_string());
        command.env("GITHUB_STATS_LEADER_ELECTION__IDENTITY", identity);
        command.envs(extra.iter().copied());
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn exporter");
        let replica = Replica {
            identity: identity.to_string(),
            child,
            addr,
            killed: false,
        };
        wait_until(
            Duration::from_secs(30),
            "the replica answers /livez",
            || replica.get("/livez").map(|r| r.status) == Some(200),
        );
        replica
    }

    /// Which replica (by identity) asked the fake about which org, in arrival order, after
    /// fake time `since`.
    pub fn org_requests_since(&self, since: f64) -> Vec<(f64, String, String)> {
        self.fake
            .org_requests()
            .into_iter()
            .filter(|r| r.at >= since)
            .map(|r| (r.at, r.org, identity_of(&r.user_agent)))
            .collect()
    }

    /// Split-brain detection from the fake's log (REST and GraphQL alike): fails when any org
    /// was asked about by two replicas within `interval` (a scrape interval) of each other,
    /// unless both requests fall inside one of `handovers` — fake-time windows `(from, to)`
    /// where a change of owner is expected (a kill, a pause, a rebalance).
    pub fn assert_single_scraper(&self, since: f64, interval: f64, handovers: &[(f64, f64)]) {
        let log = self.org_requests_since(since);
        assert!(!log.is_empty(), "the fake saw no org request since {since}");
        let problems = split_brain(&log, interval, handovers);
        assert!(
            problems.is_empty(),
            "orgs asked about by two replicas within {interval} s outside a hand-over ({handovers:?}): {problems:#?}"
        );
    }

    pub fn leaders<'a>(&self, replicas: &'a [&'a Replica]) -> Vec<&'a str> {
        replicas
            .iter()
            .filter(|r| r.is_leader())
            .map(|r| r.identity.as_str())
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        delete_namespace(&self.redis_url, &self.namespace);
    }
}

/// The pairs of requests `(at, org, who)` that show one org asked about by two replicas within
/// `interval`, outside every hand-over window (see [`Cluster::assert_single_scraper`]).
pub fn split_brain(
    log: &[(f64, String, String)],
    interval: f64,
    handovers: &[(f64, f64)],
) -> Vec<String> {
    let mut by_org: BTreeMap<&str, Vec<(f64, &str)>> = BTreeMap::new();
    for (at, org, who) in log {
        by_org.entry(org).or_default().push((*at, who));
    }
    let excused = |a: f64, b: f64| handovers.iter().any(|(from, to)| *from <= a && b <= *to);
    let mut problems = Vec::new();
    for (org, mut requests) in by_org {
        requests.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (i, (at, who)) in requests.iter().enumerate() {
            let clash = requests[i + 1..]
                .iter()
                .take_while(|(t, _)| *t < at + interval)
                .find(|(t, w)| w != who && !excused(*at, *t));
            if let Some((t, w)) = clash {
                problems.push(format!("{org}: {who} at {at:.3}, {w} at {t:.3}"));
            }
        }
    }
    problems
}

/// Which replicas own which org, read twice from `/healthz` (all replicas in order, then again)
/// so a hand-over between two reads is not taken for double ownership: `a` and `b` are
/// reported for org `x` only when `a` owned `x` in both passes and `b` owned it in a read made
/// between `a`'s two reads.
pub fn double_owners(replicas: &[&Replica]) -> Vec<String> {
    let read = || -> Vec<Vec<String>> {
        replicas
            .iter()
            .map(|r| r.role().map(|v| v.owned).unwrap_or_default())
            .collect()
    };
    let (first, second) = (read(), read());
    let mut problems = Vec::new();
    for (i, a) in replicas.iter().enumerate() {
        for org in first[i].iter().filter(|o| second[i].contains(o)) {
            for (j, b) in replicas.iter().enumerate() {
                let between =
                    (j > i && first[j].contains(org)) || (j < i && second[j].contains(org));
                if j != i && between {
                    problems.push(format!("{org}: {} and {}", a.identity, b.identity));
                }
            }
        }
    }
    problems
}

/// The replica's `/metrics` in Prometheus text ("" while it does not answer).
pub fn metrics_text(replica: &Replica) -> String {
    replica
        .get("/metrics")
        .map(|r| r.text())
        .unwrap_or_default()
}

/// The identity in `github-stats-exporter/<version> (<identity>)`.
pub fn identity_of(user_agent: &str) -> String {
    user_agent
        .rsplit_once('(')
        .map(|(_, rest)| rest.trim_end_matches(')').to_string())
        .unwrap_or_else(|| user_agent.to_string())
}

/// Polls `check` every 20 ms until it holds; fails after `limit`. Returns the time it took.
pub fn wait_until(limit: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if check() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
