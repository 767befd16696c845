//! The typed, validated configuration the rest of the program reads. Nothing here parses or
//! validates; `extract` builds these values (checking each key's own constraint) and
//! `validate` checks the rules between them.
//!
//! Secrets are `SecretString` (Debug prints `[REDACTED]`) and URLs that may carry a password
//! are [`SecretUrl`], so `{:?}` of a whole [`Config`] is safe to log.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// The whole configuration, one field per section of config/default.toml.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub github: GithubConfig,
    pub rate_limit: RateLimitConfig,
    pub retry: RetryConfig,
    pub loc: LocConfig,
    pub backfill: BackfillConfig,
    pub amqp: AmqpConfig,
    pub store: StoreConfig,
    pub leader_election: LeaderElectionConfig,
    pub copilot: CopilotConfig,
    pub telemetry: TelemetryConfig,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen_addr: SocketAddr,
    pub log_level: LogLevel,
    pub log_format: LogFormat,
    /// Upper bound for a graceful stop after SIGTERM/SIGINT.
    pub shutdown_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct GithubConfig {
    /// Always ends in `/`, so `api_base_url.join("orgs/x")` keeps a GHES `/api/v3` prefix.
    pub api_base_url: Url,
    pub request_timeout: Duration,
    /// Longest response body read from GitHub; a longer one fails that call.
    pub max_response_bytes: u64,
    /// Bytes of response bodies being read at once, across every org; a read that would pass
    /// it fails (retried).
    pub max_response_bytes_in_flight: u64,
    /// Most pages followed in one listing; a longer listing fails.
    pub max_pages_per_listing: u32,
    /// Allows a credential over plain `http://` to a host that is not loopback.
    pub allow_insecure_http: bool,
    pub unhealthy_failure_threshold: u32,
    pub unhealthy_cooldown: Duration,
    pub recover_success_threshold: u32,
    /// Personal access token; exactly one of this or App auth is configured.
    pub token: Option<SecretString>,
    pub app_id: Option<u64>,
    pub private_key_path: Option<PathBuf>,
    pub installation_id: Option<u64>,
    /// At least one, names unique (case-insensitively, as GitHub logins are).
    pub orgs: Vec<OrgConfig>,
    /// What orgs inherit; each [`OrgConfig::scrape_interval`] is already resolved.
    pub scrape_interval: Duration,
    pub exclude_bots: bool,
}

#[derive(Debug, Clone)]
pub struct OrgConfig {
    pub org: String,
    pub app_id: Option<u64>,
    pub installation_id: Option<u64>,
    pub private_key_path: Option<PathBuf>,
    pub token: Option<SecretString>,
    /// The org's own value, or `github.scrape_interval` when it has none.
    pub scrape_interval: Duration,
    pub repo_allowlist: Vec<glob::Pattern>,
    pub repo_denylist: Vec<glob::Pattern>,
    pub per_org_concurrency: u32,
    pub include_archived: bool,
    pub include_forks: bool,
}

#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    pub min_remaining_threshold: u32,
    pub min_reset_buffer: Duration,
    pub secondary_limit_backoff: Duration,
    /// Proactive pacing per credential; 0 turns it off.
    pub requests_per_minute: u32,
    /// With Redis configured, one budget per credential for the whole cluster.
    pub shared: bool,
}

#[derive(Debug, Clone)]
pub struct RetryConfig {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub jitter: bool,
}

#[derive(Debug, Clone)]
pub struct LocConfig {
    pub refresh_interval: Duration,
    pub stats_poll_attempts: u32,
    pub fallback_enabled: bool,
    pub fallback_max_commits_per_repo_per_week: u32,
    pub fallback_max_commit_detail_calls_per_org_per_hour: u32,
    pub large_repo_zero_detection_windows: u32,
    pub large_repo_cooldown: Duration,
}

#[derive(Debug, Clone)]
pub struct BackfillConfig {
    pub enabled: bool,
    pub max_attempts: u32,
    pub max_message_age: Duration,
    pub consumer_count: u32,
    pub prefetch: u32,
    /// Non-empty and strictly increasing.
    pub requeue_delays: Vec<Duration>,
    pub coalesce_window: Duration,
    pub dedup_ttl: Duration,
    pub max_enqueues_per_org_per_minute: u32,
    /// Jobs the in-memory queue holds (outside its dead letters).
    pub memory_queue_capacity: u32,
    /// Jobs the dispatcher's outage buffer holds, and its job stash.
    pub buffer_capacity: u32,
}

#[derive(Debug, Clone)]
pub struct AmqpConfig {
    /// `None` means the in-memory queue.
    pub url: Option<SecretUrl>,
    pub exchange: String,
    pub queue: String,
    pub dlq: String,
    /// PEM CA bundle for `amqps://` (instead of the system roots).
    pub tls_ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `None` means the in-memory store.
    pub redis_url: Option<SecretUrl>,
    pub redis_mode: RedisMode,
    pub redis_sentinel_addrs: Vec<String>,
    pub redis_master_set: Option<String>,
    /// Credentials the Sentinels themselves require (sentinel mode only).
    pub redis_sentinel_username: Option<String>,
    pub redis_sentinel_password: Option<SecretString>,
    /// PEM CA bundle for `rediss://` (instead of the system roots).
    pub redis_tls_ca_file: Option<PathBuf>,
    pub namespace: String,
    pub retention: Duration,
    /// How often the store actor refreshes the `/metrics` snapshot.
    pub metric_refresh_interval: Duration,
    pub max_series_budget: u64,
}

