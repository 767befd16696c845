//! A Go-era YAML configuration read as flat key paths (`store.redis_addr`,
//! `github.orgs[0].app_id`), the table of every key that file format knows, and typed readers
//! that remember which keys were read. A value that cannot be read becomes a problem naming the
//! key (never a secret's value) and reads as absent.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use config::{FileFormat, Map, Source, Value, ValueKind};

use super::duration;
use super::MigrateError;

/// Every key of the Go-era file format; `github.orgs[].x` is `x` of every org entry.
pub(crate) const GO_KEYS: &[&str] = &[
    "server.listen_addr",
    "server.log_level",
    "metrics.topology",
    "metrics.scrape_service_dns",
    "leader_election.enabled",
    "leader_election.namespace",
    "leader_election.lease_name",
    "leader_election.lease_duration",
    "leader_election.renew_deadline",
    "leader_election.retry_period",
    "github.api_base_url",
    "github.request_timeout",
    "github.unhealthy_failure_threshold",
    "github.unhealthy_cooldown",
    "github.orgs[].org",
    "github.orgs[].app_id",
    "github.orgs[].installation_id",
    "github.orgs[].private_key_path",
    "github.orgs[].scrape_interval",
    "github.orgs[].repo_allowlist",
    "github.orgs[].per_org_concurrency",
    "rate_limit.min_remaining_threshold",
    "rate_limit.min_reset_buffer",
    "rate_limit.secondary_limit_backoff",
    "retry.max_attempts",
    "retry.initial_backoff",
    "retry.max_backoff",
    "retry.jitter",
    "loc.source",
    "loc.refresh_interval",
    "loc.fallback_enabled",
    "loc.fallback_max_commits_per_repo_per_week",
    "loc.fallback_max_commit_detail_calls_per_org_per_hour",
    "loc.large_repo_zero_detection_windows",
    "loc.large_repo_cooldown",
    "backfill.enabled",
    "backfill.max_message_age",
    "backfill.consumer_count",
    "backfill.requeue_delays",
    "backfill.coalesce_window",
    "backfill.dedup_ttl",
    "backfill.max_enqueues_per_org_per_minute",
    "copilot.enabled",
    "copilot.scrape_interval",
    "copilot.request_timeout",
    "copilot.download_timeout",
    "copilot.include_org_28d",
    "copilot.include_org_users_28d",
    "copilot.include_enterprise_28d",
    "copilot.include_enterprise_users_28d",
    "copilot.include_breakdown_ide",
    "copilot.include_breakdown_feature",
    "copilot.include_breakdown_language",
    "copilot.include_breakdown_model",
    "copilot.include_pull_request_activity",
    "copilot.user_label_mode",
    "copilot.emit_day_label",
    "copilot.max_records_per_report",
    "copilot.max_users_per_report",
    "copilot.refresh_if_report_unchanged",
    "copilot.enterprise.enabled",
    "copilot.enterprise.slug",
    "copilot.enterprise.app_id",
    "copilot.enterprise.installation_id",
    "copilot.enterprise.private_key_path",
    "amqp.url",
    "amqp.exchange",
    "amqp.queue",
    "amqp.dlq",
    "store.backend",
    "store.redis_mode",
    "store.redis_addr",
    "store.redis_master_set",
    "store.redis_sentinel_addrs",
    "store.redis_password",
    "store.redis_db",
    "store.retention",
    "store.metric_refresh_interval",
    "store.index_shards",
    "store.export_cache_mode",
    "store.max_series_budget",
    "health.github_probe_interval",
    "health.github_recover_success_threshold",
    "telemetry.otel_enabled",
    "telemetry.otel_exporter_otlp_endpoint",
    "telemetry.otel_trace_mode",
    "telemetry.otel_trace_sample_ratio",
];

/// Keys whose values are never shown, in any message.
const SECRET_KEYS: &[&str] = &["store.redis_password", "amqp.url"];

/// The file as flat paths, what has been read of it, and the problems met reading it.
pub(crate) struct GoFile {
    values: BTreeMap<String, Value>,
    read: BTreeSet<String>,
    /// Number of `github.orgs` entries.
    pub orgs: usize,
    /// Values that cannot be carried over, one sentence each.
    pub problems: Vec<String>,
}

