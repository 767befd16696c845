//! Nothing lost when the dispatcher stops: jobs it could not publish (RabbitMQ unreachable)
//! go to its job stash when it stops — on shutdown and when rest_for_one restarts it — and
//! the next dispatcher publishes them to the real RabbitMQ at 127.0.0.1:5672; with the Redis
//! stash (shared Redis at 127.0.0.1:6379, a unique namespace) they survive every adapter being
//! rebuilt. What cannot be stashed is counted in `gh_exporter_backfill_jobs_lost_total`.
//!
//! "Unreachable" is real: a port nothing listens on, or a proxy that refuses connections
//! (its counters prove the refusals happened). The last test restarts the real binary: jobs
//! its scraper produced while RabbitMQ was unreachable survive SIGTERM in Redis — exactly
//! those jobs, by org, repo, window and reason — and the next process publishes them.

mod backfill_support;
mod common;
mod proxy_support;
mod redis_common;
mod scrape_support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::Addr;
use backfill_support::{cleanup, counter, gauge, unique, url, wait_until, BROKER};
use github_stats_exporter::queue::names::QueueNames;
use github_stats_exporter::queue::rabbit::RabbitQueue;
use github_stats_exporter::queue::stash_redis::RedisStash;
use github_stats_exporter::queue::wire;
use gse_actors::backfill::{
    BackfillDispatcher, BackfillJob, BackfillRequest, DispatcherSettings, JobQueue, JobStash,
    MemoryStash, Reason,
};
use gse_actors::observe::{MemRecorder, MetricsObserver, Observer};
use gse_actors::supervisor::{
    self, ActorSlot, ChildSpec, Strategy, SupervisorExit, SupervisorHandle, SupervisorSpec,
};
use proxy_support::Proxy;
use redis_common::{delete_namespace, settings, unique_namespace, SHARED_REDIS};

const LIMIT: Duration = Duration::from_secs(60);
const JOBS: usize = 20;
const ENQUEUED: &str = "gh_exporter_backfill_jobs_enqueued";
const BUFFERED: &str = "gh_exporter_backfill_buffered_jobs";
const LOST: &str = "gh_exporter_backfill_jobs_lost";
const LABELS: [(&str, &str); 2] = [("org", "acme"), ("reason", "scrape_error")];

fn names(test: &str) -> QueueNames {
    let base = unique(test);
    QueueNames::new(
        &format!("{base}.ex"),
        &format!("{base}.jobs"),
        &format!("{base}.dlq"),
        &[Duration::from_secs(60)],
    )
}

/// An address nothing listens on.
fn dead_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    drop(listener);
    addr
}

/// The dispatcher child, flushing every 100 ms, with `stash` if any.
fn dispatcher_child(
    queue: Arc<dyn JobQueue>,
    stash: Option<Arc<dyn JobStash>>,
    recorder: Arc<MemRecorder>,
) -> (ChildSpec, ActorSlot<BackfillDispatcher>) {
    ChildSpec::actor("backfill_dispatcher", move |_| {
        let mut settings = DispatcherSettings::new(
            Duration::from_secs(900),
            Duration::from_secs(3600),
            10_000,
            5,
        );
        settings.flush_interval = Duration::from_millis(100);
        let dispatcher = BackfillDispatcher::new(settings, queue.clone(), recorder.clone());
        match &stash {
            Some(stash) => dispatcher.with_stash(stash.clone()),
            None => dispatcher,
        }
    })
}

fn tree(children: Vec<ChildSpec>, recorder: &Arc<MemRecorder>) -> SupervisorHandle {
    let observer: Arc<dyn Observer> = Arc::new(MetricsObserver::new(recorder.clone()));
    let mut spec = SupervisorSpec::new("root", Strategy::RestForOne).observer(observer);
    for child in children {
        spec = spec.child(child);
    }
    supervisor::start(spec)
}

