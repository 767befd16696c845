//! Where Redis is and how to reach it, plus the metric store's own knobs, decoupled from the
//! configuration module: `app/adapters.rs` maps `store.*` keys onto [`RedisSettings`]; tests
//! and benches build it directly.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

/// Where the Redis master is found.
#[derive(Debug, Clone)]
pub enum RedisTopology {
    /// `redis_url` names the server itself.
    Standalone,
    /// The master of `master_set` is asked from these Sentinels (`host:port`); `redis_url`
    /// only supplies the master's credentials, database number and scheme (`rediss://`: TLS).
    Sentinel {
        sentinels: Vec<String>,
        master_set: String,
        auth: SentinelAuth,
    },
}

/// Credentials the Sentinels themselves ask for (`requirepass` / ACL user in sentinel.conf);
/// separate from the master's, which come from `redis_url`.
#[derive(Debug, Clone, Default)]
pub struct SentinelAuth {
    pub username: Option<String>,
    /// Redacted in `Debug`.
    pub password: Option<SecretString>,
}

/// Everything the Redis metric store needs.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://[user:password@]host:port[/db]`; secret because it may carry a password.
    pub url: SecretString,
    pub topology: RedisTopology,
    /// PEM file of the CA(s) that sign the server certificates (`rediss://` only); `None`: the
    /// system roots.
    pub tls_ca_file: Option<PathBuf>,
    /// Prefix of every key (`<namespace>:…`).
    pub namespace: String,
    /// An org not rewritten within this long disappears from every replica.
    pub retention: Duration,
    /// Most series the store holds across all orgs; 0 means unlimited.
    pub max_series_budget: u64,
    /// Timeout of small calls (state reads, commit script, ping).
    pub command_timeout: Duration,
    /// Timeout of bulk calls (staging or reading a generation's chunks).
    pub bulk_timeout: Duration,
    /// Timeout of one TCP connect attempt.
    pub connect_timeout: Duration,
    /// Series per chunk value: bounds the size of one Redis value (≈ 80 B per series).
    pub chunk_series: usize,
    /// How long a superseded generation stays readable for replicas mid-read.
    pub superseded_grace: Duration,
    /// TTL of staged chunks that never get committed (stale epoch, crash between the steps).
    pub staging_ttl: Duration,
    /// How long the ids of applied counter packets are remembered (`<ns>:counter-packets`):
    /// a packet re-sent within this window is added once; one re-sent later would be added
    /// again. Bounds that zset to the packets committed within the window.
    pub counter_packet_window: Duration,
}

impl RedisSettings {
    /// Settings with the defaults used in production for everything but the four inputs.
    pub fn new(
        url: SecretString,
        namespace: impl Into<String>,
        retention: Duration,
        max_series_budget: u64,
    ) -> Self {
        RedisSettings {
            url,
            topology: RedisTopology::Standalone,
            tls_ca_file: None,
            namespace: namespace.into(),
            retention,
            max_series_budget,
            command_timeout: Duration::from_secs(2),
            bulk_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(1),
            chunk_series: 4096,
            superseded_grace: Duration::from_secs(60),
            staging_ttl: Duration::from_secs(300),
            counter_packet_window: Duration::from_secs(24 * 3600),
        }
    }
}
