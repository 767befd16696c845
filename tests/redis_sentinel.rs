//! Redis Sentinel for real: a private master, a replica and a Sentinel (`redis-server
//! --sentinel`, which is what Debian's `redis-sentinel` runs) that requires a password, on free
//! ports in temp dirs. The exporter binary finds the master through the Sentinel (store, lease
//! elector and its pub/sub), the master is failed over — demoted by `SENTINEL FAILOVER`, or
//! killed — and the exporter follows: the Sentinel first reports the new master, then a cycle
//! that started after the failover is committed on the promoted master (read there directly,
//! not through the exporter) and equals the fake's truth, the replica serves it, and it is
//! ready again.

mod common;
mod election_support;
mod redis_common;
mod scrape_support;
mod tls_support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use election_support::{metrics_text, wait_until, Cluster};
use github_stats_exporter::queue::dedup_redis::RedisDedup;
use github_stats_exporter::store::redis::{RedisTopology, SentinelAuth};
use gse_actors::backfill::port::DedupLocks;
use redis_common::{settings, unique_namespace};
use scrape_support::assert_served_truth_after;
use tls_support::TestCa;

const MASTER_SET: &str = "gse-test";
const SENTINEL_PASSWORD: &str = "sentinel-s3cret";
const WAIT: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A `redis-server` (or Sentinel) process, killed on drop.
struct Server {
    port: u16,
    child: Child,
}

impl Server {
    fn spawn(dir: &Path, port: u16, args: &[&str]) -> Server {
        let child = Command::new("redis-server")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        Server { port, child }
    }

    /// A data node without persistence, optionally replicating `master`.
    fn data(dir: &Path, master: Option<u16>) -> Server {
        let port = free_port();
        let port_text = port.to_string();
        let mut args = vec![
            "--port",
            port_text.as_str(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ];
        let master_text = master.map(|m| m.to_string());
        if let Some(master) = &master_text {
            args.extend(["--replicaof", "127.0.0.1", master.as_str()]);
        }
        let server = Server::spawn(dir, port, &args);
        wait_until(Duration::from_secs(10), "redis-server answers", || {
            query::<String>(port, None, &["PING"]).is_ok()
        });
        server
    }

    /// A Sentinel watching `master` with quorum 1, requiring [`SENTINEL_PASSWORD`].
    fn sentinel(dir: &Path, master: u16) -> Server {
        let port = free_port();
        let conf = dir.join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {dir}\nrequirepass {SENTINEL_PASSWORD}\n\
                 sentinel monitor {MASTER_SET} 127.0.0.1 {master} 1\n\
                 sentinel down-after-milliseconds {MASTER_SET} 1000\n\
                 sentinel failover-timeout {MASTER_SET} 10000\n",
                dir = dir.display()
            ),
        )
        .expect("write sentinel.conf");
        let conf_text = conf.display().to_string();
        let server = Server::spawn(dir, port, &[conf_text.as_str(), "--sentinel"]);
        wait_until(Duration::from_secs(10), "the Sentinel answers", || {
            query::<String>(port, Some(SENTINEL_PASSWORD), &["PING"]).is_ok()
        });
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One command on a fresh connection to `127.0.0.1:port` (with `AUTH password` first).
fn query<T: redis::FromRedisValue>(
    port: u16,
    password: Option<&str>,
    command: &[&str],
) -> redis::RedisResult<T> {
    let url = match password {
        Some(password) => format!("redis://:{password}@127.0.0.1:{port}"),
        None => format!("redis://127.0.0.1:{port}"),
    };
    let client = redis::Client::open(url)?;
    let mut conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut cmd = redis::cmd(command[0]);
    for arg in &command[1..] {
        cmd.arg(*arg);
    }
    cmd.query(&mut conn)
}

/// The master's port as the Sentinel reports it.
fn master_port(sentinel: u16) -> Option<u16> {
    let addr: Vec<String> = query(
        sentinel,
        Some(SENTINEL_PASSWORD),
        &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_SET],
    )
    .ok()?;
    addr.get(1)?.parse().ok()
}

/// `field:value` of `INFO replication` on `port`.
fn replication_field(port: u16, field: &str) -> Option<String> {
    let info: String = query(port, None, &["INFO", "replication"]).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// The Sentinel knows `replica` as a healthy replica (a failover can pick it).
fn sentinel_sees_replica(sentinel: u16, replica: u16) -> bool {
    let Ok(replicas) = query::<Vec<Vec<String>>>(
        sentinel,
        Some(SENTINEL_PASSWORD),
        &["SENTINEL", "REPLICAS", MASTER_SET],
    ) else {
        return false;
    };
    replicas.iter().any(|fields| {
        let get = |name: &str| {
            fields
                .chunks(2)
                .find(|kv| kv[0] == name)
                .map(|kv| kv[1].as_str())
        };
        get("port") == Some(replica.to_string().as_str())
            && get("flags") == Some("slave")
            && get("master-link-status") == Some("ok")
    })
}

/// How the master is failed over.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Failover {
    /// `SENTINEL FAILOVER`: the old master is demoted to a replica (writes get `READONLY`).
    Command,
    /// SIGKILL: the Sentinel notices it down and promotes the replica (connections break).
    KillMaster,
}

