//! Injected faults (`POST /_fake/faults`): for requests whose path matches a regex, delay, answer
//! with a status, a malformed, truncated or endless body, endless pagination, a `next` link to a
//! foreign origin, or reset the connection — a limited number of times or until cleared. Every
//! fault taken is counted by kind ([`Faults::served`]), so a test can prove the fault was served
//! before asserting recovery.
//! Compiled only with the `faults` cargo feature (the exporter's `--demo` build has none).

use std::collections::BTreeMap;
use std::sync::Mutex;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Body of `POST /_fake/faults`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Matched against the request path without query and without the `/api/v3` prefix.
    pub path_regex: String,
    /// When set, also matched against the raw query string (without `?`; empty when none), so
    /// a fault can target one `?day=` of a report.
    #[serde(default)]
    pub query_regex: Option<String>,
    /// Status to answer with; absent or null keeps the real status.
    #[serde(default)]
    pub status: Option<u16>,
    /// How many matching requests get the fault; absent or null means until cleared.
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default)]
    pub delay_ms: u64,
    #[serde(default)]
    pub body: Option<FaultBody>,
    #[serde(default)]
    pub reset_connection: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultBody {
    /// A complete response whose body is not valid JSON.
    Malformed,
    /// The body cut in half (with a matching `content-length`).
    Truncated,
    /// A chunked body that never ends: a JSON array opened and filled with elements forever
    /// (REST only; stops when the client goes away).
    Endless,
    /// The real body, with a `Link` whose `rel="next"` always points one page further (past
    /// the last page the real answer is an empty list), so pagination never ends (REST only).
    EndlessPages,
    /// The real status and body, with the `Link` header's `rel="next"` moved to another origin
    /// ([`FOREIGN_ORIGIN`], same path and query), as a reverse proxy that does not rewrite
    /// `Link` headers shows it; on the last (or only) page a foreign `next` to `page + 1` is
    /// added. Only on REST list answers with status 200; other answers are left untouched.
    ForeignNextLink,
}

/// The origin of a [`FaultBody::ForeignNextLink`] `next` link: never resolvable (`.invalid`,
/// RFC 2606), on the discard port.
pub const FOREIGN_ORIGIN: &str = "http://foreign-origin.invalid:9";

impl FaultSpec {
    /// The kind name [`Faults::served`] counts this fault under.
    pub fn kind(&self) -> &'static str {
        if self.reset_connection {
            return "reset_connection";
        }
        if self.status.is_some() {
            return "status";
        }
        match self.body {
            Some(FaultBody::Malformed) => "malformed",
            Some(FaultBody::Truncated) => "truncated",
            Some(FaultBody::Endless) => "endless",
            Some(FaultBody::EndlessPages) => "endless_pages",
            Some(FaultBody::ForeignNextLink) => "foreign_next_link",
            None => "delay",
        }
    }
}

#[derive(Debug, Clone)]
struct Rule {
    id: u64,
    spec: FaultSpec,
    regex: Regex,
    query: Option<Regex>,
    remaining: Option<u32>,
}

#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<(u64, Vec<Rule>)>,
    served: Mutex<BTreeMap<&'static str, u64>>,
}

#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("invalid path_regex or query_regex")]
    Regex(#[from] regex::Error),
    #[error("status must be between 100 and 599")]
    Status,
}

impl Faults {
    pub fn add(&self, spec: FaultSpec) -> Result<u64, FaultError> {
        if spec.status.is_some_and(|s| !(100..=599).contains(&s)) {
            return Err(FaultError::Status);
        }
        let regex = Regex::new(&spec.path_regex)?;
        let query = spec.query_regex.as_deref().map(Regex::new).transpose()?;
        let mut rules = self.lock();
        rules.0 += 1;
        let id = rules.0;
        let remaining = spec.count;
        rules.1.push(Rule {
            id,
            spec,
            regex,
            query,
            remaining,
        });
        Ok(id)
    }

    pub fn clear(&self) {
        self.lock().1.clear();
    }