impl GoFile {
    /// Parses `text` as YAML (one document, a mapping at the top) and reports every key the
    /// Go-era format does not know.
    pub(crate) fn parse(text: &str) -> Result<GoFile, MigrateError> {
        let source = config::File::from_str(text, FileFormat::Yaml);
        let root = source.collect().map_err(|error| MigrateError::Yaml {
            reason: error.to_string(),
        })?;
        let mut file = GoFile {
            values: BTreeMap::new(),
            read: BTreeSet::new(),
            orgs: 0,
            problems: Vec::new(),
        };
        file.flatten(&root, "");
        let unknown: Vec<String> = file
            .values
            .keys()
            .filter(|path| !GO_KEYS.contains(&generic(path).as_str()))
            .cloned()
            .collect();
        for path in unknown {
            file.problems.push(format!(
                "`{path}`: unknown key (the Go exporter refused it too); remove it or fix its spelling"
            ));
            file.read.insert(path);
        }
        Ok(file)
    }

    fn flatten(&mut self, table: &Map<String, Value>, prefix: &str) {
        for (name, value) in table {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            match &value.kind {
                ValueKind::Table(inner) => self.flatten(inner, &path),
                ValueKind::Array(items) if path == "github.orgs" => {
                    self.orgs = items.len();
                    for (index, item) in items.iter().enumerate() {
                        match &item.kind {
                            ValueKind::Table(entry) => {
                                self.flatten(entry, &format!("github.orgs[{index}]"))
                            }
                            _ => self.problems.push(format!(
                                "`github.orgs[{index}]`: expected a mapping with org, app_id, \
                                 installation_id, private_key_path, scrape_interval"
                            )),
                        }
                    }
                }
                ValueKind::Nil => {}
                _ => {
                    self.values.insert(path, value.clone());
                }
            }
        }
    }

    /// Whether the file sets `path`.
    pub(crate) fn has(&self, path: &str) -> bool {
        self.values.contains_key(path)
    }

    /// Keys present in the file that no reader asked for (a gap in the converter).
    pub(crate) fn unread(&self) -> Vec<String> {
        self.values
            .keys()
            .filter(|path| !self.read.contains(*path))
            .cloned()
            .collect()
    }

    fn take(&mut self, path: &str) -> Option<Value> {
        self.read.insert(path.to_string());
        self.values.get(path).cloned()
    }

    fn problem(&mut self, path: &str, reason: &str) {
        self.problems.push(format!("`{path}`: {reason}"));
    }

    /// Text (numbers as written), trimmed; empty reads as absent.
    pub(crate) fn text(&mut self, path: &str) -> Option<String> {
        let value = self.take(path)?;
        let text = match &value.kind {
            ValueKind::String(s) => s.trim().to_string(),
            ValueKind::Array(_) | ValueKind::Table(_) => {
                self.problem(path, "expected a single value, not a list");
                return None;
            }
            _ => value.to_string(),
        };
        (!text.is_empty()).then_some(text)
    }