/// `SENTINEL FAILOVER`: the exporter's next cycles are committed on the promoted master.
/// (Redis replicates asynchronously, so a batch committed on the old master just before its
/// demotion may be lost; the test does not claim otherwise: it checks the cycles after.)
#[test]
fn exporter_commits_to_the_promoted_master_after_a_sentinel_failover() {
    run_failover(Failover::Command);
}

/// The master killed: the exporter's next cycles are committed on the promoted master.
#[test]
fn exporter_follows_the_sentinel_when_the_master_dies() {
    run_failover(Failover::KillMaster);
}

/// The store as committed on the Redis at `port` (read directly with the product's own
/// reader, not through the exporter), rendered as Prometheus text; "" while unreadable.
fn committed_on(port: u16, namespace: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        use gse_actors::ports::MetricStore;
        let store = redis_common::store(redis_common::settings(
            &format!("redis://127.0.0.1:{port}/0"),
            namespace,
        ));
        match store.load_if_changed(0).await {
            Ok(Some(snapshot)) => redis_common::lines(&snapshot.families).join("\n"),
            _ => String::new(),
        }
    })
}

fn run_failover(failover: Failover) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut master = Server::data(dir.path(), None);
    let replica = Server::data(dir.path(), Some(master.port));
    let sentinel = Server::sentinel(dir.path(), master.port);
    wait_until(WAIT, "the Sentinel sees a healthy replica", || {
        sentinel_sees_replica(sentinel.port, replica.port)
    });

    let sentinel_addr = format!("127.0.0.1:{}", sentinel.port);
    // The URL's host is never used in sentinel mode (a port nothing listens on proves it).
    let cluster = Cluster::with_redis(
        "sentinel",
        2,
        "redis://127.0.0.1:1/0",
        &[
            ("GITHUB_STATS_STORE__REDIS_MODE", "sentinel"),
            ("GITHUB_STATS_STORE__REDIS_SENTINEL_ADDRS", &sentinel_addr),
            ("GITHUB_STATS_STORE__REDIS_MASTER_SET", MASTER_SET),
        ],
    );

    // Without the Sentinel's password nothing works, and /healthz says why.
    let no_auth = cluster.start("sentinel-no-auth", &[]);
    wait_until(WAIT, "/healthz reports the Sentinel's auth refusal", || {
        no_auth
            .get("/healthz")
            .map(|r| r.text())
            .is_some_and(|body| body.contains("NOAUTH"))
    });
    assert_eq!(no_auth.get("/readyz").map(|r| r.status), Some(503));
    drop(no_auth);

    let exporter = cluster.start(
        "sentinel-auth",
        &[(
            "GITHUB_STATS_STORE__REDIS_SENTINEL_PASSWORD",
            SENTINEL_PASSWORD,
        )],
    );
    wait_until(WAIT, "the replica leads through the Sentinel", || {
        exporter.is_leader()
    });
    wait_until(WAIT, "the replica is ready", || {
        exporter.get("/readyz").map(|r| r.status) == Some(200)
    });
    let before = cluster.fake.now();
    assert_served_truth_after(&cluster.fake, before, || metrics_text(&exporter));

    // Fail over and prove it happened before looking at the exporter.
    match failover {
        Failover::Command => wait_until(WAIT, "the Sentinel accepts the failover", || {
            query::<String>(
                sentinel.port,
                Some(SENTINEL_PASSWORD),
                &["SENTINEL", "FAILOVER", MASTER_SET],
            )
            .is_ok()
        }),
        Failover::KillMaster => {
            let _ = master.child.kill();
            let _ = master.child.wait();
            Duration::ZERO
        }
    };
    wait_until(WAIT, "the Sentinel names the replica as master", || {
        master_port(sentinel.port) == Some(replica.port)
    });
    wait_until(WAIT, "the promoted replica is master", || {
        replication_field(replica.port, "role").as_deref() == Some("master")
    });
    if failover == Failover::Command {
        wait_until(WAIT, "the old master is demoted to a replica", || {
            replication_field(master.port, "role").as_deref() == Some("slave")
        });
    }

    // Every org's cycle that started after the failover is committed on the promoted master
    // and equals the truth at its window end. Read on that master directly: a window end at or
    // after `after` can only come from a batch the exporter wrote after the failover (the old
    // master refuses writes or is gone), and the data written before it, which the replica
    // already held, ends earlier. Fails if the exporter never finds the new master through the
    // Sentinel, or its writes do not land there.
    let after = cluster.fake.now();
    assert_served_truth_after(&cluster.fake, after, || {
        committed_on(replica.port, &cluster.namespace)
    });
    // And the exporter serves such a cycle (its reader follows the Sentinel too).
    assert_served_truth_after(&cluster.fake, after, || metrics_text(&exporter));
    wait_until(WAIT, "the replica is ready after the failover", || {
        exporter.get("/readyz").map(|r| r.status) == Some(200)
    });
    assert!(exporter.is_leader(), "the replica leads again");
}

