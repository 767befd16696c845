//! The mapping of the Go-era `copilot`, `copilot.enterprise` and `telemetry` sections. A
//! hashed Copilot label mode gets its salt as a `_file` indirection; telemetry keys are written
//! only when this build's key table knows them, and otherwise listed as not carried over yet.

use std::time::Duration;

use url::Url;

use super::backends::SECRETS_DIR;
use super::convert::{duration_in, shown};
use super::go_file::GoFile;
use super::output::{ChangeKind::*, Out, Val};
use crate::config;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// `copilot` and `copilot.enterprise`.
pub(crate) fn copilot(f: &mut GoFile, o: &mut Out) {
    let enabled = f.boolean("copilot.enabled").unwrap_or(false);
    o.set("copilot.enabled", Val::Bool(enabled));
    let interval = duration_in(
        f,
        o,
        "copilot.scrape_interval",
        "copilot.scrape_interval",
        6 * HOUR,
        (MINUTE, 7 * DAY),
    );
    duration_in(
        f,
        o,
        "copilot.request_timeout",
        "copilot.request_timeout",
        30 * SECOND,
        (SECOND, HOUR),
    );
    duration_in(
        f,
        o,
        "copilot.download_timeout",
        "copilot.download_timeout",
        90 * SECOND,
        (SECOND, HOUR),
    );
    let enterprise = f.boolean("copilot.enterprise.enabled").unwrap_or(false);
    for flag in [
        "include_org_28d",
        "include_org_users_28d",
        "include_enterprise_28d",
        "include_enterprise_users_28d",
        "include_breakdown_ide",
        "include_breakdown_feature",
        "include_breakdown_language",
        "include_breakdown_model",
        "include_pull_request_activity",
    ] {
        let key = format!("copilot.{flag}");
        let Some(mut on) = f.boolean(&key) else {
            continue;
        };
        if on && flag.contains("enterprise") && !enterprise {
            on = false;
            o.note(
                Default,
                format!("{key}: forced false without copilot.enterprise.enabled, as before"),
            );
        }
        o.set(&key, Val::Bool(on));
    }
    let mode = f
        .text("copilot.user_label_mode")
        .unwrap_or_else(|| "login".into());
    if !["login", "id", "hashed", "none"].contains(&mode.as_str()) {
        f.problems.push(format!(
            "`copilot.user_label_mode`: `{mode}` is not login, id, hashed or none"
        ));
    } else {
        if mode == "hashed" {
            let file = format!("{SECRETS_DIR}/copilot-user-label-salt");
            o.set("copilot.user_label_salt_file", Val::Text(file.clone()));
            o.note(
                Secret,
                format!(
                    "copilot.user_label_mode = hashed needs a secret salt: put one in {file} \
                     (or set GITHUB_STATS_COPILOT__USER_LABEL_SALT_FILE); labels become the \
                     first 16 hex digits of SHA-256(salt + login), not the unsalted 64-digit hash"
                ),
            );
        }
        o.set("copilot.user_label_mode", Val::Text(mode));
    }
    for flag in ["emit_day_label", "refresh_if_report_unchanged"] {
        let key = format!("copilot.{flag}");
        if let Some(on) = f.boolean(&key) {
            o.set(&key, Val::Bool(on));
        }
    }
    for cap in ["max_records_per_report", "max_users_per_report"] {
        let key = format!("copilot.{cap}");
        if let Some(n) = f.int(&key) {
            o.set(&key, Val::Int(n.max(0)));
        }
    }
    enterprise_section(f, o, enterprise);
    if enabled {
        let retention = match o.get("store.retention") {
            Some(Val::Dur(d)) => *d,
            _ => DAY,
        };
        if interval >= retention {
            f.problems.push(format!(
                "`copilot.scrape_interval`: {} must be shorter than store.retention ({}), or \
                 the Copilot series expire between runs",
                shown(interval),
                shown(retention)
            ));
        }
        o.note(
            Behaviour,
            "Copilot metrics come from the report API with new families and labels \
             (docs/copilot-metrics.md; no repo=\"*\" or user=\"all\"); copilot.include_seats \
             (new, true) adds gh_copilot_seats",
        );
    }
}

