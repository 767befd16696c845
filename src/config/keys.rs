//! The schema of every configuration key: its path, kind, built-in default, whether it is a
//! secret, and the [`Constraint`] its value must meet; plus the table of keys whose feature is
//! not built yet ([`PENDING`]).
//!
//! One table drives the defaults layer, the environment mapping, the unknown-key check, the
//! per-key checks, the pending-feature check and the drift test against `config/default.toml`,
//! so a key added here is automatically settable from every layer and checked on every read.

use super::constraint::Constraint::{
    self, CaFile, Fraction, HostPorts, Login, NoWhitespace, NotBlank, NotEmpty, Positive,
    RsaKeyFile, Word,
};
use super::constraint::{
    count, days, delays, minutes, span, DAY, HOUR, MILLISECOND, MINUTE, SECOND, ZERO,
};

/// How a key's raw value is read; decides env-list splitting and default-equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Free text, enum names, addresses and URLs.
    Text,
    /// `true` / `false`.
    Bool,
    /// A non-negative integer.
    Int,
    /// A decimal number (`0.25`).
    Float,
    /// A humantime duration (`500ms`, `5m`, `7d`).
    Duration,
    /// A list of text values; comma-separated in env.
    TextList,
    /// A list of durations; comma-separated in env.
    DurationList,
}

impl Kind {
    /// Lists are split on `,` when they come from one environment variable.
    pub(crate) fn is_list(self) -> bool {
        matches!(self, Kind::TextList | Kind::DurationList)
    }
}

/// A built-in default; `Unset` keys have no value unless configured.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DefaultValue {
    Unset,
    One(&'static str),
    Many(&'static [&'static str]),
}

/// One configuration key.
#[derive(Debug)]
pub(crate) struct KeyDef {
    /// Dotted path (`server.listen_addr`); relative to the org entry in [`ORG_KEYS`].
    pub path: &'static str,
    pub kind: Kind,
    pub default: DefaultValue,
    /// Secrets accept a `<key>_file` companion and are redacted in every message.
    pub secret: bool,
    /// The rule on one value of this key, checked whenever the key is read.
    pub constraint: Constraint,
}

impl KeyDef {
    /// This key, with `constraint` on its value.
    const fn with(self, constraint: Constraint) -> KeyDef {
        KeyDef { constraint, ..self }
    }
}

const fn key(path: &'static str, kind: Kind, default: DefaultValue) -> KeyDef {
    KeyDef {
        path,
        kind,
        default,
        secret: false,
        constraint: Constraint::None,
    }
}

const fn secret(path: &'static str) -> KeyDef {
    KeyDef {
        path,
        kind: Kind::Text,
        default: DefaultValue::Unset,
        secret: true,
        constraint: Constraint::None,
    }
}

use DefaultValue::{Many, One, Unset};
use Kind::{Bool, Duration, DurationList, Float, Int, Text, TextList};

/// Scrape intervals shorter than a second hammer the API; longer than a day lose data, since
/// every activity window is 24 h.
const SCRAPE_INTERVAL: Constraint = span(SECOND, DAY);

/// Path of the org list; its entries are described by [`ORG_KEYS`].
pub(crate) const ORGS_PATH: &str = "github.orgs";

/// Suffix of the companion key that names a file holding a secret.
pub(crate) const FILE_SUFFIX: &str = "_file";