/// A TLS-only master and a TLS-only, password-protected Sentinel with certificates of a
/// private CA: a `rediss://` URL with `tls_ca_file` reaches both (here through the backfill
/// dedup table, built like every other Redis connection); without the CA file the Sentinel's
/// certificate is refused.
#[actix_rt::test]
async fn sentinel_and_master_over_tls_with_a_private_ca() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("gse sentinel TLS test CA");
    let (cert, key) = ca.server_cert_files("redis");
    let (cert, key, ca_pem) = (
        cert.display().to_string(),
        key.display().to_string(),
        ca.pem_path().display().to_string(),
    );
    let tls_args = |port: &str| -> Vec<String> {
        [
            "--port",
            "0",
            "--tls-port",
            port,
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca_pem,
            "--tls-auth-clients",
            "no",
            "--tls-replication",
            "yes",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let tls_client = |port: u16, password: Option<&str>| {
        let auth = password.map(|p| format!(":{p}@")).unwrap_or_default();
        let certificates = redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(std::fs::read(ca.pem_path()).expect("CA PEM")),
        };
        redis::Client::build_with_tls(format!("rediss://{auth}127.0.0.1:{port}"), certificates)
            .expect("TLS client")
    };
    let ping = |client: &redis::Client| {
        client
            .get_connection_with_timeout(Duration::from_secs(2))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok()
    };

    let master_port = free_port();
    let master_args = tls_args(&master_port.to_string());
    let mut args: Vec<&str> = master_args.iter().map(String::as_str).collect();
    args.extend(["--save", "", "--appendonly", "no"]);
    let _master = Server::spawn(dir.path(), master_port, &args);
    let master_client = tls_client(master_port, None);
    wait_until(Duration::from_secs(10), "the TLS master answers", || {
        ping(&master_client)
    });

    let sentinel_port = free_port();
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port 0\ntls-port {sentinel_port}\nbind 127.0.0.1\ndir {dir}\n\
             tls-cert-file {cert}\ntls-key-file {key}\ntls-ca-cert-file {ca_pem}\n\
             tls-auth-clients no\ntls-replication yes\nrequirepass {SENTINEL_PASSWORD}\n\
             sentinel monitor {MASTER_SET} 127.0.0.1 {master_port} 1\n",
            dir = dir.path().display()
        ),
    )
    .expect("write sentinel.conf");
    let conf_text = conf.display().to_string();
    let _sentinel = Server::spawn(
        dir.path(),
        sentinel_port,
        &[conf_text.as_str(), "--sentinel"],
    );
    let sentinel_client = tls_client(sentinel_port, Some(SENTINEL_PASSWORD));
    wait_until(Duration::from_secs(10), "the TLS Sentinel answers", || {
        ping(&sentinel_client)
    });

    let namespace = unique_namespace("sentinel-tls");
    let sentinel_settings = |tls_ca_file: Option<std::path::PathBuf>| {
        let mut s = settings("rediss://unused:1/0", &namespace);
        s.topology = RedisTopology::Sentinel {
            sentinels: vec![format!("127.0.0.1:{sentinel_port}")],
            master_set: MASTER_SET.to_string(),
            auth: SentinelAuth {
                username: None,
                password: Some(SENTINEL_PASSWORD.to_string().into()),
            },
        };
        s.tls_ca_file = tls_ca_file;
        s
    };

    let refused = RedisDedup::new(&sentinel_settings(None)).expect("valid settings");
    let error = refused
        .is_held("window")
        .await
        .expect_err("the Sentinel's certificate is not trusted without the CA file");
    let chain = gse_actors::store::error_chain(&error);
    assert!(chain.contains("UnknownIssuer"), "{chain}");

    let dedup = RedisDedup::new(&sentinel_settings(Some(ca.pem_path()))).expect("valid settings");
    dedup
        .acquire("window", Duration::from_secs(60))
        .await
        .expect("lock taken on the master the Sentinel named, over TLS");
    assert!(dedup.is_held("window").await.expect("read over TLS"));
    let mut conn = master_client.get_connection().expect("TLS master");
    let exists: bool = redis::cmd("EXISTS")
        .arg(dedup.key("window"))
        .query(&mut conn)
        .expect("EXISTS");
    assert!(exists, "the lock is on the TLS master");
}