fn enterprise_section(f: &mut GoFile, o: &mut Out, enabled: bool) {
    let slug = f.text("copilot.enterprise.slug");
    let app_id = f.int("copilot.enterprise.app_id");
    let installation_id = f.int("copilot.enterprise.installation_id");
    let key_path = f.text("copilot.enterprise.private_key_path");
    if !enabled {
        return;
    }
    o.set("copilot.enterprise.enabled", Val::Bool(true));
    match slug {
        Some(slug) => o.set("copilot.enterprise.slug", Val::Text(slug)),
        None => f
            .problems
            .push("`copilot.enterprise.slug`: required when enabled".into()),
    }
    for (name, id) in [("app_id", app_id), ("installation_id", installation_id)] {
        match id.filter(|n| *n > 0) {
            Some(id) => o.set(&format!("copilot.enterprise.{name}"), Val::Int(id)),
            None => f.problems.push(format!(
                "`copilot.enterprise.{name}`: required when enabled, above 0"
            )),
        }
    }
    match key_path {
        Some(path) => o.set("copilot.enterprise.private_key_path", Val::Text(path)),
        None => f
            .problems
            .push("`copilot.enterprise.private_key_path`: required when enabled".into()),
    }
}

/// `telemetry`: the effective trace settings, written only where this build knows the key.
pub(crate) fn telemetry(f: &mut GoFile, o: &mut Out) {
    let enabled = f.boolean("telemetry.otel_enabled").unwrap_or(false);
    let endpoint = f.text("telemetry.otel_exporter_otlp_endpoint");
    let mode = f.text("telemetry.otel_trace_mode");
    let ratio = f.float("telemetry.otel_trace_sample_ratio").unwrap_or(0.0);
    let any = [
        "otel_enabled",
        "otel_exporter_otlp_endpoint",
        "otel_trace_mode",
        "otel_trace_sample_ratio",
    ]
    .iter()
    .any(|k| f.has(&format!("telemetry.{k}")));
    if !any {
        return;
    }
    if !enabled {
        o.note(
            Dropped,
            "telemetry: otel_enabled = false made the other telemetry keys inert; nothing is \
             written (tracing is off by default)",
        );
        return;
    }
    let mode = match mode.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some(m @ ("off" | "errors" | "sampled" | "detailed")) => m.to_string(),
        _ => "sampled".to_string(),
    };
    let mut ratio = if ratio.is_finite() {
        ratio.clamp(0.0, 1.0)
    } else {
        0.0
    };
    if mode == "errors" && ratio <= 0.0 {
        ratio = 0.01;
    }
    let mut wanted: Vec<(&str, Val)> = vec![("telemetry.otel_enabled", Val::Bool(true))];
    if let Some(endpoint) = endpoint {
        match otlp_endpoint(&endpoint) {
            Some(url) => wanted.push(("telemetry.otel_exporter_otlp_endpoint", Val::Text(url))),
            None => f.problems.push(format!(
                "`telemetry.otel_exporter_otlp_endpoint`: `{endpoint}` is not a URL"
            )),
        }
    }
    if mode == "errors" {
        o.note(
            Behaviour,
            "telemetry.otel_trace_mode = errors sampled like `sampled`, at a ratio of at \
             least 0.01; written as errors with that ratio",
        );
    }
    wanted.push(("telemetry.otel_trace_mode", Val::Text(mode)));
    wanted.push(("telemetry.otel_trace_sample_ratio", Val::Float(ratio)));
    for (key, value) in wanted {
        if config::is_known_key(key) {
            o.set(key, value);
        } else {
            f.problems.push(format!(
                "`{key}`: cannot be carried over yet: this build has no such key"
            ));
        }
    }
}

/// An OTLP/HTTP traces URL: `http://` when the scheme is missing, `/v1/traces` when the path
/// is empty or `/`.
fn otlp_endpoint(raw: &str) -> Option<String> {
    let with_scheme = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("http://{raw}")
    };
    let mut url = Url::parse(&with_scheme).ok()?;
    url.host_str()?;
    if url.path().is_empty() || url.path() == "/" {
        url.set_path("/v1/traces");
    }
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otlp_endpoints_get_scheme_and_path() {
        assert_eq!(
            otlp_endpoint("collector:4318").as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        assert_eq!(
            otlp_endpoint("https://c.example/").as_deref(),
            Some("https://c.example/v1/traces")
        );
        assert_eq!(
            otlp_endpoint("http://c:4318/custom").as_deref(),
            Some("http://c:4318/custom")
        );
    }
}
