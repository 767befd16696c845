//! Request accounting for `GET /_fake/requests`: totals, budget use, 304s, and counts by
//! endpoint (`"<METHOD> <route template>"`) and by status.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

#[derive(Debug, Default)]
pub struct Counters {
    total: AtomicU64,
    budget_consumed: AtomicU64,
    not_modified: AtomicU64,
    /// Small maps touched once per request; contention is negligible next to HTTP handling.
    by_endpoint: Mutex<BTreeMap<String, u64>>,
    by_status: Mutex<BTreeMap<String, u64>>,
}

/// The body of `GET /_fake/requests`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RequestCounts {
    pub total: u64,
    pub budget_consumed: u64,
    pub not_modified: u64,
    pub by_endpoint: BTreeMap<String, u64>,
    pub by_status: BTreeMap<String, u64>,
}

impl Counters {
    pub fn record(&self, endpoint: &str, status: u16, consumed_budget: bool) {
        self.total.fetch_add(1, Ordering::Relaxed);
        if consumed_budget {
            self.budget_consumed.fetch_add(1, Ordering::Relaxed);
        }
        if status == 304 {
            self.not_modified.fetch_add(1, Ordering::Relaxed);
        }
        bump(&self.by_endpoint, endpoint);
        match status_key(status) {
            Some(k) => bump(&self.by_status, k),
            None => bump(&self.by_status, &status.to_string()),
        }
    }

    pub fn snapshot(&self) -> RequestCounts {
        RequestCounts {
            total: self.total.load(Ordering::Relaxed),
            budget_consumed: self.budget_consumed.load(Ordering::Relaxed),
            not_modified: self.not_modified.load(Ordering::Relaxed),
            by_endpoint: lock(&self.by_endpoint).clone(),
            by_status: lock(&self.by_status).clone(),
        }
    }

    pub fn reset(&self) {
        self.total.store(0, Ordering::Relaxed);
        self.budget_consumed.store(0, Ordering::Relaxed);
        self.not_modified.store(0, Ordering::Relaxed);
        lock(&self.by_endpoint).clear();
        lock(&self.by_status).clear();
    }
}

/// Static keys for common statuses (no allocation); 0 stands for a reset connection.
fn status_key(status: u16) -> Option<&'static str> {
    const KEYS: &[(u16, &str)] = &[
        (200, "200"),
        (201, "201"),
        (202, "202"),
        (204, "204"),
        (304, "304"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (409, "409"),
        (422, "422"),
        (429, "429"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
        (0, "reset"),
    ];
    KEYS.iter().find(|(s, _)| *s == status).map(|(_, k)| *k)
}

fn bump(map: &Mutex<BTreeMap<String, u64>>, key: &str) {
    let mut m = lock(map);
    match m.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            m.insert(key.to_string(), 1);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Counters are plain numbers; a poisoned lock leaves them consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