/// Every top-level key except the org list (config/default.toml lists them with their
/// defaults).
pub(crate) const KEYS: &[KeyDef] = &[
    key("server.listen_addr", Text, One("0.0.0.0:8080")),
    key("server.log_level", Text, One("info")),
    key("server.log_format", Text, One("json")),
    key("server.shutdown_timeout", Duration, One("15s")).with(span(SECOND, minutes(10))),
    key("github.api_base_url", Text, One("https://api.github.com")),
    key("github.request_timeout", Duration, One("20s")).with(span(SECOND, minutes(10))),
    key("github.max_response_bytes", Int, One("33554432")).with(count(64 * 1024, 1 << 32)),
    key("github.max_response_bytes_in_flight", Int, One("33554432"))
        .with(count(64 * 1024, 1 << 34)),
    key("github.max_pages_per_listing", Int, One("1000")).with(count(1, 100_000)),
    key("github.allow_insecure_http", Bool, One("false")),
    key("github.unhealthy_failure_threshold", Int, One("6")).with(count(1, 1000)),
    key("github.unhealthy_cooldown", Duration, One("2m")).with(span(SECOND, DAY)),
    key("github.recover_success_threshold", Int, One("3")).with(count(1, 1000)),
    secret("github.token").with(NoWhitespace),
    key("github.app_id", Int, Unset),
    key("github.private_key_path", Text, Unset).with(RsaKeyFile),
    key("github.installation_id", Int, Unset),
    key("github.scrape_interval", Duration, One("5m")).with(SCRAPE_INTERVAL),
    key("github.exclude_bots", Bool, One("false")),
    key("rate_limit.min_remaining_threshold", Int, One("200")).with(count(0, 15_000)),
    key("rate_limit.min_reset_buffer", Duration, One("10s")).with(span(ZERO, HOUR)),
    key("rate_limit.secondary_limit_backoff", Duration, One("60s")).with(span(SECOND, HOUR)),
    key("rate_limit.requests_per_minute", Int, One("800")).with(count(0, 100_000)),
    key("rate_limit.shared", Bool, One("true")),
    key("retry.max_attempts", Int, One("5")).with(count(1, 100)),
    key("retry.initial_backoff", Duration, One("1s")).with(span(MILLISECOND, HOUR)),
    key("retry.max_backoff", Duration, One("30s")).with(span(MILLISECOND, HOUR)),
    key("retry.jitter", Bool, One("true")),
    key("loc.refresh_interval", Duration, One("24h")).with(span(MINUTE, days(30))),
    key("loc.stats_poll_attempts", Int, One("3")).with(count(1, 20)),
    key("loc.fallback_enabled", Bool, One("true")),
    key(
        "loc.fallback_max_commits_per_repo_per_week",
        Int,
        One("250"),
    )
    .with(count(1, 100_000)),
    key(
        "loc.fallback_max_commit_detail_calls_per_org_per_hour",
        Int,
        One("1000"),
    )
    .with(count(1, 1_000_000)),
    key("loc.large_repo_zero_detection_windows", Int, One("2")).with(count(1, 100)),
    key("loc.large_repo_cooldown", Duration, One("7d")).with(span(HOUR, days(365))),
    key("backfill.enabled", Bool, One("true")),
    key("backfill.max_attempts", Int, One("5")).with(count(1, 100)),
    key("backfill.max_message_age", Duration, One("24h")).with(span(MINUTE, days(30))),
    key("backfill.consumer_count", Int, One("2")).with(count(1, 64)),
    key("backfill.prefetch", Int, One("2")).with(count(1, 1000)),
    key(
        "backfill.requeue_delays",
        DurationList,
        Many(&["1m", "5m", "30m", "2h"]),
    )
    .with(delays(SECOND, days(7))),
    key("backfill.coalesce_window", Duration, One("15m")).with(span(ZERO, DAY)),
    key("backfill.dedup_ttl", Duration, One("12h")).with(span(ZERO, days(7))),
    key("backfill.max_enqueues_per_org_per_minute", Int, One("100")).with(count(1, 100_000)),
    key("backfill.memory_queue_capacity", Int, One("100000")).with(count(1, 10_000_000)),
    key("backfill.buffer_capacity", Int, One("10000")).with(count(1, 1_000_000)),
    secret("amqp.url"),
    key("amqp.exchange", Text, One("gh.backfill")).with(NotBlank),
    key("amqp.queue", Text, One("gh.backfill.jobs")).with(NotBlank),
    key("amqp.dlq", Text, One("gh.backfill.dlq")).with(NotBlank),
    key("amqp.tls_ca_file", Text, Unset).with(CaFile),
    secret("store.redis_url"),
    key("store.redis_mode", Text, One("standalone")),
    key("store.redis_sentinel_addrs", TextList, Many(&[])).with(HostPorts),
    key("store.redis_master_set", Text, Unset),
    key("store.redis_sentinel_username", Text, Unset),
    secret("store.redis_sentinel_password"),
    key("store.redis_tls_ca_file", Text, Unset).with(CaFile),
    key("store.namespace", Text, One("ghm")).with(NotBlank),
    key("store.retention", Duration, One("30d")).with(span(HOUR, days(365))),
    key("store.metric_refresh_interval", Duration, One("30s")).with(span(SECOND, HOUR)),
    key("store.max_series_budget", Int, One("1000000")).with(count(1, 1_000_000_000)),
    key("leader_election.enabled", Bool, One("false")),
    key("leader_election.static_role", Text, One("leader")),
    key("leader_election.backend", Text, One("redis")),
    key("leader_election.namespace", Text, Unset).with(Word {
        names: "it names a Kubernetes namespace",
    }),
    key(
        "leader_election.lease_name",
        Text,
        One("github-stats-exporter-leader"),
    )
    .with(Word {
        names: "it names the lease key in Redis",
    }),
    key("leader_election.lease_duration", Duration, One("15s")).with(span(SECOND, minutes(10))),
    key("leader_election.renew_deadline", Duration, One("10s")).with(Positive),
    key("leader_election.retry_period", Duration, One("2s")).with(Positive),
    // Unset here; the loader fills in the host name (see `extract::hostname`).
    key("leader_election.identity", Text, Unset).with(NotBlank),
    key("leader_election.mode", Text, One("single")),
    key("leader_election.rebalance_delay", Duration, One("10s")).with(span(ZERO, HOUR)),
    key("leader_election.max_orgs_per_replica", Int, One("0")),
    key("copilot.enabled", Bool, One("false")),
    key("copilot.scrape_interval", Duration, One("6h")).with(span(MINUTE, days(7))),
    key("copilot.request_timeout", Duration, One("30s")).with(span(SECOND, HOUR)),
    key("copilot.download_timeout", Duration, One("90s")).with(span(SECOND, HOUR)),
    key("copilot.include_org_28d", Bool, One("true")),
    key("copilot.include_org_users_28d", Bool, One("false")),
    key("copilot.include_enterprise_28d", Bool, One("false")),
    key("copilot.include_enterprise_users_28d", Bool, One("false")),
    key("copilot.include_breakdown_ide", Bool, One("false")),
    key("copilot.include_breakdown_feature", Bool, One("false")),
    key("copilot.include_breakdown_language", Bool, One("false")),
    key("copilot.include_breakdown_model", Bool, One("false")),
    key("copilot.include_pull_request_activity", Bool, One("true")),
    key("copilot.include_seats", Bool, One("true")),
    key("copilot.user_label_mode", Text, One("login")),
    secret("copilot.user_label_salt"),
    key("copilot.max_label_values", Int, One("50")).with(count(1, 10_000)),
    key("copilot.emit_day_label", Bool, One("false")),
    key("copilot.max_records_per_report", Int, One("0")),
    key("copilot.max_users_per_report", Int, One("0")),
    key("copilot.refresh_if_report_unchanged", Bool, One("false")),
    key("copilot.enterprise.enabled", Bool, One("false")),
    key("copilot.enterprise.slug", Text, Unset),
    key("copilot.enterprise.app_id", Int, Unset),
    key("copilot.enterprise.installation_id", Int, Unset),
    // Its key file is checked only when copilot.enterprise.enabled (a rule of `validate`).
    key("copilot.enterprise.private_key_path", Text, Unset),
    key("telemetry.otel_enabled", Bool, One("false")),
    // May carry credentials (user info, a token in the query): a secret, shown redacted.
    secret("telemetry.otel_exporter_otlp_endpoint"),
    key("telemetry.otel_trace_mode", Text, One("sampled")),
    key("telemetry.otel_trace_sample_ratio", Float, One("0.1")).with(Fraction),
    key("telemetry.service_name", Text, One("github-stats-exporter")).with(NotBlank),
];

