//! Reads the merged tree into the typed [`Config`], one key at a time, so that every unreadable
//! value is reported (key, value, reason) instead of stopping at the first. A value that cannot
//! be read falls back to its built-in default, which keeps later checks from piling derived
//! complaints onto it; a value that is read is checked against its key's constraint (see
//! `constraint`). Also resolves `_file` secrets, org inheritance and the host name.

use std::time::Duration;

use config::{Map, Value, ValueKind};
use secrecy::SecretString;
use url::Url;

use super::constraint;
use super::errors::{redact_url_password, Problems, REDACTED};
use super::keys::{self, KeyDef, FILE_SUFFIX, ORGS_PATH};
use super::layers::default_value;
use super::parse::{
    boolean, choice, duration, duration_list, election_backend, float, http_url, path, socket_addr,
    text, text_list, uint, uint32,
};
use super::types::*;

/// Builds the typed configuration from the merged tree; problems go to `problems`.
pub(crate) fn extract(
    root: &Map<String, Value>,
    env: &[(String, String)],
    problems: &mut Problems,
) -> Config {
    let mut r = Reader { root, problems };
    let server = ServerConfig {
        listen_addr: r.read("server.listen_addr", socket_addr),
        log_level: r.read("server.log_level", choice(LogLevel::NAMES)),
        log_format: r.read("server.log_format", choice(LogFormat::NAMES)),
        shutdown_timeout: r.read("server.shutdown_timeout", duration),
    };
    let scrape_interval = r.read("github.scrape_interval", duration);
    let github = GithubConfig {
        api_base_url: r.read("github.api_base_url", http_url),
        request_timeout: r.read("github.request_timeout", duration),
        max_response_bytes: r.read("github.max_response_bytes", uint),
        max_response_bytes_in_flight: r.read("github.max_response_bytes_in_flight", uint),
        max_pages_per_listing: r.read("github.max_pages_per_listing", uint32),
        allow_insecure_http: r.read("github.allow_insecure_http", boolean),
        unhealthy_failure_threshold: r.read("github.unhealthy_failure_threshold", uint32),
        unhealthy_cooldown: r.read("github.unhealthy_cooldown", duration),
        recover_success_threshold: r.read("github.recover_success_threshold", uint32),
        token: r.secret("github.token").map(SecretString::from),
        app_id: r.read_opt("github.app_id", uint),
        private_key_path: r.read_opt("github.private_key_path", path),
        installation_id: r.read_opt("github.installation_id", uint),
        orgs: r.orgs(scrape_interval),
        scrape_interval,
        exclude_bots: r.read("github.exclude_bots", boolean),
    };
    let rate_limit = RateLimitConfig {
        min_remaining_threshold: r.read("rate_limit.min_remaining_threshold", uint32),
        min_reset_buffer: r.read("rate_limit.min_reset_buffer", duration),
        secondary_limit_backoff: r.read("rate_limit.secondary_limit_backoff", duration),
        requests_per_minute: r.read("rate_limit.requests_per_minute", uint32),
        shared: r.read("rate_limit.shared", boolean),
    };
    let retry = RetryConfig {
        max_attempts: r.read("retry.max_attempts", uint32),
        initial_backoff: r.read("retry.initial_backoff", duration),
        max_backoff: r.read("retry.max_backoff", duration),
        jitter: r.read("retry.jitter", boolean),
    };
    let loc = LocConfig {
        refresh_interval: r.read("loc.refresh_interval", duration),
        stats_poll_attempts: r.read("loc.stats_poll_attempts", uint32),
        fallback_enabled: r.read("loc.fallback_enabled", boolean),
        fallback_max_commits_per_repo_per_week: r
            .read("loc.fallback_max_commits_per_repo_per_week", uint32),
        fallback_max_commit_detail_calls_per_org_per_hour: r.read(
            "loc.fallback_max_commit_detail_calls_per_org_per_hour",
            uint32,
        ),
        large_repo_zero_detection_windows: r.read("loc.large_repo_zero_detection_windows", uint32),
        large_repo_cooldown: r.read("loc.large_repo_cooldown", duration),
    };
    let backfill = BackfillConfig {
        enabled: r.read("backfill.enabled", boolean),
        max_attempts: r.read("backfill.max_attempts", uint32),
        max_message_age: r.read("backfill.max_message_age", duration),
        consumer_count: r.read("backfill.consumer_count", uint32),
        prefetch: r.read("backfill.prefetch", uint32),
        requeue_delays: r.read("backfill.requeue_delays", duration_list),
        coalesce_window: r.read("backfill.coalesce_window", duration),
        dedup_ttl: r.read("backfill.dedup_ttl", duration),
        max_enqueues_per_org_per_minute: r.read("backfill.max_enqueues_per_org_per_minute", uint32),
        memory_queue_capacity: r.read("backfill.memory_queue_capacity", uint32),
        buffer_capacity: r.read("backfill.buffer_capacity", uint32),
    };
    let amqp = AmqpConfig {
        url: r.secret_url("amqp.url", &["amqp", "amqps"]),
        exchange: r.read("amqp.exchange", text),
        queue: r.read("amqp.queue", text),
        dlq: r.read("amqp.dlq", text),
        tls_ca_file: r.read_opt("amqp.tls_ca_file", path),
    };
    let store = StoreConfig {
        redis_url: r.secret_url(
            "store.redis_url",
            &["redis", "rediss", "redis+unix", "unix"],
        ),
        redis_mode: r.read("store.redis_mode", choice(RedisMode::NAMES)),
        redis_sentinel_addrs: r.read("store.redis_sentinel_addrs", text_list),
        redis_master_set: r.read_opt("store.redis_master_set", text),
        redis_sentinel_username: r.read_opt("store.redis_sentinel_username", text),
        redis_sentinel_password: r
            .secret("store.redis_sentinel_password")
            .map(SecretString::from),
        redis_tls_ca_file: r.read_opt("store.redis_tls_ca_file", path),
        namespace: r.read("store.namespace", text),
        retention: r.read("store.retention", duration),
        metric_refresh_interval: r.read("store.metric_refresh_interval", duration),
        max_series_budget: r.read("store.max_series_budget", uint),
    };
    let leader_election = LeaderElectionConfig {
        enabled: r.read("leader_election.enabled", boolean),
        static_role: r.read("leader_election.static_role", choice(StaticRole::NAMES)),
        backend: r.read("leader_election.backend", election_backend),
        namespace: r.read_opt("leader_election.namespace", text),
        lease_name: r.read("leader_election.lease_name", text),
        lease_duration: r.read("leader_election.lease_duration", duration),
        renew_deadline: r.read("leader_election.renew_deadline", duration),
        retry_period: r.read("leader_election.retry_period", duration),
        identity: r
            .read_opt("leader_election.identity", text)
            .unwrap_or_else(|| hostname(env)),
        mode: r.read("leader_election.mode", choice(ElectionMode::NAMES)),
        rebalance_delay: r.read("leader_election.rebalance_delay", duration),
        max_orgs_per_replica: r.read("leader_election.max_orgs_per_replica", uint32),
    };
    let copilot = CopilotConfig {
        enabled: r.read("copilot.enabled", boolean),
        scrape_interval: r.read("copilot.scrape_interval", duration),
        request_timeout: r.read("copilot.request_timeout", duration),
        download_timeout: r.read("copilot.download_timeout", duration),
        include_org_28d: r.read("copilot.include_org_28d", boolean),
        include_org_users_28d: r.read("copilot.include_org_users_28d", boolean),
        include_enterprise_28d: r.read("copilot.include_enterprise_28d", boolean),
        include_enterprise_users_28d: r.read("copilot.include_enterprise_users_28d", boolean),
        include_breakdown_ide: r.read("copilot.include_breakdown_ide", boolean),
        include_breakdown_feature: r.read("copilot.include_breakdown_feature", boolean),
        include_breakdown_language: r.read("copilot.include_breakdown_language", boolean),
        include_breakdown_model: r.read("copilot.include_breakdown_model", boolean),
        include_pull_request_activity: r.read("copilot.include_pull_request_activity", boolean),
        include_seats: r.read("copilot.include_seats", boolean),
        user_label_mode: r.read("copilot.user_label_mode", choice(UserLabelMode::NAMES)),
        user_label_salt: r.secret("copilot.user_label_salt").map(SecretString::from),
        max_label_values: r.read("copilot.max_label_values", uint32),
        emit_day_label: r.read("copilot.emit_day_label", boolean),
        max_records_per_report: r.read("copilot.max_records_per_report", uint),
        max_users_per_report: r.read("copilot.max_users_per_report", uint),
        refresh_if_report_unchanged: r.read("copilot.refresh_if_report_unchanged", boolean),
        enterprise: CopilotEnterpriseConfig {
            enabled: r.read("copilot.enterprise.enabled", boolean),
            slug: r.read_opt("copilot.enterprise.slug", text),
            app_id: r.read_opt("copilot.enterprise.app_id", uint),
            installation_id: r.read_opt("copilot.enterprise.installation_id", uint),
            private_key_path: r.read_opt("copilot.enterprise.private_key_path", path),
        },
    };
    let telemetry = TelemetryConfig {
        otel_enabled: r.read("telemetry.otel_enabled", boolean),
        endpoint: r.otlp_endpoint(env),
        trace_mode: r.read("telemetry.otel_trace_mode", choice(TraceMode::NAMES)),
        sample_ratio: r.read("telemetry.otel_trace_sample_ratio", float),
        service_name: r.read("telemetry.service_name", text),
    };
    Config {
        server,
        github,
        rate_limit,
        retry,
        loc,
        backfill,
        amqp,
        store,
        leader_election,
        copilot,
        telemetry,
    }
}

