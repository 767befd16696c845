//! End to end against the real RabbitMQ and the fake GitHub: a fault on one repository's
//! comments endpoint makes the window fail, a backfill job is queued, its attempts fail and
//! climb the retry tier while the fault lasts, and once the fault clears a consumer recomputes
//! the full 24 h window, stores it, and the stored series equal `/_fake/truth`.
//!
//! **Stand-ins until the scraper is merged:** the worker below is a minimal recompute of
//! `gh_activity_issue_comments_24h` for one repository over the fake's HTTP API (paginated,
//! `since`), written to the real `MemoryStore`; and the test itself plays the scraper's part of
//! turning the failed window into a `BackfillRequest` (the lead wires the ScrapeActor's
//! `EnqueueMissing` to the dispatcher and implements `BackfillWorker` with the scraper).

mod backfill_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::Actor as _;
use backfill_support::{cleanup, counter, unique, url, wait_until, BROKER};
use fake_github::{Clock, FakeConfig, FakeGithub};
use futures::future::BoxFuture;
use github_stats_exporter::queue::names::QueueNames;
use github_stats_exporter::queue::rabbit::RabbitQueue;
use github_stats_exporter::store::memory::MemoryStore;
use gse_actors::backfill::consumer::ConsumerShared;
use gse_actors::backfill::{
    consumer_pool_spec, BackfillDispatcher, BackfillJob, BackfillRequest, BackfillWorker,
    ConsumerSettings, DispatcherSettings, JobError, Reason,
};
use gse_actors::exposition::{self, Format};
use gse_actors::observe::{MemRecorder, MetricsObserver, Observer};
use gse_actors::ports::{MetricStore, OrgBatch, Sample};
use gse_actors::supervisor::{self, Strategy, SupervisorSpec};
use serde_json::Value;

/// The fake's fixed clock: a multiple of the 15 min coalesce bucket, so the queued window ends
/// exactly at "now".
const NOW: u64 = 1_795_000_500;
const _: () = assert!(NOW % 900 == 0);
const DAY: u64 = 86_400;
const TOKEN: &str = "fake-token";

/// Recomputes one repository's `gh_activity_issue_comments_24h` for the 24 h window ending at
/// the job's window end (capped at the fake's now) and stores it.
struct CommentsWorker {
    client: reqwest::Client,
    base: String,
    store: Arc<MemoryStore>,
}

fn rfc3339(unix: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(unix)).to_string()
}