async fn current(slot: &ActorSlot<BackfillDispatcher>) -> Addr<BackfillDispatcher> {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        if let Some(addr) = slot.get() {
            return addr;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dispatcher never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `JOBS` requests for distinct repos.
async fn request_jobs(slot: &ActorSlot<BackfillDispatcher>) {
    let addr = current(slot).await;
    let now = SystemTime::now();
    for i in 0..JOBS {
        let request = BackfillRequest {
            org: "acme".into(),
            repo: format!("repo-{i}"),
            window_start: now - Duration::from_secs(86_400),
            window_end: now,
            reason: Reason::ScrapeError,
        };
        tokio::time::timeout(LIMIT, addr.send(request))
            .await
            .expect("the dispatcher answers within the deadline")
            .expect("the dispatcher is running");
    }
}

/// Waits until the dispatcher buffered every job (its publishes failed).
async fn wait_buffered(recorder: &MemRecorder) {
    wait_until("every job is in the outage buffer", LIMIT, || {
        gauge(recorder, BUFFERED, &[]) == JOBS as f64
    })
    .await;
}

async fn shutdown(root: SupervisorHandle) {
    let exit = root.shutdown(Duration::from_secs(20)).await;
    assert_eq!(exit, SupervisorExit::Stopped, "the tree stopped in time");
}

/// Starts a dispatcher on the real broker with `stash`, and checks it publishes every
/// stashed job: `JOBS` confirmed publishes and `JOBS` messages ready on the work queue.
async fn publish_stashed(names: &QueueNames, stash: Arc<dyn JobStash>) {
    let rabbit = RabbitQueue::new(url(BROKER).into(), names.clone());
    let recorder = Arc::new(MemRecorder::new());
    let (child, _slot) = dispatcher_child(Arc::new(rabbit.clone()), Some(stash), recorder.clone());
    let root = tree(vec![rabbit.connection_child(None), child], &recorder);
    wait_until("every stashed job is published", LIMIT, || {
        counter(&recorder, ENQUEUED, &LABELS) == JOBS as u64
    })
    .await;
    let ready = tokio::time::timeout(LIMIT, rabbit.sample())
        .await
        .expect("sampled within the deadline")
        .expect("the broker answers");
    assert_eq!(
        ready[0].ready, JOBS as u64,
        "every job is on the work queue"
    );
    shutdown(root).await;
}

/// Stopped while RabbitMQ is unreachable, the dispatcher hands its buffer to the stash (none
/// lost); a new dispatcher on a reachable broker publishes every job.
#[actix_rt::test]
async fn stopped_dispatcher_stashes_its_buffer_and_the_next_publishes_it() {
    let names = names("stash-stop");
    let down = RabbitQueue::new(url(&dead_addr()).into(), names.clone());
    let stash = Arc::new(MemoryStash::new(10_000));
    let recorder = Arc::new(MemRecorder::new());
    let (child, slot) = dispatcher_child(Arc::new(down), Some(stash.clone()), recorder.clone());
    let root = tree(vec![child], &recorder);
    request_jobs(&slot).await;
    wait_buffered(&recorder).await;
    assert_eq!(
        counter(&recorder, ENQUEUED, &LABELS),
        0,
        "nothing published"
    );

    shutdown(root).await;
    assert_eq!(
        stash.len(),
        JOBS,
        "the stopped dispatcher stashed its buffer"
    );
    assert_eq!(counter(&recorder, LOST, &LABELS), 0, "nothing lost");

    publish_stashed(&names, stash.clone()).await;
    assert!(stash.is_empty(), "the stash was taken back");
    cleanup(&names).await;
}

/// rest_for_one restarts the dispatcher when an earlier sibling restarts: the new incarnation
/// takes the old one's buffer back from the stash, and publishes it once RabbitMQ (behind a
/// refusing proxy until then) is reachable.
#[actix_rt::test]
async fn dispatcher_restarted_by_its_supervisor_keeps_its_buffer() {
    let names = names("stash-restart");
    let proxy = Proxy::start(BROKER).await;
    proxy.set_refusing(true);
    let rabbit = RabbitQueue::new(url(&proxy.addr().to_string()).into(), names.clone());
    let stash = Arc::new(MemoryStash::new(10_000));
    let recorder = Arc::new(MemRecorder::new());
    let fail_sibling = Arc::new(tokio::sync::Notify::new());
    let sibling = {
        let fail = fail_sibling.clone();
        ChildSpec::task("sibling", move |stop| {
            let fail = fail.clone();
            async move {
                tokio::select! {
                    () = stop.cancelled() => Ok(()),
                    () = fail.notified() => Err("told to fail".to_string()),
                }
            }
        })
    };
    let (child, slot) = dispatcher_child(
        Arc::new(rabbit.clone()),
        Some(stash.clone()),
        recorder.clone(),
    );
    let root = tree(
        vec![rabbit.connection_child(None), sibling, child],
        &recorder,
    );
    request_jobs(&slot).await;
    wait_buffered(&recorder).await;
    wait_until("the proxy refused the broker connection", LIMIT, || {
        proxy.stats().refused > 0
    })
    .await;
    assert_eq!(
        counter(&recorder, ENQUEUED, &LABELS),
        0,
        "nothing published"
    );

    let first = current(&slot).await;
    fail_sibling.notify_one();
    wait_until("the dispatcher was restarted", LIMIT, || {
        counter(
            &recorder,
            "gh_exporter_actor_restarts",
            &[("actor", "backfill_dispatcher")],
        ) >= 1
            && slot.get().is_some_and(|addr| addr != first)
    })
    .await;
    // The new incarnation holds the jobs again (taken back from the stash).
    wait_buffered(&recorder).await;
    proxy.set_refusing(false);
    wait_until("every job is published after the restart", LIMIT, || {
        counter(&recorder, ENQUEUED, &LABELS) == JOBS as u64
    })
    .await;
    assert_eq!(counter(&recorder, LOST, &LABELS), 0, "nothing lost");
    let ready = tokio::time::timeout(LIMIT, rabbit.sample())
        .await
        .expect("sampled within the deadline")
        .expect("the broker answers");
    assert_eq!(
        ready[0].ready, JOBS as u64,
        "every job is on the work queue"
    );
    shutdown(root).await;
    cleanup(&names).await;
}

/// With the Redis stash the jobs outlive every adapter of the first "process": the list holds
/// them after the stop, and a dispatcher built afresh on new connections publishes them.
#[actix_rt::test]
async fn redis_stash_keeps_jobs_for_the_next_process() {
    let names = names("stash-redis");
    let namespace = unique_namespace("stash");
    {
        let down = RabbitQueue::new(url(&dead_addr()).into(), names.clone());
        let stash = RedisStash::new(&settings(SHARED_REDIS, &namespace), 10_000)
            .expect("valid Redis settings");
        let recorder = Arc::new(MemRecorder::new());
        let (child, slot) =
            dispatcher_child(Arc::new(down), Some(Arc::new(stash)), recorder.clone());
        let root = tree(vec![child], &recorder);
        request_jobs(&slot).await;
        wait_buffered(&recorder).await;
        shutdown(root).await;
        assert_eq!(counter(&recorder, LOST, &LABELS), 0, "nothing lost");
    }
    let key = format!("{namespace}:backfill-stash");
    assert_eq!(list_len(&key), JOBS, "the stash holds every job in Redis");

    let stash =
        RedisStash::new(&settings(SHARED_REDIS, &namespace), 10_000).expect("valid Redis settings");
    publish_stashed(&names, Arc::new(stash)).await;
    assert_eq!(list_len(&key), 0, "the stash was taken back");
    delete_namespace(SHARED_REDIS, &namespace);
    cleanup(&names).await;
}

/// A dispatcher that stops for good leaves its jobs in the shared Redis stash; another one,
/// already running and idle, takes them over at its next stash poll and publishes them.
#[actix_rt::test]
async fn a_running_dispatcher_adopts_jobs_another_one_stashed() {
    let names = names("stash-adopt");
    let namespace = unique_namespace("stash-adopt");
    let redis = || {
        Arc::new(
            RedisStash::new(&settings(SHARED_REDIS, &namespace), 10_000)
                .expect("valid Redis settings"),
        ) as Arc<dyn JobStash>
    };
    // B: running on the reachable broker, idle, polling the stash every 200 ms.
    let rabbit = RabbitQueue::new(url(BROKER).into(), names.clone());
    let recorder_b = Arc::new(MemRecorder::new());
    let (child_b, _slot_b) = {
        let (queue, stash, recorder) = (
            Arc::new(rabbit.clone()) as Arc<dyn JobQueue>,
            redis(),
            recorder_b.clone(),
        );
        ChildSpec::actor("backfill_dispatcher", move |_| {
            let mut settings = DispatcherSettings::new(
                Duration::from_secs(900),
                Duration::from_secs(3600),
                10_000,
                5,
            );
            settings.flush_interval = Duration::from_millis(100);
            settings.stash_poll_interval = Duration::from_millis(200);
            BackfillDispatcher::new(settings, queue.clone(), recorder.clone())
                .with_stash(stash.clone())
        })
    };
    let root_b = tree(vec![rabbit.connection_child(None), child_b], &recorder_b);
    // A: broker unreachable; buffers, then stops for good.
    let down = RabbitQueue::new(url(&dead_addr()).into(), names.clone());
    let recorder_a = Arc::new(MemRecorder::new());
    let (child_a, slot_a) = dispatcher_child(Arc::new(down), Some(redis()), recorder_a.clone());
    let root_a = tree(vec![child_a], &recorder_a);
    request_jobs(&slot_a).await;
    wait_buffered(&recorder_a).await;
    shutdown(root_a).await;
    assert_eq!(counter(&recorder_a, LOST, &LABELS), 0, "nothing lost");

    wait_until("B publishes every job A stashed", LIMIT, || {
        counter(&recorder_b, ENQUEUED, &LABELS) == JOBS as u64
    })
    .await;
    assert_eq!(list_len(&format!("{namespace}:backfill-stash")), 0);
    shutdown(root_b).await;
    delete_namespace(SHARED_REDIS, &namespace);
    cleanup(&names).await;
}

/// Jobs that can be neither published nor stashed — the Redis stash is unreachable too, or
/// there is no stash — are counted lost (and logged), never dropped silently.
#[actix_rt::test]
async fn jobs_that_cannot_be_stashed_are_counted_lost() {
    let unreachable_redis = format!("redis://{}", dead_addr());
    let stashes: Vec<Option<Arc<dyn JobStash>>> = vec![
        Some(Arc::new(
            RedisStash::new(&settings(&unreachable_redis, "gse-test:lost"), 10_000)
                .expect("valid Redis settings"),
        )),
        None,
    ];
    for stash in stashes {
        let names = names("stash-lost");
        let down = RabbitQueue::new(url(&dead_addr()).into(), names.clone());
        let recorder = Arc::new(MemRecorder::new());
        let (child, slot) = dispatcher_child(Arc::new(down), stash, recorder.clone());
        let root = tree(vec![child], &recorder);
        request_jobs(&slot).await;
        wait_buffered(&recorder).await;
        assert_eq!(counter(&recorder, LOST, &LABELS), 0);
        shutdown(root).await;
        assert_eq!(
            counter(&recorder, LOST, &LABELS),
            JOBS as u64,
            "every job that could not be stashed is counted lost"
        );
    }
}

fn list_len(key: &str) -> usize {
    let client = redis::Client::open(SHARED_REDIS).expect("redis url");
    let mut conn = client.get_connection().expect("the shared Redis answers");
    redis::cmd("LLEN")
        .arg(key)
        .query(&mut conn)
        .expect("LLEN answers")
}

/// One stashed or published job's identity: (org, repo, window start, window end, reason),
/// the window in Unix seconds.
type Identity = (String, String, u64, u64, String);

fn identity(job: &BackfillJob) -> Identity {
    let secs = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .expect("after the epoch")
            .as_secs()
    };
    (
        job.org.clone(),
        job.repo.clone(),
        secs(job.window_start),
        secs(job.window_end),
        job.reason.as_str().to_string(),
    )
}

/// The jobs the Redis stash list holds, decoded from the queue's wire format.
fn stashed_jobs(key: &str) -> Vec<BackfillJob> {
    let client = redis::Client::open(SHARED_REDIS).expect("redis url");
    let mut conn = client.get_connection().expect("the shared Redis answers");
    let raw: Vec<Vec<u8>> = redis::cmd("LRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .query(&mut conn)
        .expect("LRANGE answers");
    raw.iter()
        .map(|body| wire::decode(body).expect("a stashed job decodes"))
        .collect()
}

/// The dedup keys of the backfill locks in `namespace`: a dispatcher takes one per confirmed
/// publish, so they name the jobs published so far.
fn dedup_locks(namespace: &str) -> BTreeSet<String> {
    let client = redis::Client::open(SHARED_REDIS).expect("redis url");
    let mut conn = client.get_connection().expect("the shared Redis answers");
    let prefix = format!("{namespace}:backfill-dedup:");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut conn)
        .expect("KEYS answers");
    keys.into_iter()
        .map(|k| k.trim_start_matches(&prefix).to_string())
        .collect()
}

/// `backfill.coalesce_window` (default) and the activity window.
const BUCKET: f64 = 900.0;
const DAY: f64 = 86_400.0;

/// The job window of the activity day a cycle at Unix time `t` misses: `[t - 24 h, t]` widened
/// to 15-minute buckets (start rounded down, end rounded up). Computed here, not by the
/// dispatcher's code.
fn missed_window(t: f64) -> (u64, u64) {
    let start = ((t - DAY) / BUCKET).floor() * BUCKET;
    let end = (t / BUCKET).ceil() * BUCKET;
    (start as u64, end as u64)
}

/// Every window a cycle between `from` and `to` can miss (they change every 15 minutes).
fn possible_windows(from: SystemTime, to: SystemTime) -> BTreeSet<(u64, u64)> {
    let unix = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .expect("after the epoch")
            .as_secs_f64()
    };
    let (from, to) = (unix(from), unix(to));
    let mut windows = BTreeSet::new();
    let mut t = from;
    while t < to {
        windows.insert(missed_window(t));
        t += 1.0;
    }
    windows.insert(missed_window(to));
    windows
}

