//! Helpers for the Redis tests: unique namespaces on the shared Redis at 127.0.0.1:6379 (never
//! flushed; each test's keys are deleted afterwards), a private `redis-server` that a test can
//! kill and restart, and sample batches.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use github_stats_exporter::store::redis::{RedisSettings, RedisStore};
use gse_actors::ports::{OrgBatch, Sample};
use secrecy::SecretString;

pub const SHARED_REDIS: &str = "redis://127.0.0.1:6379";

/// A namespace no other test (or run) uses.
pub fn unique_namespace(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("gse-test:{test}:{}:{nanos}", std::process::id())
}

/// Settings for `namespace` on `url` with a long retention and no budget.
pub fn settings(url: &str, namespace: &str) -> RedisSettings {
    RedisSettings::new(
        SecretString::from(url.to_string()),
        namespace,
        Duration::from_secs(3600),
        0,
    )
}

pub fn store(settings: RedisSettings) -> RedisStore {
    RedisStore::new(settings).expect("valid Redis settings")
}

/// Deletes every key of `namespace` on `url` (the tests' cleanup; never FLUSHALL).
pub fn delete_namespace(url: &str, namespace: &str) {
    let Ok(client) = redis::Client::open(url) else {
        return;
    };
    let Ok(mut conn) = client.get_connection() else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{namespace}:*"))
        .query(&mut conn)
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<(), _> = redis::cmd("DEL").arg(&keys).query(&mut conn);
    }
}

/// Deletes the namespace's keys when dropped, even when the test fails.
pub struct Cleanup {
    pub url: String,
    pub namespace: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        delete_namespace(&self.url, &self.namespace);
    }
}

/// One activity sample.
pub fn sample(metric: &str, org: &str, repo: &str, user: &str, value: f64) -> Sample {
    Sample {
        metric: metric.into(),
        labels: vec![
            ("org".into(), org.into()),
            ("repo".into(), repo.into()),
            ("user".into(), user.into()),
        ],
        value,
    }
}

/// A batch of `gh_activity_commits_24h` for `users` (name, value) in repo `r`.
pub fn batch(org: &str, epoch: u64, users: &[(&str, f64)]) -> OrgBatch {
    OrgBatch {
        org: org.into(),
        grant: Some(gse_actors::election::Grant::epoch_only(epoch)),
        shared: Default::default(),
        counter_deltas: Vec::new(),
        samples: users
            .iter()
            .map(|(user, value)| sample("gh_activity_commits_24h", org, "r", user, *value))
            .collect(),
    }
}

/// Text lines of the rendered families (`name{labels} value`), for comparisons.
pub fn lines(families: &[gse_actors::exposition::Family]) -> Vec<String> {
    let text = gse_actors::exposition::render(families, gse_actors::exposition::Format::Text004);
    String::from_utf8(text)
        .expect("utf-8 exposition")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Polls `check` until it returns true, failing after a generous deadline.
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A private `redis-server` on a free port, without persistence, killed on drop.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<Child>,
    dir: PathBuf,
}

impl PrivateRedis {
    pub fn start() -> PrivateRedis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let dir = std::env::temp_dir().join(format!("gse-redis-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut redis = PrivateRedis {
            port,
            child: None,
            dir,
        };
        redis.spawn();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let up = redis::Client::open(self.url())
                .and_then(|c| c.get_connection())
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_ok();
            if up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "private redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (SIGKILL: no shutdown, the data is gone).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (empty: no persistence).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