/// Keys of one `github.orgs[]` entry. `scrape_interval` is `Unset` because it inherits
/// `github.scrape_interval`.
pub(crate) const ORG_KEYS: &[KeyDef] = &[
    key("org", Text, Unset).with(Login),
    key("app_id", Int, Unset),
    key("installation_id", Int, Unset),
    key("private_key_path", Text, Unset).with(RsaKeyFile),
    secret("token"),
    key("scrape_interval", Duration, Unset).with(SCRAPE_INTERVAL),
    key("repo_allowlist", TextList, Many(&["*"])).with(NotEmpty {
        reason: "an empty allowlist matches no repository; use * for all",
    }),
    key("repo_denylist", TextList, Many(&[])),
    key("per_org_concurrency", Int, One("4")).with(count(1, 64)),
    key("include_archived", Bool, One("false")),
    key("include_forks", Bool, One("true")),
];

/// Keys whose feature is not built yet, with what brings it. Setting one to a non-default value
/// is a validation error, never silently ignored. Delete a row when its feature lands.
/// A path ending in `.*` covers a whole section; `github.orgs[].x` covers `x` in every org.
pub(crate) const PENDING: &[(&str, &str)] = &[];

/// The top-level key definition for `path`, if any.
pub(crate) fn find(path: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| k.path == path)
}