/// The org's repositories the exporter scrapes (not archived), from the fake's REST API.
fn scraped_repos(fake: &fake_github::FakeGithub, org: &str) -> Vec<String> {
    let answer = common::raw_request(
        fake.addr(),
        "GET",
        &format!("/orgs/{org}/repos?per_page=100"),
        &[
            ("Authorization", "token fake-token"),
            ("Accept", "application/vnd.github+json"),
        ],
    )
    .expect("the fake answers");
    assert_eq!(answer.status, 200, "{}", answer.text());
    let repos: Vec<serde_json::Value> =
        serde_json::from_slice(&answer.body).expect("a JSON list of repositories");
    let mut names: Vec<String> = repos
        .iter()
        .filter(|r| r["archived"] != true)
        .filter_map(|r| r["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// `name` as a regex literal.
fn regex_literal(name: &str) -> String {
    name.chars()
        .flat_map(|c| {
            let escape = !(c.is_ascii_alphanumeric() || c == '-' || c == '_');
            escape.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// The real binary, twice, on one Redis namespace. First process: RabbitMQ unreachable; the
/// org search is down (GraphQL and REST), so every repository lists its comments, and the
/// comments listing fails persistently for a chosen half of the repositories: each cycle
/// reports exactly those repositories' comment windows as missed, and the dispatcher buffers
/// them; SIGTERM stashes them in Redis. The stash then holds exactly the jobs that process
/// produced — one per failing repository and missed window (org, repo, window, reason), none
/// for the other repositories, none twice. Second process, faults cleared and RabbitMQ
/// reachable: it takes the stash back and publishes exactly the stashed jobs, each once (its
/// dedup locks name them), and no other job of that reason.
#[test]
fn stashed_jobs_survive_a_process_restart() {
    let fake = scrape_support::fake(1, 4, 6, |c| c.secondary.burst_max = 0);
    let org = fake.org_names()[0].clone();
    let repos = scraped_repos(&fake, &org);
    assert!(repos.len() >= 2, "{repos:?}");
    // Every other repository (by name) fails its comments listing; the rest succeed.
    let failing: BTreeSet<String> = repos.iter().step_by(2).cloned().collect();
    let alternatives: Vec<String> = failing.iter().map(|r| regex_literal(r)).collect();
    scrape_support::inject(&fake, r#"{"path_regex": "^/graphql$", "status": 502}"#);
    scrape_support::inject(
        &fake,
        r#"{"path_regex": "^/search/issues$", "status": 502}"#,
    );
    scrape_support::inject(
        &fake,
        &format!(
            r#"{{"path_regex": "^/repos/{}/({})/issues/comments$", "status": 502}}"#,
            regex_literal(&org),
            alternatives.join("|")
        ),
    );
    let namespace = unique_namespace("stash-e2e");
    let _cleanup = redis_common::Cleanup {
        url: SHARED_REDIS.into(),
        namespace: namespace.clone(),
    };
    let names = names("stash-e2e");
    let base = format!("{}/", fake.base_url());
    let dead = url(&dead_addr());
    let live = url(BROKER);
    let env = |amqp: &str| -> Vec<(String, String)> {
        [
            ("GITHUB_STATS_GITHUB__API_BASE_URL", base.as_str()),
            ("GITHUB_STATS_GITHUB__TOKEN", "fake-token"),
            ("GITHUB_STATS_GITHUB__ORGS", org.as_str()),
            ("GITHUB_STATS_GITHUB__SCRAPE_INTERVAL", "1s"),
            ("GITHUB_STATS_RETRY__MAX_ATTEMPTS", "1"),
            ("GITHUB_STATS_RATE_LIMIT__REQUESTS_PER_MINUTE", "6000"),
            ("GITHUB_STATS_STORE__REDIS_URL", SHARED_REDIS),
            ("GITHUB_STATS_STORE__NAMESPACE", namespace.as_str()),
            ("GITHUB_STATS_AMQP__URL", amqp),
            ("GITHUB_STATS_AMQP__EXCHANGE", names.exchange.as_str()),
            ("GITHUB_STATS_AMQP__QUEUE", names.work.as_str()),
            ("GITHUB_STATS_AMQP__DLQ", names.dlq.as_str()),
            ("GITHUB_STATS_BACKFILL__REQUEUE_DELAYS", "1m"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let replica = |running: &common::Running| {
        scrape_support::Metrics::parse(
            &running
                .get("/metrics/replica")
                .map(|r| r.text())
                .unwrap_or_default(),
        )
    };
    let reason = [("org", org.as_str()), ("reason", REASON_COMMENTS)];

    let first_env = env(&dead);
    let pairs: Vec<(&str, &str)> = first_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let started = SystemTime::now();
    let mut first = common::Running::start(&pairs);
    // `/metrics/replica` answers 500 while the queue cannot be sampled; the shared metrics
    // show the partial cycles whose missed windows went to the dispatcher (two: the first
    // cycle's windows were handled before the second cycle ended).
    first.wait_until("two partial cycles (missed comments windows)", |r| {
        let shared = scrape_support::Metrics::parse(
            &r.get("/metrics").map(|x| x.text()).unwrap_or_default(),
        );
        shared.sum(
            "gh_exporter_scrape_runs_total",
            &[("org", org.as_str()), ("result", "partial")],
        ) >= 2.0
    });
    assert_eq!(
        first.get("/metrics/replica").map(|r| r.status),
        Some(500),
        "RabbitMQ is unreachable"
    );
    assert!(
        fake.requests().by_status.get("502").copied().unwrap_or(0) >= 2,
        "the faults were served"
    );
    let status = first.terminate(Duration::from_secs(30));
    let stopped = SystemTime::now();
    assert!(status.success(), "clean exit: {status}");
    let key = format!("{namespace}:backfill-stash");
    let jobs = stashed_jobs(&key);
    let stashed = jobs.len();
    assert_eq!(list_len(&key), stashed);

    // Which jobs: exactly the failing repositories' comment windows of the first process's
    // cycles, each once.
    let stashed_ids: BTreeSet<Identity> = jobs.iter().map(identity).collect();
    let keys: BTreeSet<&str> = jobs.iter().map(|j| j.dedup_key.as_str()).collect();
    assert_eq!(
        keys.len(),
        stashed,
        "no job stashed twice: {stashed_ids:#?}"
    );
    let windows = possible_windows(started, stopped);
    for id in &stashed_ids {
        let (job_org, repo, start, end, job_reason) = id;
        assert!(
            job_org == &org
                && failing.contains(repo)
                && job_reason == REASON_COMMENTS
                && windows.contains(&(*start, *end)),
            "a stashed job the first process did not produce: {id:?}; it produced comments \
             jobs of {org} for {failing:?} over windows {windows:?}"
        );
    }
    let stashed_repos: BTreeSet<&String> = stashed_ids.iter().map(|id| &id.1).collect();
    assert_eq!(
        stashed_repos,
        failing.iter().collect(),
        "every failing repository's missed window was stashed, no other repository's"
    );
    if let [window] = windows.iter().collect::<Vec<_>>()[..] {
        // The usual case: the first process ran within one 15-minute bucket, so every cycle
        // missed the same window and the produced jobs are known exactly.
        let expected: BTreeSet<Identity> = failing
            .iter()
            .map(|repo| {
                (
                    org.clone(),
                    repo.clone(),
                    window.0,
                    window.1,
                    REASON_COMMENTS.to_string(),
                )
            })
            .collect();
        assert_eq!(stashed_ids, expected, "the stash holds the produced jobs");
    }

    scrape_support::clear_faults(&fake);
    let second_env = env(&live);
    let pairs: Vec<(&str, &str)> = second_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut second = common::Running::start(&pairs);
    second.wait_until("the stashed jobs are published", |r| {
        replica(r).sum("gh_exporter_backfill_jobs_enqueued_total", &reason) >= stashed as f64
    });
    assert_eq!(
        replica(&second).sum("gh_exporter_backfill_jobs_enqueued_total", &reason),
        stashed as f64,
        "every stashed job, once"
    );
    assert_eq!(list_len(&key), 0, "the stash was taken back");
    // The published jobs are the stashed ones: a confirmed publish takes the job's dedup lock.
    let stashed_keys: BTreeSet<String> = keys.iter().map(|k| k.to_string()).collect();
    let published = |namespace: &str| -> BTreeSet<String> {
        dedup_locks(namespace)
            .into_iter()
            .filter(|k| k.ends_with(&format!(":{REASON_COMMENTS}")))
            .collect()
    };
    second.wait_until("a dedup lock for every published job", |_| {
        published(&namespace).len() >= stashed
    });
    assert_eq!(
        published(&namespace),
        stashed_keys,
        "the second process published exactly the stashed jobs"
    );
    let status = second.terminate(Duration::from_secs(30));
    assert!(status.success(), "clean exit: {status}");
    backfill_support::cleanup_blocking(&names);
}

const REASON_COMMENTS: &str = "activity_issue_comments_failed";
