//! Copilot backfill end to end: the exporter (in-process `run_with`, on the fake's clock) with
//! Copilot on, against the fake GitHub, with the backfill queue on the real RabbitMQ (and once
//! in memory). A fault on the 1-day report of the freshest day D (= yesterday) — a 5xx on its
//! report-link call, its download links issued already expired however often new ones are
//! asked, or a malformed file — makes the run publish the older day: the fault is proven
//! served by the fake's counters, a job with reason `copilot_report_failed` is published, no
//! series of day D is served and the report is marked incomplete, and the consumer's attempts
//! fail while the fault lasts. Once it is lifted the consumer reads D again and every
//! `gh_copilot_*` series equals the fake's truth. Runs are 6 h apart (real time), so only the
//! backfill consumer can have recovered the day. With the fault kept, the job ends in the
//! dead-letter queue after `backfill.max_attempts`, counted. One test runs the real binary.

mod backfill_support;
mod common;
mod scrape_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backfill_support::{cleanup_blocking, unique, url, BROKER};
use fake_github::copilot::truth::Settings;
use fake_github::FakeGithub;
use github_stats_exporter::queue::names::QueueNames;
use gse_actors::calendar::day_name;
use scrape_support::*;

const REASON: &str = "copilot_report_failed";
const DEADLINE: Duration = Duration::from_secs(60);

type Series = BTreeMap<(String, Vec<(String, String)>), f64>;

fn knobs(fake: &FakeGithub, body: &str) {
    let answer = http_send(fake.addr(), "POST", "/_fake/copilot", Some(body));
    assert_eq!(answer.map(|a| a.0), Some(200), "knobs accepted: {body}");
}

/// How the 1-day report of the day fails.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// 502 on the report-link call of that day (every client retry too).
    LinkCall5xx,
    /// Every download link of that day issued already expired (the fake's 403), however
    /// often new links are asked.
    LinksExpired,
    /// The day's file is not JSON.
    MalformedFile,
}