/// The value at a dotted path of the merged tree; an explicit null counts as absent.
pub(crate) fn lookup<'a>(root: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut segments = path.split('.');
    let mut current = root.get(segments.next()?)?;
    for segment in segments {
        match &current.kind {
            ValueKind::Table(table) => current = table.get(segment)?,
            _ => return None,
        }
    }
    (!matches!(current.kind, ValueKind::Nil)).then_some(current)
}

/// A value as the user wrote it, for problem messages (never for secrets; see [`shown`]).
pub(crate) fn show(value: &Value) -> String {
    match &value.kind {
        ValueKind::Nil => String::new(),
        ValueKind::String(s) => s.clone(),
        ValueKind::Array(items) => items.iter().map(show).collect::<Vec<_>>().join(","),
        ValueKind::Table(_) => "{…}".to_string(),
        _ => value.to_string(),
    }
}

/// The printable form of `value` for `key`: secrets are hidden entirely, except that a URL
/// secret shows its URL with the password replaced; any other URL password is replaced too.
pub(crate) fn shown(key: &str, value: &Value, secret: bool) -> String {
    let text = show(value);
    if !secret {
        return redact_url_password(&text);
    }
    match Url::parse(&text) {
        Ok(_) if key.ends_with("url") => redact_url_password(&text),
        _ => REDACTED.to_string(),
    }
}