#[derive(Debug, Clone)]
pub struct LeaderElectionConfig {
    pub enabled: bool,
    /// The role when election is disabled.
    pub static_role: StaticRole,
    pub backend: ElectionBackend,
    /// `kubernetes` backend: the namespace of the Leases (`None`: the pod's, from its service
    /// account, or the kubeconfig context's).
    pub namespace: Option<String>,
    pub lease_name: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
    /// Lease holder name; defaults to the host name.
    pub identity: String,
    /// One lease for the whole exporter, or one lease per org.
    pub mode: ElectionMode,
    /// `per_org`: how long the org assignment waits after the set of live replicas changed
    /// before moving orgs (at least `retry_period`).
    pub rebalance_delay: Duration,
    /// `per_org`: most orgs one replica holds; 0 means no cap. An org beyond every replica's
    /// cap stays unscraped until a replica has room.
    pub max_orgs_per_replica: u32,
}

#[derive(Debug, Clone)]
pub struct CopilotConfig {
    pub enabled: bool,
    pub scrape_interval: Duration,
    pub request_timeout: Duration,
    pub download_timeout: Duration,
    pub include_org_28d: bool,
    pub include_org_users_28d: bool,
    pub include_enterprise_28d: bool,
    pub include_enterprise_users_28d: bool,
    pub include_breakdown_ide: bool,
    pub include_breakdown_feature: bool,
    pub include_breakdown_language: bool,
    pub include_breakdown_model: bool,
    pub include_pull_request_activity: bool,
    /// `copilot.include_seats`: the org seat listing (`gh_copilot_seats`).
    pub include_seats: bool,
    pub user_label_mode: UserLabelMode,
    /// `copilot.user_label_salt`: the salt of `user_label_mode=hashed` (secret).
    pub user_label_salt: Option<SecretString>,
    /// `copilot.max_label_values`: open label values kept per dimension before `other`.
    pub max_label_values: u32,
    pub emit_day_label: bool,
    /// 0 means unlimited.
    pub max_records_per_report: u64,
    /// 0 means unlimited.
    pub max_users_per_report: u64,
    pub refresh_if_report_unchanged: bool,
    pub enterprise: CopilotEnterpriseConfig,
}

#[derive(Debug, Clone)]
pub struct CopilotEnterpriseConfig {
    pub enabled: bool,
    pub slug: Option<String>,
    pub app_id: Option<u64>,
    pub installation_id: Option<u64>,
    pub private_key_path: Option<PathBuf>,
}

/// `telemetry.*`: OpenTelemetry traces over OTLP/HTTP.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    pub otel_enabled: bool,
    /// The OTLP/HTTP traces URL (ending in `/v1/traces`): `telemetry.otel_exporter_otlp_endpoint`,
    /// else `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given, else `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// with `/v1/traces` appended. May carry credentials, hence a [`SecretUrl`].
    pub endpoint: Option<SecretUrl>,
    pub trace_mode: TraceMode,
    /// Share of traces kept by `sampled` and, for traces without an error, by `errors`.
    pub sample_ratio: f64,
    pub service_name: String,
}

/// A URL that may carry a password: the full text is a secret, `Debug`/`Display` show it with
/// the password replaced.
#[derive(Clone)]
pub struct SecretUrl {
    full: SecretString,
    redacted: Url,
}

impl SecretUrl {
    /// Wraps a parsed URL, keeping the full text only inside a `SecretString`.
    pub fn new(url: Url) -> Self {
        let mut redacted = url.clone();
        if redacted.password().is_some() {
            // Cannot fail: a URL that has a password accepts another one.
            let _ = redacted.set_password(Some("REDACTED"));
        }
        Self {
            full: SecretString::from(url.to_string()),
            redacted,
        }
    }

    /// The URL with its password, for the client that connects. Never log it.
    pub fn expose_secret(&self) -> &str {
        self.full.expose_secret()
    }

    /// The URL with the password replaced, safe to log.
    pub fn redacted(&self) -> &Url {
        &self.redacted
    }

    pub fn scheme(&self) -> &str {
        self.redacted.scheme()
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({})", self.redacted)
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.redacted)
    }
}

/// Declares a config enum with its accepted (lower-case) names, parsed case-insensitively.
macro_rules! config_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Accepted names, for error messages and docs.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

config_enum!(
    /// `server.log_level`.
    LogLevel { Trace => "trace", Debug => "debug", Info => "info", Warn => "warn", Error => "error" }
);
config_enum!(
    /// `server.log_format`.
    LogFormat { Json => "json", Text => "text" }
);
config_enum!(
    /// `store.redis_mode`.
    RedisMode { Standalone => "standalone", Sentinel => "sentinel" }
);
config_enum!(
    /// `leader_election.static_role`: the role when election is disabled.
    StaticRole { Leader => "leader", Follower => "follower" }
);
config_enum!(
    /// `leader_election.backend`.
    ElectionBackend { Redis => "redis", Kubernetes => "kubernetes" }
);
config_enum!(
    /// `leader_election.mode`: `single` elects one leader that scrapes every org; `per_org`
    /// elects a holder per org and spreads the orgs over the live replicas.
    ElectionMode { Single => "single", PerOrg => "per_org" }
);
config_enum!(
    /// `telemetry.otel_trace_mode`: `off` records no span; `detailed` keeps every trace;
    /// `sampled` keeps the share `otel_trace_sample_ratio` (parent-based); `errors` keeps every
    /// trace with an error and that share of the others.
    TraceMode { Off => "off", Errors => "errors", Sampled => "sampled", Detailed => "detailed" }
);
config_enum!(
    /// `copilot.user_label_mode`: how the `user` label of Copilot series is filled.
    UserLabelMode { Login => "login", Id => "id", Hashed => "hashed", None => "none" }
);
