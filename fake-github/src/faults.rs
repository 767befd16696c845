//! Injected faults (`POST /_fake/faults`): for requests whose path matches a regex, delay, answer
//! with a status, a malformed or truncated body, or reset the connection — a limited number of
//! times or until cleared.

use std::sync::Mutex;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Body of `POST /_fake/faults`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Matched against the request path without query and without the `/api/v3` prefix.
    pub path_regex: String,
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
#[serde(rename_all = "lowercase")]
pub enum FaultBody {
    /// A complete response whose body is not valid JSON.
    Malformed,
    /// The body cut in half (with a matching `content-length`).
    Truncated,
}

#[derive(Debug, Clone)]
struct Rule {
    id: u64,
    spec: FaultSpec,
    regex: Regex,
    remaining: Option<u32>,
}

#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<(u64, Vec<Rule>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("invalid path_regex")]
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
        let mut rules = self.lock();
        rules.0 += 1;
        let id = rules.0;
        let remaining = spec.count;
        rules.1.push(Rule {
            id,
            spec,
            regex,
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

    /// Takes the first matching fault (using up one of its count). Cheap when none are set.
    pub fn take(&self, path: &str) -> Option<FaultSpec> {
        let mut rules = self.lock();
        if rules.1.is_empty() {
            return None;
        }
        let pos = rules.1.iter().position(|r| r.regex.is_match(path))?;
        let rule = &mut rules.1[pos];
        let spec = rule.spec.clone();
        if let Some(n) = rule.remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                rules.1.remove(pos);
            }
        }
        Some(spec)
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
            status: Some(503),
            count,
            delay_ms: 0,
            body: None,
            reset_connection: false,
        };
        f.add(spec(Some(2))).ok();
        assert!(f.take("/meta").is_some());
        assert!(f.take("/rate_limit").is_none());
        assert!(f.take("/meta").is_some());
        assert!(f.take("/meta").is_none());
        f.add(spec(None)).ok();
        for _ in 0..5 {
            assert!(f.take("/meta").is_some());
        }
        f.clear();
        assert!(f.take("/meta").is_none());
    }
}
