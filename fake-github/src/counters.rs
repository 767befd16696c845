//! Request accounting for `GET /_fake/requests`: totals, budget use, 304s, and counts by
//! endpoint (`"<METHOD> <route template>"`, `"POST /graphql"`) and by status.
//!
//! It also keeps the org request log (`GET /_fake/org_requests`, [`OrgRequest`]): which client
//! asked about which org when, for REST and GraphQL.
//!
//! `budget_consumed` counts REST units (`core` and `search`, one per metered request);
//! `budget_consumed_by_resource` splits it and adds `graphql`, counted in points (a GraphQL
//! query's cost), so REST-only tools keep reading `budget_consumed` as before.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

#[derive(Debug, Default)]
pub struct Counters {
    total: AtomicU64,
    budget_consumed: AtomicU64,
    not_modified: AtomicU64,
    by_resource: Mutex<BTreeMap<String, u64>>,
    /// Small maps touched once per request; contention is negligible next to HTTP handling.
    by_endpoint: Mutex<BTreeMap<String, u64>>,
    by_status: Mutex<BTreeMap<String, u64>>,
    /// The latest org-scoped requests, REST and GraphQL (bounded): who asked about which org,
    /// when.
    org_log: Mutex<std::collections::VecDeque<OrgRequest>>,
    /// Copilot report downloads (`/_blob/copilot/…`).
    downloads: AtomicU64,
    downloads_with_authorization: AtomicU64,
    downloads_by_report: Mutex<BTreeMap<String, u64>>,
}

/// Org-scoped requests the log keeps (the oldest are dropped first).
pub const ORG_LOG_CAPACITY: usize = 50_000;

/// One org-scoped request, for tests that check which client scraped an org when (e.g. that
/// two replicas never scrape one org at once): a REST request to `/orgs/{org}/…` or
/// `/repos/{org}/…`, or a GraphQL request (`POST /graphql`, `POST /api/graphql`), logged once
/// per distinct org it names ([`crate::graphql::orgs`]). Serialized as
/// `{"at", "org", "endpoint", "user_agent"}` by `GET /_fake/org_requests`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OrgRequest {
    /// The fake's clock when the request arrived (Unix seconds).
    pub at: f64,
    /// As the request spells it (the path segment, or the GraphQL argument / qualifier).
    pub org: String,
    /// The endpoint template (`GET /orgs/{org}/repos`), or `POST /graphql`.
    pub endpoint: String,
    /// The request's `User-Agent` (the exporter names its replica there).
    pub user_agent: String,
}

/// The body of `GET /_fake/requests`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RequestCounts {
    pub total: u64,
    /// REST units (`core` + `search`).
    pub budget_consumed: u64,
    /// `core` and `search` in units, `graphql` in points; only resources used so far.
    pub budget_consumed_by_resource: BTreeMap<String, u64>,
    pub not_modified: u64,
    pub by_endpoint: BTreeMap<String, u64>,
    pub by_status: BTreeMap<String, u64>,
    /// Requests to Copilot report download links (also in `total`, `by_endpoint` and
    /// `by_status`; never in the budget).
    pub download_requests: u64,
    /// Download requests that carried an `Authorization` header (a client leaking its token).
    pub download_requests_with_authorization: u64,
    /// Download requests by report (`organization-28-day`, `users-28-day`, …).
    pub download_requests_by_report: BTreeMap<String, u64>,
}

impl Counters {
    /// Records a request that used one `core` unit if `consumed_budget`.
    pub fn record(&self, endpoint: &str, status: u16, consumed_budget: bool) {
        self.record_use(endpoint, status, "core", u64::from(consumed_budget));
    }

    /// Records a request that used `units` of `resource` (`core`, `search` or `graphql`).
    pub fn record_use(&self, endpoint: &str, status: u16, resource: &str, units: u64) {
        self.total.fetch_add(1, Ordering::Relaxed);
        if units > 0 {
            if resource != "graphql" {
                self.budget_consumed.fetch_add(units, Ordering::Relaxed);
            }
            let mut m = lock(&self.by_resource);
            *m.entry(resource.to_string()).or_default() += units;
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
            budget_consumed_by_resource: lock(&self.by_resource).clone(),
            not_modified: self.not_modified.load(Ordering::Relaxed),
            by_endpoint: lock(&self.by_endpoint).clone(),
            by_status: lock(&self.by_status).clone(),
            download_requests: self.downloads.load(Ordering::Relaxed),
            download_requests_with_authorization: self
                .downloads_with_authorization
                .load(Ordering::Relaxed),
            download_requests_by_report: lock(&self.downloads_by_report).clone(),
        }
    }

    /// Records a download of a Copilot report file (no budget).
    pub fn record_download(&self, report: &str, with_authorization: bool, status: u16) {
        self.downloads.fetch_add(1, Ordering::Relaxed);
        if with_authorization {
            self.downloads_with_authorization
                .fetch_add(1, Ordering::Relaxed);
        }
        bump(&self.downloads_by_report, report);
        self.record_use("GET /_blob/copilot/{report}/…", status, "core", 0);
    }

    /// Records an org-scoped request in the bounded log.
    pub fn record_org(&self, request: OrgRequest) {
        let mut log = lock(&self.org_log);
        if log.len() >= ORG_LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(request);
    }

    /// The org-scoped requests still in the log, oldest first.
    pub fn org_log(&self) -> Vec<OrgRequest> {
        self.org_log_since(None)
    }

    /// The org-scoped requests still in the log with `at >= since` (all when `None`), oldest
    /// first.
    pub fn org_log_since(&self, since: Option<f64>) -> Vec<OrgRequest> {
        lock(&self.org_log)
            .iter()
            .filter(|r| since.is_none_or(|s| r.at >= s))
            .cloned()
            .collect()
    }

    pub fn reset(&self) {
        lock(&self.org_log).clear();
        self.total.store(0, Ordering::Relaxed);
        self.budget_consumed.store(0, Ordering::Relaxed);
        self.not_modified.store(0, Ordering::Relaxed);
        lock(&self.by_resource).clear();
        lock(&self.by_endpoint).clear();
        lock(&self.by_status).clear();
        self.downloads.store(0, Ordering::Relaxed);
        self.downloads_with_authorization
            .store(0, Ordering::Relaxed);
        lock(&self.downloads_by_report).clear();
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