    /// Active faults with their remaining counts, for `GET /_fake/faults`.
    pub fn list(&self) -> Vec<serde_json::Value> {
        self.lock()
            .1
            .iter()
            .map(|r| serde_json::json!({"id": r.id, "spec": r.spec, "remaining": r.remaining}))
            .collect()
    }

    /// Takes the first fault matching `path` and `query` (using up one of its count). Cheap
    /// when none are set.
    pub fn take(&self, path: &str, query: &str) -> Option<FaultSpec> {
        let mut rules = self.lock();
        if rules.1.is_empty() {
            return None;
        }
        let pos = rules.1.iter().position(|r| {
            r.regex.is_match(path) && r.query.as_ref().is_none_or(|q| q.is_match(query))
        })?;
        let rule = &mut rules.1[pos];
        let spec = rule.spec.clone();
        *self
            .served
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(spec.kind())
            .or_default() += 1;
        if let Some(n) = rule.remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                rules.1.remove(pos);
            }
        }
        Some(spec)
    }

    /// Faults served so far by kind (`status`, `delay`, `malformed`, `truncated`, `endless`,
    /// `endless_pages`, `foreign_next_link`, `reset_connection`); never reset by
    /// [`Faults::clear`].
    pub fn served(&self) -> BTreeMap<String, u64> {
        self.served
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, Vec<Rule>)> {
        // Rules are replaced whole; a poisoned lock cannot leave a half-written rule.
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A counted fault fires exactly `count` times; others stay until cleared.
    #[test]
    fn counted_faults_expire() {
        let f = Faults::default();
        let spec = |count| FaultSpec {
            path_regex: "^/meta$".into(),
            query_regex: None,
            status: Some(503),
            count,
            delay_ms: 0,
            body: None,
            reset_connection: false,
        };
        f.add(spec(Some(2))).ok();
        assert!(f.take("/meta", "").is_some());
        assert!(f.take("/rate_limit", "").is_none());
        assert!(f.take("/meta", "").is_some());
        assert!(f.take("/meta", "").is_none());
        f.add(spec(None)).ok();
        for _ in 0..5 {
            assert!(f.take("/meta", "").is_some());
        }
        f.clear();
        assert!(f.take("/meta", "").is_none());
        assert_eq!(f.served().get("status"), Some(&7));
    }

    /// A fault with a query regex takes only the requests whose query matches.
    #[test]
    fn query_regex_narrows_a_fault() {
        let f = Faults::default();
        let spec: FaultSpec = serde_json::from_str(
            r#"{"path_regex": "/organization-1-day$", "query_regex": "(^|&)day=2026-12-06(&|$)", "status": 502}"#,
        )
        .expect("fault spec");
        f.add(spec).ok();
        let path = "/orgs/acme/copilot/metrics/reports/organization-1-day";
        assert!(f.take(path, "day=2026-12-05").is_none());
        assert!(f.take(path, "").is_none());
        assert!(f.take(path, "day=2026-12-06").is_some());
        assert!(f.take(path, "x=1&day=2026-12-06").is_some());
        assert_eq!(f.served().get("status"), Some(&2));
    }

    /// Body kinds parse from their snake_case names and are counted under them.
    #[test]
    fn endless_kinds_parse_and_count() {
        let f = Faults::default();
        for (name, kind) in [
            ("endless", "endless"),
            ("endless_pages", "endless_pages"),
            ("foreign_next_link", "foreign_next_link"),
        ] {
            let spec: FaultSpec = serde_json::from_str(&format!(
                r#"{{"path_regex": "^/x$", "body": "{name}", "count": 1}}"#
            ))
            .expect("fault spec");
            assert_eq!(spec.kind(), kind);
            f.add(spec).ok();
            assert!(f.take("/x", "").is_some());
        }
        let served = f.served();
        assert_eq!(served.get("endless"), Some(&1));
        assert_eq!(served.get("endless_pages"), Some(&1));
        assert_eq!(served.get("foreign_next_link"), Some(&1));
    }
}