fn next_link(link: Option<&str>) -> Option<String> {
    link?.split(", ").find_map(|part| {
        let (url, rel) = part.split_once("; ")?;
        (rel == "rel=\"next\"").then(|| {
            url.trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

async fn recompute(
    client: reqwest::Client,
    base: String,
    store: Arc<MemoryStore>,
    job: BackfillJob,
) -> Result<(), JobError> {
    let end = job
        .window_end
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .min(NOW);
    let start = end - DAY;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut next = Some(format!(
        "{base}/repos/{}/{}/issues/comments?since={}&per_page=100",
        job.org,
        job.repo,
        rfc3339(start)
    ));
    while let Some(page_url) = next {
        let response = client
            .get(&page_url)
            .header("authorization", format!("Bearer {TOKEN}"))
            .send()
            .await
            .map_err(|e| JobError::new("transport", e.to_string()))?;
        if !response.status().is_success() {
            return Err(JobError::new(
                "github_5xx",
                format!("GET {page_url}: {}", response.status()),
            ));
        }
        next = next_link(response.headers().get("link").and_then(|v| v.to_str().ok()));
        let page: Vec<Value> = response
            .json()
            .await
            .map_err(|e| JobError::new("decode", e.to_string()))?;
        for comment in page {
            let created = comment["created_at"]
                .as_str()
                .and_then(|t| humantime::parse_rfc3339_weak(t).ok());
            let created = created
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs());
            if created.is_some_and(|t| t >= start && t <= end) {
                let user = comment["user"]["login"]
                    .as_str()
                    .unwrap_or("ghost")
                    .to_string();
                *counts.entry(user).or_default() += 1;
            }
        }
    }
    let samples = counts
        .into_iter()
        .map(|(user, value)| Sample {
            metric: "gh_activity_issue_comments_24h".into(),
            labels: vec![
                ("org".into(), job.org.clone()),
                ("repo".into(), job.repo.clone()),
                ("user".into(), user),
            ],
            value: value as f64,
        })
        .collect();
    store
        .write_org_batch(OrgBatch {
            org: job.org.clone(),
            grant: Some(gse_actors::roles::Grant::epoch_only(1)),
            counter_deltas: Vec::new(),
            samples,
        })
        .await
        .map_err(|e| JobError::new("store", e.to_string()))
}

impl BackfillWorker for CommentsWorker {
    fn process(&self, job: &BackfillJob) -> BoxFuture<'static, Result<(), JobError>> {
        Box::pin(recompute(
            self.client.clone(),
            self.base.clone(),
            self.store.clone(),
            job.clone(),
        ))
    }
}

async fn fake_control(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Value {
    let mut request = client.request(method, &url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the fake answers");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    response.json().await.unwrap_or(Value::Null)
}

/// Fault on one repo's comments → the window fails → backfill job → retries while the fault
/// lasts → fault cleared → the consumer recovers the window → stored series equal the truth.
#[actix_rt::test]
async fn comments_fault_is_backfilled_and_matches_the_truth() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let fake = FakeGithub::spawn(FakeConfig {
        clock: Clock::Fixed(NOW as f64),
        ..FakeConfig::default()
    })
    .expect("the fake starts");
    let base = fake.base_url();
    let org = fake.org_names()[0].clone();
    let truth = fake_control(
        &client,
        reqwest::Method::GET,
        format!("{base}/_fake/truth?at={NOW}"),
        None,
    )
    .await;
    // The repository with the most comment series, so the comparison is not trivially empty.
    let mut per_repo: BTreeMap<String, usize> = BTreeMap::new();
    for s in truth["series"].as_array().expect("series") {
        if s["metric"] == "gh_activity_issue_comments_24h" {
            *per_repo
                .entry(s["repo"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let repo = per_repo
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(r, _)| r.clone())
        .expect("a repo with comments");
    let expected: Vec<String> = truth["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["metric"] == "gh_activity_issue_comments_24h" && s["repo"] == repo.as_str())
        .map(|s| {
            format!(
                r#"gh_activity_issue_comments_24h{{org="{org}",repo="{repo}",user="{}"}} {}"#,
                s["user"].as_str().unwrap(),
                s["value"]
            )
        })
        .collect();

    fake_control(
        &client,
        reqwest::Method::POST,
        format!("{base}/_fake/faults"),
        Some(serde_json::json!({"path_regex": format!("^/repos/{org}/{repo}/issues/comments$"), "status": 502})),
    )
    .await;

    let store = Arc::new(MemoryStore::new());
    let worker = Arc::new(CommentsWorker {
        client: client.clone(),
        base: base.clone(),
        store: store.clone(),
    });
    let names = QueueNames::new(
        &format!("{}.ex", unique("e2e")),
        &unique("e2e-jobs"),
        &unique("e2e-dlq"),
        &[Duration::from_millis(200)],
    );
    let rabbit = RabbitQueue::new(url(BROKER).into(), names.clone());
    let recorder = Arc::new(MemRecorder::new());
    let observer: Arc<dyn Observer> = Arc::new(MetricsObserver::new(recorder.clone()));
    let shared = ConsumerShared::new(
        Arc::new(rabbit.clone()),
        worker.clone(),
        observer.clone(),
        recorder.clone(),
        ConsumerSettings {
            consumer_count: 2,
            prefetch: 2,
            max_message_age: Duration::from_secs(3600 * 24 * 365 * 30),
        },
    );
    let root = supervisor::start(
        SupervisorSpec::new("root", Strategy::RestForOne)
            .observer(observer)
            .child(rabbit.connection_child(None))
            .child(consumer_pool_spec(shared)),
    );
    let dispatcher = BackfillDispatcher::new(
        DispatcherSettings::new(Duration::from_secs(900), Duration::from_secs(3600), 100, 50),
        Arc::new(rabbit.clone()),
        recorder.clone(),
    )
    .start();
    backfill_support::wait_connected(&rabbit).await;

    // The scraper's part: the comments window of this repo fails, so it is sent to backfill.
    let window_start = UNIX_EPOCH + Duration::from_secs(NOW - DAY);
    let window_end = UNIX_EPOCH + Duration::from_secs(NOW);
    let scrape = BackfillJob::new(
        &org,
        &repo,
        (window_start, window_end),
        Reason::ActivityIssueCommentsFailed,
        1,
        SystemTime::now(),
    );
    let failure = worker
        .process(&scrape)
        .await
        .expect_err("the faulted endpoint fails");
    assert_eq!(failure.class, "github_5xx");
    dispatcher
        .send(BackfillRequest {
            org: org.clone(),
            repo: repo.clone(),
            window_start,
            window_end,
            reason: Reason::ActivityIssueCommentsFailed,
        })
        .await
        .unwrap();

    let labels = [
        ("org", org.as_str()),
        ("reason", "activity_issue_comments_failed"),
    ];
    wait_until("the job is enqueued", Duration::from_secs(30), || {
        counter(&recorder, "gh_exporter_backfill_jobs_enqueued", &labels) == 1
    })
    .await;
    wait_until(
        "attempts fail and are retried while the fault lasts",
        Duration::from_secs(30),
        || {
            counter(
                &recorder,
                "gh_exporter_backfill_jobs_retried",
                &[("error_class", "github_5xx")],
            ) >= 2
        },
    )
    .await;
    fake_control(
        &client,
        reqwest::Method::DELETE,
        format!("{base}/_fake/faults"),
        None,
    )
    .await;

    let success = [("org", org.as_str()), ("result", "success")];
    wait_until(
        "a consumer recovers the window",
        Duration::from_secs(30),
        || counter(&recorder, "gh_exporter_backfill_jobs_processed", &success) == 1,
    )
    .await;
    let snapshot = store
        .load_if_changed(0)
        .await
        .expect("store readable")
        .expect("store written");
    let text = String::from_utf8(exposition::render(&snapshot.families, Format::Text004)).unwrap();
    let stored: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("gh_activity_issue_comments_24h{"))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(
        stored,
        expected.iter().map(String::as_str).collect::<Vec<_>>(),
        "stored series equal /_fake/truth"
    );

    root.shutdown(Duration::from_secs(10)).await;
    cleanup(&names).await;
    fake.stop();
}