    /// A YAML boolean (or `true`/`false`, `yes`/`no`, `on`/`off` as text).
    pub(crate) fn boolean(&mut self, path: &str) -> Option<bool> {
        let value = self.take(path)?;
        match &value.kind {
            ValueKind::Boolean(b) => Some(*b),
            ValueKind::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" => Some(true),
                "false" | "no" | "off" => Some(false),
                _ => {
                    self.problem(path, "expected true or false");
                    None
                }
            },
            _ => {
                self.problem(path, "expected true or false");
                None
            }
        }
    }

    /// A whole number (possibly negative, as Go's `int` fields accept).
    pub(crate) fn int(&mut self, path: &str) -> Option<i64> {
        let value = self.take(path)?;
        let parsed = match &value.kind {
            ValueKind::I64(n) => Some(*n),
            ValueKind::U64(n) => i64::try_from(*n).ok(),
            ValueKind::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.problem(path, "expected a whole number");
        }
        parsed
    }

    /// A number with a fraction allowed.
    pub(crate) fn float(&mut self, path: &str) -> Option<f64> {
        let value = self.take(path)?;
        let parsed = match &value.kind {
            ValueKind::Float(f) => Some(*f),
            ValueKind::I64(n) => Some(*n as f64),
            ValueKind::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.problem(path, "expected a number");
        }
        parsed
    }

    /// A Go duration; absent and empty read as zero, as the Go exporter read them.
    pub(crate) fn duration(&mut self, path: &str) -> Duration {
        let Some(value) = self.take(path) else {
            return Duration::ZERO;
        };
        let text = match &value.kind {
            ValueKind::String(s) => s.clone(),
            ValueKind::I64(n) => n.to_string(),
            ValueKind::Float(f) => f.to_string(),
            _ => {
                self.problem(path, "expected a duration like 30s, 5m, 1h30m or 7d");
                return Duration::ZERO;
            }
        };
        match duration::parse_go(&text) {
            Ok(d) => d,
            Err(reason) => {
                self.problem(path, &format!("malformed duration: {reason}"));
                Duration::ZERO
            }
        }
    }

    /// A list of text items; a single text reads as a one-item list.
    pub(crate) fn list(&mut self, path: &str) -> Option<Vec<String>> {
        let value = self.take(path)?;
        match &value.kind {
            ValueKind::Array(items) => Some(
                items
                    .iter()
                    .map(|item| item.to_string().trim().to_string())
                    .filter(|item| !item.is_empty())
                    .collect(),
            ),
            ValueKind::String(s) => Some(vec![s.trim().to_string()]),
            _ => {
                self.problem(path, "expected a list");
                None
            }
        }
    }

    /// A list of Go durations.
    pub(crate) fn durations(&mut self, path: &str) -> Option<Vec<Duration>> {
        let items = self.list(path)?;
        let mut out = Vec::new();
        for item in items {
            match duration::parse_go(&item) {
                Ok(d) => out.push(d),
                Err(reason) => {
                    self.problem(path, &format!("malformed duration: {reason}"));
                    return None;
                }
            }
        }
        Some(out)
    }

    /// A secret's text: as [`GoFile::text`], but a problem never shows the value.
    pub(crate) fn secret(&mut self, path: &str) -> Option<String> {
        debug_assert!(SECRET_KEYS.contains(&path));
        let value = self.take(path)?;
        match &value.kind {
            ValueKind::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
            ValueKind::I64(_) | ValueKind::Float(_) | ValueKind::Boolean(_) => {
                Some(value.to_string())
            }
            _ => {
                self.problem(path, "expected text (value not shown: it is a secret)");
                None
            }
        }
    }
}

/// `github.orgs[3].org` → `github.orgs[].org`.
fn generic(path: &str) -> String {
    match path.strip_prefix("github.orgs[") {
        Some(rest) => match rest.split_once(']') {
            Some((_, field)) => format!("github.orgs[]{field}"),
            None => path.to_string(),
        },
        None => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_problems_and_known_ones_read() {
        let mut file = GoFile::parse(
            "server:\n  listen_addr: \":8080\"\n  colour: blue\ngithub:\n  orgs:\n    - org: a\n      app_id: 7\n      tokn: x\nextra: 1\n",
        )
        .expect("yaml");
        assert_eq!(file.orgs, 1);
        assert_eq!(file.text("server.listen_addr").as_deref(), Some(":8080"));
        assert_eq!(file.int("github.orgs[0].app_id"), Some(7));
        let problems = file.problems.join("\n");
        for key in ["server.colour", "github.orgs[0].tokn", "extra"] {
            assert!(problems.contains(key), "{key} not reported: {problems}");
        }
    }

    #[test]
    fn bad_values_are_problems_without_secret_values() {
        let mut file = GoFile::parse(
            "retry:\n  max_backoff: 5 minutes\nstore:\n  redis_password: [hunter2]\n",
        )
        .expect("yaml");
        assert_eq!(file.duration("retry.max_backoff"), Duration::ZERO);
        assert_eq!(file.secret("store.redis_password"), None);
        let problems = file.problems.join("\n");
        assert!(problems.contains("retry.max_backoff"), "{problems}");
        assert!(problems.contains("store.redis_password"), "{problems}");
        assert!(!problems.contains("hunter2"), "{problems}");
    }

    #[test]
    fn every_go_key_is_a_leaf_path() {
        let mut seen = BTreeSet::new();
        for key in GO_KEYS {
            assert!(seen.insert(*key), "{key} twice");
            assert!(!key.ends_with('.'), "{key}");
        }
    }
}