/// `reason`, plus where the value came from when the layer is known.
pub(crate) fn with_origin(reason: impl Into<String>, value: &Value) -> String {
    let reason = reason.into();
    match value.origin() {
        Some(origin) if origin.starts_with("env ") => format!("{reason} (from {origin})"),
        Some(origin) => format!("{reason} (from file {origin})"),
        None => reason,
    }
}

type Parse<T> = fn(&Value) -> Result<T, String>;

/// Reads keys from the merged tree, collecting a problem for each unreadable value.
struct Reader<'a, 'p> {
    root: &'a Map<String, Value>,
    problems: &'p mut Problems,
}

impl<'a> Reader<'a, '_> {
    /// A key with a built-in default; falls back to it when absent or unreadable.
    fn read<T>(&mut self, path: &str, parse: impl Fn(&Value) -> Result<T, String>) -> T {
        let def = top_def(path);
        let value = lookup(self.root, path);
        self.field(path, def, value, &parse)
            .expect("keys read with `read` have a built-in default")
    }

    /// A key without a default: `None` when absent, empty or unreadable.
    fn read_opt<T>(
        &mut self,
        path: &str,
        parse: impl Fn(&Value) -> Result<T, String>,
    ) -> Option<T> {
        let def = top_def(path);
        let value = lookup(self.root, path);
        self.field(path, def, value, &parse)
    }

    /// Parses one value and checks its key's constraint; on a parse failure records (key,
    /// value, reason) and uses the default.
    fn field<T>(
        &mut self,
        key: &str,
        def: &KeyDef,
        value: Option<&Value>,
        parse: &dyn Fn(&Value) -> Result<T, String>,
    ) -> Option<T> {
        let default = || {
            default_value(def.kind, def.default)
                .map(|v| parse(&v).expect("built-in defaults parse (see the defaults test)"))
        };
        let value = match value {
            Some(v) if matches!(def.default, keys::DefaultValue::Unset) && show(v).is_empty() => {
                return None
            }
            Some(v) => v,
            None => return default(),
        };
        match parse(value) {
            Ok(parsed) => {
                constraint::check(self.problems, key, def.constraint, def.secret, value);
                Some(parsed)
            }
            Err(reason) => {
                self.report(key, value, def.secret, reason);
                default()
            }
        }
    }

    fn report(&mut self, key: &str, value: &Value, secret: bool, reason: String) {
        self.problems
            .push(key, shown(key, value, secret), with_origin(reason, value));
    }

    /// A top-level secret, given directly or through its `_file` companion.
    fn secret(&mut self, path: &str) -> Option<String> {
        let value = lookup(self.root, path);
        let file = lookup(self.root, &format!("{path}{FILE_SUFFIX}"));
        self.secret_in(path, top_def(path), value, file)
    }

    /// A secret resolved from its value or `_file` companion, checked against the
    /// constraint of `def`.
    fn secret_in(
        &mut self,
        key: &str,
        def: &KeyDef,
        value: Option<&Value>,
        file: Option<&Value>,
    ) -> Option<String> {
        let secret = self.resolve_secret(key, value, file)?;
        let resolved = Value::new(None, ValueKind::String(secret.clone()));
        constraint::check(self.problems, key, def.constraint, true, &resolved);
        Some(secret)
    }

    /// Resolves a secret and its `_file` companion; setting both is an error.
    fn resolve_secret(
        &mut self,
        key: &str,
        value: Option<&Value>,
        file: Option<&Value>,
    ) -> Option<String> {
        let value = value.filter(|v| !show(v).is_empty());
        let file = file.filter(|v| !show(v).is_empty());
        match (value, file) {
            (Some(v), Some(_)) => {
                self.report(
                    key,
                    v,
                    true,
                    format!("both `{key}` and `{key}{FILE_SUFFIX}` are set; set only one"),
                );
                None
            }
            (Some(v), None) => match &v.kind {
                ValueKind::String(s) => Some(s.clone()),
                _ => {
                    self.report(key, v, true, "expected a string".to_string());
                    None
                }
            },
            (None, Some(f)) => {
                let file_key = format!("{key}{FILE_SUFFIX}");
                let path = show(f);
                match std::fs::read_to_string(&path) {
                    Ok(content) if content.trim().is_empty() => {
                        self.report(&file_key, f, false, "secret file is empty".to_string());
                        None
                    }
                    Ok(content) => Some(content.trim().to_string()),
                    Err(error) => {
                        self.report(
                            &file_key,
                            f,
                            false,
                            format!("cannot read secret file: {error}"),
                        );
                        None
                    }
                }
            }
            (None, None) => None,
        }
    }

    /// A URL that may hold a password, with its scheme restricted to `schemes`.
    fn secret_url(&mut self, path: &str, schemes: &[&str]) -> Option<SecretUrl> {
        let text = self.secret(path)?;
        let origin = lookup(self.root, path)
            .or_else(|| lookup(self.root, &format!("{path}{FILE_SUFFIX}")))
            .and_then(|v| v.origin().map(str::to_string));
        let value = Value::new(origin.as_ref(), ValueKind::String(text.clone()));
        let url = match Url::parse(&text) {
            Ok(url) => url,
            Err(error) => {
                self.report(path, &value, true, format!("not a URL ({error})"));
                return None;
            }
        };
        if !schemes.contains(&url.scheme()) {
            let reason = format!("URL scheme must be one of {}", schemes.join("|"));
            self.report(path, &value, true, reason);
            return None;
        }
        let local_socket = url.scheme().ends_with("unix");
        if !local_socket && url.host_str().is_none_or(str::is_empty) {
            self.report(path, &value, true, "URL has no host".to_string());
            return None;
        }
        Some(SecretUrl::new(url))
    }

    /// The OTLP/HTTP traces URL: the key (an `http(s)` URL; a base URL gets `v1/traces`
    /// appended to its path), else the standard environment variables.
    fn otlp_endpoint(&mut self, env: &[(String, String)]) -> Option<SecretUrl> {
        const KEY: &str = "telemetry.otel_exporter_otlp_endpoint";
        let from_env = |name: &str| {
            env.iter()
                .find(|(n, v)| n == name && !v.trim().is_empty())
                .map(|(_, v)| v.trim().to_string())
        };
        let (text, append) = match self.secret(KEY) {
            Some(text) => (text, true),
            None => match from_env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
                Some(text) => (text, false),
                None => (from_env("OTEL_EXPORTER_OTLP_ENDPOINT")?, true),
            },
        };
        let value = Value::new(None, ValueKind::String(text.clone()));
        let lower = text.to_ascii_lowercase();
        if !lower.starts_with("http://") && !lower.starts_with("https://") {
            let reason = "must be an http:// or https:// URL (OTLP over HTTP, usually port 4318)";
            self.report(KEY, &value, true, reason.to_string());
            return None;
        }
        let mut url = match Url::parse(&text) {
            Ok(url) if url.host_str().is_some_and(|h| !h.is_empty()) => url,
            Ok(_) => {
                self.report(KEY, &value, true, "URL has no host".to_string());
                return None;
            }
            Err(error) => {
                self.report(KEY, &value, true, format!("not a URL ({error})"));
                return None;
            }
        };
        if append && !url.path().ends_with("/v1/traces") {
            let path = format!("{}/v1/traces", url.path().trim_end_matches('/'));
            url.set_path(&path);
        }
        Some(SecretUrl::new(url))
    }

    /// The org list: bare names, `{org = …}` tables with overrides, or one comma-separated
    /// string. Each org's `scrape_interval` falls back to `inherited`.
    fn orgs(&mut self, inherited: Duration) -> Vec<OrgConfig> {
        let items: Vec<Value> = match lookup(self.root, ORGS_PATH) {
            None => Vec::new(),
            Some(value) => match &value.kind {
                ValueKind::Array(items) => items.clone(),
                ValueKind::String(s) => s
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::new(None, ValueKind::String(s.to_string())))
                    .collect(),
                _ => {
                    let reason = "expected a list of org names or org tables".to_string();
                    self.report(ORGS_PATH, value, false, reason);
                    Vec::new()
                }
            },
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(index, item)| self.org(index, item, inherited))
            .collect()
    }

    fn org(&mut self, index: usize, item: &Value, inherited: Duration) -> Option<OrgConfig> {
        let prefix = format!("{ORGS_PATH}[{index}]");
        let empty = Map::new();
        let table = match &item.kind {
            ValueKind::Table(table) => table,
            ValueKind::String(_) => &empty,
            _ => {
                let reason = "expected an org name or a table with `org`".to_string();
                self.report(&prefix, item, false, reason);
                return None;
            }
        };
        let name = match &item.kind {
            ValueKind::String(name) => {
                let def = org_def("org");
                let key = format!("{prefix}.org");
                constraint::check(self.problems, &key, def.constraint, def.secret, item);
                Some(name.clone())
            }
            _ => self.org_field(&prefix, table, "org", text),
        };
        let Some(org) = name else {
            self.problems.push(
                format!("{prefix}.org"),
                "",
                "every org entry needs an `org` name",
            );
            return None;
        };
        let own_interval = self.org_field(&prefix, table, "scrape_interval", duration);
        let token_key = format!("{prefix}.token");
        let token = self.secret_in(
            &token_key,
            org_def("token"),
            table.get("token"),
            table.get(&format!("token{FILE_SUFFIX}")),
        );
        let allow = self.org_field(&prefix, table, "repo_allowlist", text_list);
        let deny = self.org_field(&prefix, table, "repo_denylist", text_list);
        Some(OrgConfig {
            org,
            app_id: self.org_field(&prefix, table, "app_id", uint),
            installation_id: self.org_field(&prefix, table, "installation_id", uint),
            private_key_path: self.org_field(&prefix, table, "private_key_path", path),
            token: token.map(SecretString::from),
            scrape_interval: own_interval.unwrap_or(inherited),
            repo_allowlist: self.globs(
                &format!("{prefix}.repo_allowlist"),
                allow.expect("repo_allowlist has a built-in default"),
            ),
            repo_denylist: self.globs(
                &format!("{prefix}.repo_denylist"),
                deny.expect("repo_denylist has a built-in default"),
            ),
            per_org_concurrency: self
                .org_field(&prefix, table, "per_org_concurrency", uint32)
                .expect("per_org_concurrency has a built-in default"),
            include_archived: self
                .org_field(&prefix, table, "include_archived", boolean)
                .expect("include_archived has a built-in default"),
            include_forks: self
                .org_field(&prefix, table, "include_forks", boolean)
                .expect("include_forks has a built-in default"),
        })
    }

    fn org_field<T>(
        &mut self,
        prefix: &str,
        table: &Map<String, Value>,
        name: &str,
        parse: Parse<T>,
    ) -> Option<T> {
        let def = org_def(name);
        let value = table
            .get(name)
            .filter(|v| !matches!(v.kind, ValueKind::Nil));
        self.field(&format!("{prefix}.{name}"), def, value, &parse)
    }

    /// Compiles glob patterns; each invalid one is a problem named by its position.
    fn globs(&mut self, key: &str, patterns: Vec<String>) -> Vec<glob::Pattern> {
        patterns
            .into_iter()
            .enumerate()
            .filter_map(|(i, p)| match glob::Pattern::new(&p) {
                Ok(pattern) => Some(pattern),
                Err(error) => {
                    self.problems.push(
                        format!("{key}[{i}]"),
                        p,
                        format!("invalid glob pattern: {error}"),
                    );
                    None
                }
            })
            .collect()
    }
}

fn top_def(path: &str) -> &'static KeyDef {
    keys::find(path).expect("the reader asks only for keys listed in keys::KEYS")
}

fn org_def(name: &str) -> &'static KeyDef {
    keys::find_org(name).expect("org fields read here are in ORG_KEYS")
}

/// The lease identity default: `HOSTNAME`, else `/etc/hostname`, else `unknown`.
fn hostname(env: &[(String, String)]) -> String {
    let from_env = env
        .iter()
        .find(|(name, _)| name == "HOSTNAME")
        .map(|(_, v)| v.trim().to_string());
    let from_file = || {
        std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|s| s.trim().to_string())
    };
    from_env
        .filter(|h| !h.is_empty())
        .or_else(|| from_file().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}