impl Fault {
    /// Sets the fault on the fake.
    fn set(self, fake: &FakeGithub, org: &str, day: &str) {
        let blob = format!("^/_blob/copilot/org-{org}/organization-1-day/{day}/");
        match self {
            Fault::LinkCall5xx => inject(
                fake,
                &format!(
                    r#"{{"path_regex": "/copilot/metrics/reports/organization-1-day$", "query_regex": "(^|&)day={day}(&|$)", "status": 502}}"#
                ),
            ),
            Fault::LinksExpired => knobs(fake, &format!(r#"{{"expire_links_of_day": "{day}"}}"#)),
            Fault::MalformedFile => inject(
                fake,
                &format!(r#"{{"path_regex": "{blob}", "body": "malformed"}}"#),
            ),
        }
    }

    /// Lifts it.
    fn lift(self, fake: &FakeGithub) {
        match self {
            Fault::LinksExpired => knobs(fake, r#"{"expire_links_of_day": ""}"#),
            _ => clear_faults(fake),
        }
    }

    /// How many times the fake served it: faults by kind, expired links from the knobs' state.
    fn served(self, fake: &FakeGithub) -> u64 {
        let kind = match self {
            Fault::LinkCall5xx => "status",
            Fault::MalformedFile => "malformed",
            Fault::LinksExpired => {
                let state = http_send(fake.addr(), "GET", "/_fake/copilot", None).expect("knobs");
                let state: serde_json::Value = serde_json::from_str(&state.1).expect("JSON");
                return state["expired_links_issued"].as_u64().unwrap_or(0);
            }
        };
        fake.faults_served().get(kind).copied().unwrap_or(0)
    }

    /// How many times it must have been served before the day goes to backfill: both
    /// attempts of the client (`retry.max_attempts = 2`), the first link and its 3 new ones,
    /// the one file.
    fn times(self) -> u64 {
        match self {
            Fault::LinkCall5xx => 2,
            Fault::LinksExpired => 4,
            Fault::MalformedFile => 1,
        }
    }
}

fn served(m: &Metrics) -> Series {
    m.0.iter()
        .filter(|((name, _), _)| name.starts_with("gh_copilot_"))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// The truth with a `day` label on every report family (so "day D absent" is a label).
fn truth(fake: &FakeGithub) -> Series {
    let query = vec![("emit_day_label".to_string(), "true".to_string())];
    let settings = Settings::from_query(&query).expect("truth settings");
    fake.copilot_truth(&settings)
        .series
        .into_iter()
        .map(|s| ((s.metric, s.labels.into_iter().collect()), s.value))
        .collect()
}

fn poll<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + DEADLINE;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < until, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `gh_exporter_copilot_report_incomplete` of the org's 1-day report.
fn incomplete(m: &Metrics, org: &str) -> Option<f64> {
    m.get(
        "gh_exporter_copilot_report_incomplete",
        &[
            ("org", org),
            ("report", "organization-1-day"),
            ("scope", "organization"),
        ],
    )
}

/// An exporter under test: in-process or the binary.
trait Observed {
    /// `/metrics`.
    fn metrics(&self) -> Metrics;
    /// `/metrics/replica`.
    fn replica(&self) -> Metrics;
}

impl Observed for Exporter {
    fn metrics(&self) -> Metrics {
        Exporter::metrics(self)
    }

    fn replica(&self) -> Metrics {
        replica_metrics(self)
    }
}

impl Observed for common::Running {
    fn metrics(&self) -> Metrics {
        Metrics::parse(&self.get("/metrics").map(|r| r.text()).unwrap_or_default())
    }

    fn replica(&self) -> Metrics {
        Metrics::parse(
            &self
                .get("/metrics/replica")
                .map(|r| r.text())
                .unwrap_or_default(),
        )
    }
}

fn replica_sum(exporter: &dyn Observed, name: &str, labels: &[(&str, &str)]) -> f64 {
    exporter.replica().sum(name, labels)
}

struct Queue {
    names: QueueNames,
    env: Vec<(String, String)>,
}

/// Fresh RabbitMQ names with 1 s / 2 s retry tiers.
fn rabbit_queue(max_attempts: u32) -> Queue {
    let prefix = unique("copilot-backfill");
    let (exchange, queue, dlq) = (
        format!("{prefix}.x"),
        format!("{prefix}.q"),
        format!("{prefix}.dlq"),
    );
    let names = QueueNames::new(
        &exchange,
        &queue,
        &dlq,
        &[Duration::from_secs(1), Duration::from_secs(2)],
    );
    let env = vec![
        ("GITHUB_STATS_AMQP__URL".into(), url(BROKER)),
        ("GITHUB_STATS_AMQP__EXCHANGE".into(), exchange),
        ("GITHUB_STATS_AMQP__QUEUE".into(), queue),
        ("GITHUB_STATS_AMQP__DLQ".into(), dlq),
        (
            "GITHUB_STATS_BACKFILL__REQUEUE_DELAYS".into(),
            "1s,2s".into(),
        ),
        (
            "GITHUB_STATS_BACKFILL__MAX_ATTEMPTS".into(),
            max_attempts.to_string(),
        ),
    ];
    Queue { names, env }
}

/// Starts the exporter with Copilot on (day labels on) and `queue_env`; the fault is already
/// set. Returns the exporter, the org and the failing day.
fn start(
    fake: &Arc<FakeGithub>,
    fault: Fault,
    queue_env: &[(String, String)],
) -> (Exporter, String, String) {
    let org = fake.org_names()[0].clone();
    let day = day_name((fake.now() / 86_400.0).floor() as i64 - 1);
    fault.set(fake, &org, &day);
    let mut extra: Vec<(&str, &str)> = vec![
        ("GITHUB_STATS_COPILOT__ENABLED", "true"),
        ("GITHUB_STATS_COPILOT__EMIT_DAY_LABEL", "true"),
        ("GITHUB_STATS_RETRY__MAX_ATTEMPTS", "2"),
    ];
    extra.extend(queue_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let exporter = Exporter::start(fake.clone(), env_for(fake, &extra));
    (exporter, org, day)
}

/// While the fault lasts: the fault was served, the day went to backfill, no series of the
/// day is served, the report is marked incomplete, and the consumer's attempts fail.
fn assert_failing(exporter: &dyn Observed, fake: &FakeGithub, fault: Fault, org: &str, day: &str) {
    let labels = [("org", org), ("reason", REASON)];
    poll("a copilot_report_failed job is published", || {
        (replica_sum(
            exporter,
            "gh_exporter_backfill_jobs_enqueued_total",
            &labels,
        ) >= 1.0)
            .then_some(())
    });
    assert!(
        fault.served(fake) >= fault.times(),
        "the {fault:?} fault was served {} times: {}",
        fault.times(),
        fault.served(fake)
    );
    if let Fault::LinksExpired = fault {
        let downloads = fake.requests().download_requests_by_report;
        assert!(
            downloads.get("organization-1-day").copied().unwrap_or(0) >= 4,
            "the day's link and its 3 new links were tried: {downloads:?}"
        );
    }
    let m = poll("the report is marked incomplete", || {
        let m = exporter.metrics();
        (incomplete(&m, org) == Some(1.0)).then_some(m)
    });
    let copilot = served(&m);
    assert!(!copilot.is_empty(), "the older day's series are served");
    let of_day: Vec<_> = copilot
        .keys()
        .filter(|(_, labels)| labels.iter().any(|(k, v)| k == "day" && v == day))
        .collect();
    assert!(
        of_day.is_empty(),
        "no series of {day} while it fails: {of_day:?}"
    );
    assert!(
        !copilot.keys().any(|(name, labels)| {
            name == "gh_copilot_report_day_timestamp_seconds"
                && labels
                    .iter()
                    .any(|(k, v)| k == "report" && v == "organization-1-day")
        }),
        "no 1-day report is claimed as used"
    );
    poll("the consumer's attempts fail while the fault lasts", || {
        (replica_sum(
            exporter,
            "gh_exporter_backfill_jobs_processed_total",
            &[("org", org), ("result", "retry")],
        ) >= 1.0)
            .then_some(())
    });
}

/// After the fault is lifted: the consumer recovers the day and every `gh_copilot_*` series
/// equals the truth; the report is complete again; nothing was dead-lettered.
fn assert_recovered(exporter: &dyn Observed, fake: &FakeGithub, fault: Fault, org: &str) {
    fault.lift(fake);
    poll("the consumer recovers the day", || {
        (replica_sum(
            exporter,
            "gh_exporter_backfill_jobs_processed_total",
            &[("org", org), ("result", "success")],
        ) >= 1.0)
            .then_some(())
    });
    let m = poll("gh_copilot_* equal the truth", || {
        let m = exporter.metrics();
        diff(&served(&m), &truth(fake)).is_empty().then_some(m)
    });
    assert_eq!(
        incomplete(&m, org),
        Some(0.0),
        "the report is complete again"
    );
    assert_eq!(
        m.sum("gh_exporter_copilot_runs_total", &[("org", org)]),
        1.0,
        "one run only: the day came from backfill"
    );
    assert_eq!(
        replica_sum(exporter, "gh_exporter_backfill_dead_lettered_total", &[]),
        0.0,
        "nothing dead-lettered"
    );
}

fn recovered_through_rabbitmq(fault: Fault) {
    let fake = fake(1, 3, 10, |c| c.secondary.burst_max = 0);
    let queue = rabbit_queue(20);
    let (exporter, org, day) = start(&fake, fault, &queue.env);
    assert_failing(&exporter, &fake, fault, &org, &day);
    assert_recovered(&exporter, &fake, fault, &org);
    exporter.stop();
    cleanup_blocking(&queue.names);
}

#[test]
fn a_5xx_on_the_day_report_is_backfilled_through_rabbitmq() {
    recovered_through_rabbitmq(Fault::LinkCall5xx);
}

#[test]
fn expired_links_of_the_day_are_backfilled_through_rabbitmq() {
    recovered_through_rabbitmq(Fault::LinksExpired);
}

#[test]
fn a_malformed_day_file_is_backfilled_through_rabbitmq() {
    recovered_through_rabbitmq(Fault::MalformedFile);
}

/// The default queue (in memory, no broker configured) takes the same path.
#[test]
fn a_failed_day_is_backfilled_through_the_memory_queue() {
    let fake = fake(1, 3, 10, |c| c.secondary.burst_max = 0);
    let env = vec![
        (
            "GITHUB_STATS_BACKFILL__REQUEUE_DELAYS".to_string(),
            "1s,2s".to_string(),
        ),
        ("GITHUB_STATS_BACKFILL__MAX_ATTEMPTS".into(), "20".into()),
    ];
    let (exporter, org, day) = start(&fake, Fault::LinkCall5xx, &env);
    assert_failing(&exporter, &fake, Fault::LinkCall5xx, &org, &day);
    assert_recovered(&exporter, &fake, Fault::LinkCall5xx, &org);
    exporter.stop();
}

/// A day that keeps failing ends in the dead-letter queue after `backfill.max_attempts`,
/// counted under its reason; its series stay absent.
#[test]
fn a_day_that_keeps_failing_is_dead_lettered() {
    let fake = fake(1, 3, 10, |c| c.secondary.burst_max = 0);
    let queue = rabbit_queue(2);
    let (exporter, org, day) = start(&fake, Fault::MalformedFile, &queue.env);
    assert_failing(&exporter, &fake, Fault::MalformedFile, &org, &day);
    poll("the job is dead-lettered", || {
        (replica_sum(
            &exporter,
            "gh_exporter_backfill_dead_lettered_total",
            &[("org", &org), ("reason", REASON)],
        ) >= 1.0)
            .then_some(())
    });
    let m = exporter.metrics();
    assert!(
        served(&m)
            .keys()
            .all(|(_, labels)| !labels.iter().any(|(k, v)| k == "day" && v == &day)),
        "the day's series stay absent"
    );
    assert_eq!(incomplete(&m, &org), Some(1.0), "still incomplete");
    exporter.stop();
    cleanup_blocking(&queue.names);
}

/// The real binary, expired links of the day, RabbitMQ: the same path end to end.
#[test]
fn the_binary_backfills_a_day_whose_links_expired() {
    let fake = fake(1, 3, 10, |c| c.secondary.burst_max = 0);
    let queue = rabbit_queue(20);
    let org = fake.org_names()[0].clone();
    let day = day_name((fake.now() / 86_400.0).floor() as i64 - 1);
    Fault::LinksExpired.set(&fake, &org, &day);
    let base = format!("{}/", fake.base_url());
    let mut env: Vec<(&str, &str)> = vec![
        ("GITHUB_STATS_GITHUB__API_BASE_URL", &base),
        ("GITHUB_STATS_GITHUB__TOKEN", "fake-token"),
        ("GITHUB_STATS_GITHUB__ORGS", &org),
        ("GITHUB_STATS_RATE_LIMIT__REQUESTS_PER_MINUTE", "6000"),
        ("GITHUB_STATS_RETRY__MAX_ATTEMPTS", "2"),
        ("GITHUB_STATS_RETRY__INITIAL_BACKOFF", "20ms"),
        ("GITHUB_STATS_RETRY__MAX_BACKOFF", "200ms"),
        ("GITHUB_STATS_COPILOT__ENABLED", "true"),
        ("GITHUB_STATS_COPILOT__EMIT_DAY_LABEL", "true"),
    ];
    env.extend(queue.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let running = common::Running::start(&env);
    assert_failing(&running, &fake, Fault::LinksExpired, &org, &day);
    assert_recovered(&running, &fake, Fault::LinksExpired, &org);
    let status = running.terminate(Duration::from_secs(15));
    assert!(status.success(), "clean exit: {status}");
    cleanup_blocking(&queue.names);
}

/// With `backfill.enabled=false` the failed day is counted as not queued (reason
/// `copilot_report_failed`) and the report stays marked incomplete, its day absent.
#[test]
fn with_backfill_off_a_failed_day_is_counted_not_queued() {
    let fake = fake(1, 3, 10, |c| c.secondary.burst_max = 0);
    let env = vec![(
        "GITHUB_STATS_BACKFILL__ENABLED".to_string(),
        "false".to_string(),
    )];
    let (exporter, org, day) = start(&fake, Fault::MalformedFile, &env);
    poll("the day is counted as not queued", || {
        (replica_sum(
            &exporter,
            "gh_exporter_backfill_windows_not_queued_total",
            &[("org", &org), ("reason", REASON)],
        ) >= 1.0)
            .then_some(())
    });
    assert!(fake.faults_served().get("malformed").copied().unwrap_or(0) >= 1);
    let m = poll("the report is marked incomplete", || {
        let m = exporter.metrics();
        (incomplete(&m, &org) == Some(1.0)).then_some(m)
    });
    assert!(
        served(&m)
            .keys()
            .all(|(_, labels)| !labels.iter().any(|(k, v)| k == "day" && v == &day)),
        "the day's series are absent"
    );
    exporter.stop();
}
