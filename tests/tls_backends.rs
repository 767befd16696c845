//! `rediss://` and `amqps://` for real: the exporter binary talks to the shared Redis and
//! RabbitMQ through a TLS-terminating proxy whose certificate comes from a throwaway CA made in
//! the test (`tls_support`).
//!
//! Each test first shows that verification is on by default (the system roots do not know the
//! test CA: the proxy sees the client abort the handshake, the replica is not ready and
//! `/healthz` says why), then that the CA file key (`store.redis_tls_ca_file`,
//! `amqp.tls_ca_file`) makes it work end to end.

mod backfill_support;
mod common;
mod election_support;
mod redis_common;
mod scrape_support;
mod tls_support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::Running;
use election_support::{metrics_text, wait_until, Cluster, Replica};
use fake_github::{FakeConfig, FakeGithub};
use github_stats_exporter::queue::dedup_redis::RedisDedup;
use github_stats_exporter::queue::names::QueueNames;
use gse_actors::backfill::port::DedupLocks;
use redis_common::{delete_namespace, settings, unique_namespace, Cleanup, SHARED_REDIS};
use scrape_support::assert_served_truth_after;
use tls_support::{TestCa, TlsProxy};

const WAIT: Duration = Duration::from_secs(30);

/// The alert a rustls client sends when the server's certificate chains to no trusted root,
/// as the proxy's rustls reports it.
const UNKNOWN_CA_ALERT: &str = "UnknownCA";

/// `components.<name>` of a `/healthz` body.
fn component(healthz: &str, name: &str) -> serde_json::Value {
    serde_json::from_str::<serde_json::Value>(healthz)
        .map(|json| json["components"][name].clone())
        .unwrap_or_default()
}

fn healthz_of(replica: &Replica) -> String {
    replica
        .get("/healthz")
        .map(|r| r.text())
        .unwrap_or_default()
}

fn status(response: Option<common::HttpResponse>) -> Option<u16> {
    response.map(|r| r.status)
}

/// Redis over TLS: refused without the CA, then store, lease elector and scrape results all go
/// through TLS with `store.redis_tls_ca_file`.
#[test]
fn rediss_verifies_the_server_and_trusts_the_configured_ca_file() {
    let ca = TestCa::new("gse rediss test CA");
    let proxy = TlsProxy::start("127.0.0.1:6379", ca.server_cert());
    let url = format!("rediss://localhost:{}", proxy.port());
    let cluster = Cluster::with_redis("tls-redis", 2, &url, &[]);
    let namespace = cluster.namespace.clone();

    // Verification is on by default: the system roots do not know the test CA.
    let refusing = cluster.start("tls-redis-no-ca", &[]);
    wait_until(WAIT, "the exporter aborts the TLS handshake", || {
        proxy
            .stats()
            .failures
            .iter()
            .any(|f| f.contains(UNKNOWN_CA_ALERT))
    });
    wait_until(WAIT, "/healthz names the certificate problem", || {
        let store = component(&healthz_of(&refusing), "store");
        store["status"] == "down"
            && store["detail"]
                .as_str()
                .is_some_and(|d| d.contains("UnknownIssuer"))
    });
    assert_eq!(status(refusing.get("/readyz")), Some(503));
    assert_eq!(
        proxy.stats().handshakes,
        0,
        "no TLS session was ever set up"
    );
    drop(refusing);

    // The CA file makes the store, the elector and its pub/sub connection work over TLS.
    let ca_file = ca.pem_path().display().to_string();
    let replica = cluster.start(
        "tls-redis-ca",
        &[("GITHUB_STATS_STORE__REDIS_TLS_CA_FILE", ca_file.as_str())],
    );
    wait_until(WAIT, "the replica wins the lease over TLS", || {
        replica.is_leader()
    });
    wait_until(WAIT, "the replica is ready", || {
        status(replica.get("/readyz")) == Some(200)
    });
    let after = cluster.fake.now();
    assert_served_truth_after(&cluster.fake, after, || metrics_text(&replica));
    assert!(proxy.stats().handshakes > 0, "{:?}", proxy.stats());

    // What it served went through TLS into the shared Redis.
    let client = redis::Client::open(SHARED_REDIS).expect("shared Redis URL");
    let mut conn = client.get_connection().expect("shared Redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{namespace}:*"))
        .query(&mut conn)
        .expect("KEYS");
    assert!(!keys.is_empty(), "nothing was written under {namespace}");

    drop(replica);
    drop(cluster);
    delete_namespace(SHARED_REDIS, &namespace);
}

