//! A backfill job for an org scraped by another replica is settled by a consumer on any
//! replica: the org's owner writes its scrape state (fenced, under its org lease) to the shared
//! Redis, and a `CatchUpWorker` on a replica that runs no scraper for the org reads it there.
//! And an ex-owner whose lease is gone cannot move the cursors any more.

mod redis_common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use gse_actors::backfill::catch_up::CatchUpWorker;
use gse_actors::backfill::job::Reason;
use gse_actors::backfill::{BackfillJob, BackfillWorker};
use gse_actors::election::Grant;
use gse_actors::scrape::log::{state_key, OrgState, RepoLog};
use gse_actors::scrape::port::ScrapeStateStore;
use redis_common::{settings, store, unique_namespace, Cleanup, SHARED_REDIS};

fn state_through(t: f64) -> OrgState {
    let mut state = OrgState {
        last_now: Some(t),
        ..OrgState::default()
    };
    state.repos.insert(
        "widgets".into(),
        RepoLog {
            commits_through: Some(t),
            issues_through: Some(t),
            ..RepoLog::default()
        },
    );
    state
}

#[tokio::test]
async fn a_consumer_on_any_replica_settles_a_job_of_an_org_owned_elsewhere() {
    let namespace = unique_namespace("backfill-any-replica");
    let _cleanup = Cleanup {
        url: SHARED_REDIS.into(),
        namespace: namespace.clone(),
    };
    // The owner holds the org's lease (set as the elector would) and writes under its grant.
    let lease_key = format!("{namespace}:lease:github-stats-exporter-leader:org:acme");
    let value = "7|0123456789abcdef|owner";
    let client = redis::Client::open(SHARED_REDIS).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let _: () = redis::cmd("SET")
        .arg(&lease_key)
        .arg(value)
        .arg("PX")
        .arg(60_000)
        .query_async(&mut conn)
        .await
        .expect("set lease");
    let grant = Grant::leased(7, lease_key.clone().into(), value.into());
    let owner = store(settings(SHARED_REDIS, &namespace));
    owner
        .put_fenced(&state_key("acme"), state_through(1_000.0).encode(), &grant)
        .await
        .expect("the owner's state lands");

    // Another replica: no scraper for the org here, only the shared state.
    let elsewhere = store(settings(SHARED_REDIS, &namespace));
    let worker = CatchUpWorker {
        state: Arc::new(elsewhere),
        scrapers: Arc::new(BTreeMap::new()),
    };
    let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
    let job = BackfillJob::new(
        "acme",
        "widgets",
        (at(1_500), at(2_000)),
        Reason::ActivityCommitsFailed,
        5,
        at(2_001),
    );
    let error = worker
        .process(&job)
        .await
        .expect_err("the owner has not scraped through the window yet");
    assert_eq!(error.class, "not_recovered_yet");

    // The owner's next cycle passes the window: the job settles on this replica.
    owner
        .put_fenced(&state_key("acme"), state_through(2_100.0).encode(), &grant)
        .await
        .expect("the owner's state lands");
    worker
        .process(&job)
        .await
        .expect("recovered by the owner, confirmed elsewhere");

    // The lease moves on: the ex-owner's state write is rejected and the cursors stay.
    let _: () = redis::cmd("SET")
        .arg(&lease_key)
        .arg("8|fedcba9876543210|successor")
        .arg("PX")
        .arg(60_000)
        .query_async(&mut conn)
        .await
        .expect("set lease");
    let rejected = owner
        .put_fenced(&state_key("acme"), state_through(500.0).encode(), &grant)
        .await
        .expect_err("an ex-owner cannot write");
    assert!(rejected.is_stale_lease(), "{rejected}");
    worker
        .process(&job)
        .await
        .expect("the cursors were not moved back");
}
