//! What the Redis elector needs ([`ElectorSettings`]: where Redis is, the key namespace, this
//! member's identity, the lease timings) and why it could not be built ([`ElectorSetupError`]).

use std::path::PathBuf;
use std::time::Duration;

use redis::RedisError;
use secrecy::SecretString;

use crate::redis::RedisTopology;

/// Upper bound of every call's deadline (the lower one is `retry_period`).
pub const MAX_CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// What the Redis elector needs.
#[derive(Debug, Clone)]
pub struct ElectorSettings {
    /// `redis://[user:password@]host:port[/db]`; secret because it may carry a password. With
    /// Sentinel it only supplies credentials and the database number.
    pub url: SecretString,
    pub topology: RedisTopology,
    /// `store.redis_tls_ca_file`: the same TLS roots as the metric store.
    pub tls_ca_file: Option<PathBuf>,
    /// Prefix of every key (`<namespace>:…`): the metric store's namespace, so the store's
    /// commit script finds the lease keys.
    pub namespace: String,
    /// `leader_election.lease_name`.
    pub lease_name: String,
    /// This replica's name among the members (unique per live process).
    pub identity: String,
    /// A lease lives this long without renewal; a member this long without heartbeat is gone.
    pub lease_duration: Duration,
    /// Renew/heartbeat period; bounds every call's deadline (`min(retry_period, 1 s)`).
    pub retry_period: Duration,
    /// [`gse_actors::election::assign::fingerprint`] of the configured org list.
    pub orgs_fingerprint: String,
}

impl ElectorSettings {
    /// Settings with client-go's timings (15 s lease, 2 s retry period), standalone Redis and
    /// an empty org fingerprint.
    pub fn new(
        url: SecretString,
        namespace: impl Into<String>,
        lease_name: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        ElectorSettings {
            url,
            topology: RedisTopology::Standalone,
            tls_ca_file: None,
            namespace: namespace.into(),
            lease_name: lease_name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            retry_period: Duration::from_secs(2),
            orgs_fingerprint: String::new(),
        }
    }

    /// The deadline of every call: `min(retry_period, 1 s)`.
    pub fn call_timeout(&self) -> Duration {
        self.retry_period.min(MAX_CALL_TIMEOUT)
    }
}

/// Why the elector could not be built (malformed settings; nothing connects yet).
#[derive(Debug, thiserror::Error)]
pub enum ElectorSetupError {
    #[error("invalid leader election settings: {0}")]
    Invalid(&'static str),
    #[error("invalid Redis connection settings for leader election")]
    Redis(#[source] RedisError),
}