/// RabbitMQ over TLS: refused without the CA, then connected (topology declared through TLS)
/// with `amqp.tls_ca_file`.
#[test]
fn amqps_verifies_the_server_and_trusts_the_configured_ca_file() {
    let ca = TestCa::new("gse amqps test CA");
    let proxy = TlsProxy::start("127.0.0.1:5672", ca.server_cert());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let prefix = format!("gse-test.tls.{}.{nanos}", std::process::id());
    let names = QueueNames::new(
        &format!("{prefix}.x"),
        &format!("{prefix}.jobs"),
        &format!("{prefix}.dlq"),
        &[Duration::from_secs(60)],
    );
    let mut config = FakeConfig {
        orgs: 1,
        repos: 2,
        users: 2,
        ..FakeConfig::default()
    };
    config.secondary.burst_max = 0;
    let fake = FakeGithub::spawn(config).expect("fake GitHub starts");
    let base = format!("{}/", fake.base_url());
    let orgs = fake.org_names().join(",");
    let amqp_url = format!("amqps://guest:guest@localhost:{}/%2f", proxy.port());
    let env: Vec<(&str, &str)> = vec![
        ("GITHUB_STATS_GITHUB__ORGS", &orgs),
        ("GITHUB_STATS_GITHUB__TOKEN", "fake-token"),
        ("GITHUB_STATS_GITHUB__API_BASE_URL", &base),
        ("GITHUB_STATS_AMQP__URL", &amqp_url),
        ("GITHUB_STATS_AMQP__EXCHANGE", &names.exchange),
        ("GITHUB_STATS_AMQP__QUEUE", &names.work),
        ("GITHUB_STATS_AMQP__DLQ", &names.dlq),
        ("GITHUB_STATS_BACKFILL__REQUEUE_DELAYS", "1m"),
    ];

    // Verification is on by default.
    let mut refusing = Running::start(&env);
    // lapin's client closes the connection without an alert ("handshake eof" at the proxy);
    // its own error, in /healthz below, says why.
    wait_until(WAIT, "the exporter aborts the TLS handshake", || {
        !proxy.stats().failures.is_empty()
    });
    refusing.wait_until("/healthz names the certificate problem", |r| {
        let body = r.get("/healthz").map(|r| r.text()).unwrap_or_default();
        let amqp = component(&body, "amqp");
        amqp["status"] == "down"
            && amqp["detail"]
                .as_str()
                .is_some_and(|d| d.contains("UnknownIssuer"))
    });
    assert_eq!(status(refusing.get("/readyz")), Some(503));
    assert_eq!(
        proxy.stats().handshakes,
        0,
        "no TLS session was ever set up"
    );
    drop(refusing);

    let ca_file = ca.pem_path().display().to_string();
    let mut with_ca = env.clone();
    with_ca.push(("GITHUB_STATS_AMQP__TLS_CA_FILE", &ca_file));
    let mut running = Running::start(&with_ca);
    running.wait_until("the amqp component is up over TLS", |r| {
        let body = r.get("/healthz").map(|r| r.text()).unwrap_or_default();
        component(&body, "amqp")["status"] == "up"
    });
    running.wait_until("the replica is ready", |r| {
        status(r.get("/readyz")) == Some(200)
    });
    assert!(proxy.stats().handshakes > 0, "{:?}", proxy.stats());

    // The topology was declared through the TLS connection: the work queue exists.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let declared = runtime.block_on(async {
        use lapin::options::QueueDeclareOptions;
        let connection = lapin::Connection::connect(
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            lapin::ConnectionProperties::default(),
        )
        .await
        .expect("plain connection to the shared broker");
        let channel = connection.create_channel().await.expect("channel");
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let found = channel
            .queue_declare(
                names.work.as_str().into(),
                passive,
                lapin::types::FieldTable::default(),
            )
            .await
            .is_ok();
        let _ = connection.close(200, "OK".into()).await;
        found
    });
    assert!(declared, "queue {} was not declared", names.work);

    drop(running);
    runtime.block_on(backfill_support::cleanup(&names));
}

/// The backfill dedup table connects with the store's settings, TLS CA included: refused
/// without the CA, working (its lock lands in the shared Redis) with it.
#[actix_rt::test]
async fn the_dedup_table_uses_the_store_tls_settings() {
    let ca = TestCa::new("gse dedup test CA");
    let proxy = TlsProxy::start("127.0.0.1:6379", ca.server_cert());
    let url = format!("rediss://localhost:{}", proxy.port());
    let namespace = unique_namespace("tls-dedup");
    let _cleanup = Cleanup {
        url: SHARED_REDIS.to_string(),
        namespace: namespace.clone(),
    };

    let without_ca = RedisDedup::new(&settings(&url, &namespace)).expect("valid settings");
    let error = without_ca
        .is_held("window")
        .await
        .expect_err("an unknown CA is refused");
    let chain = gse_actors::store::error_chain(&error);
    assert!(chain.contains("UnknownIssuer"), "{chain}");
    assert_eq!(proxy.stats().handshakes, 0);

    let mut with_ca = settings(&url, &namespace);
    with_ca.tls_ca_file = Some(ca.pem_path());
    let dedup = RedisDedup::new(&with_ca).expect("valid settings");
    dedup
        .acquire("window", Duration::from_secs(60))
        .await
        .expect("lock taken over TLS");
    assert!(dedup.is_held("window").await.expect("read over TLS"));
    assert!(proxy.stats().handshakes > 0);
    let client = redis::Client::open(SHARED_REDIS).expect("shared Redis URL");
    let mut conn = client.get_connection().expect("shared Redis");
    let exists: bool = redis::cmd("EXISTS")
        .arg(dedup.key("window"))
        .query(&mut conn)
        .expect("EXISTS");
    assert!(exists, "the lock is in the shared Redis");
}