/// The org-entry key definition for `name`, if any.
pub(crate) fn find_org(name: &str) -> Option<&'static KeyDef> {
    ORG_KEYS.iter().find(|k| k.path == name)
}

/// Whether `path` names a section (a table holding keys), e.g. `copilot.enterprise`.
pub(crate) fn is_section(path: &str) -> bool {
    KEYS.iter().any(|k| {
        k.path
            .strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// The feature a key waits for, when it is pending. `path` uses `github.orgs[].x` for org keys.
pub(crate) fn pending_feature(path: &str) -> Option<&'static str> {
    PENDING.iter().find_map(|(pattern, feature)| {
        let hit = match pattern.strip_suffix(".*") {
            Some(section) => path
                .strip_prefix(section)
                .is_some_and(|rest| rest.starts_with('.')),
            None => *pattern == path,
        };
        hit.then_some(*feature)
    })
}

#[cfg(test)]
mod tests {
    use super::super::constraint::check;
    use super::super::errors::Problems;
    use super::super::layers::default_value;
    use super::*;

    /// Whether `constraint` can apply to values of `kind`.
    fn fits(constraint: Constraint, kind: Kind) -> bool {
        use Constraint::*;
        match constraint {
            None => true,
            Count { .. } => kind == Int,
            Fraction => kind == Float,
            Span { .. } | Positive => kind == Duration,
            NotBlank | Word { .. } | NoWhitespace | Login | RsaKeyFile | CaFile => kind == Text,
            HostPorts | NotEmpty { .. } => kind == TextList,
            Delays { .. } => kind == DurationList,
        }
    }

    /// Every constraint is on a key whose kind it can check (a `Count` on a duration would
    /// never fire).
    #[test]
    fn constraints_fit_their_key_kinds() {
        for def in KEYS.iter().chain(ORG_KEYS) {
            assert!(
                fits(def.constraint, def.kind),
                "`{}` is {:?} but constrained by {:?}",
                def.path,
                def.kind,
                def.constraint
            );
        }
    }

    /// Every built-in default meets its key's constraint, so the loader need not check values
    /// it did not read.
    #[test]
    fn defaults_meet_their_constraints() {
        for def in KEYS.iter().chain(ORG_KEYS) {
            let Some(value) = default_value(def.kind, def.default) else {
                continue;
            };
            let mut problems = Problems::default();
            check(&mut problems, def.path, def.constraint, def.secret, &value);
            assert!(
                problems.is_empty(),
                "default of `{}`: {:?}",
                def.path,
                problems.0
            );
        }
    }

    /// Every pending row names a key or section that exists, so a typo cannot hide a key.
    #[test]
    fn pending_rows_name_existing_keys() {
        for (pattern, _) in PENDING {
            let exists = match pattern.strip_suffix(".*") {
                Some(section) => is_section(section),
                None => match pattern.strip_prefix("github.orgs[].") {
                    Some(org_key) => find_org(org_key).is_some(),
                    None => find(pattern).is_some(),
                },
            };
            assert!(exists, "PENDING row `{pattern}` names no key");
        }
    }

    /// Key paths are unique, so lookups by path are unambiguous.
    #[test]
    fn key_paths_are_unique() {
        let mut paths: Vec<&str> = KEYS.iter().map(|k| k.path).collect();
        paths.sort_unstable();
        let before = paths.len();
        paths.dedup();
        assert_eq!(before, paths.len());
    }
}
