//! Test knobs of the Copilot endpoints, set through `/_fake/copilot`: an org's (or the
//! enterprise's) Copilot answering 403/404, the next N download links issued already expired,
//! every link of one report day issued expired, malformed values in report files, and the
//! number of files per report. Expired links issued are counted.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Default number of download files per report (org 1-day reports always have one).
pub const DEFAULT_FILES: u32 = 3;

/// The knobs' state, as `GET /_fake/copilot` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KnobState {
    /// Lower-case org login → 403 or 404 for all its Copilot endpoints.
    pub org_status: BTreeMap<String, u16>,
    /// 403 or 404 for the enterprise's endpoints.
    pub enterprise_status: Option<u16>,
    /// How many of the next issued download links are already expired.
    pub expire_next_links: u32,
    /// Every download link issued for a report of this day (`report_day`, or the
    /// `report_end_day` of a 28-day report) is already expired, until cleared (`""`).
    pub expire_links_of_day: Option<String>,
    /// Download links issued already expired (by either knob) since the last reset.
    pub expired_links_issued: u64,
    /// Links issued while on serve files with one broken NDJSON line and one unknown-shaped value
    /// (users reports) or one wrong-shaped value (scope 28-day reports).
    pub malformed: bool,
    /// Download files per report (at least 1).
    pub files_per_report: u32,
}

impl Default for KnobState {
    fn default() -> Self {
        KnobState {
            org_status: BTreeMap::new(),
            enterprise_status: None,
            expire_next_links: 0,
            expire_links_of_day: None,
            expired_links_issued: 0,
            malformed: false,
            files_per_report: DEFAULT_FILES,
        }
    }
}

/// Body of `POST /_fake/copilot`: only the fields given change. A status of 200 (or `null` for
/// the enterprise) enables Copilot again.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnobChange {
    #[serde(default)]
    pub org_status: BTreeMap<String, u16>,
    #[serde(default)]
    pub enterprise_status: Option<u16>,
    #[serde(default)]
    pub expire_next_links: Option<u32>,
    /// `YYYY-MM-DD`; `""` clears it.
    #[serde(default)]
    pub expire_links_of_day: Option<String>,
    #[serde(default)]
    pub malformed: Option<bool>,
    #[serde(default)]
    pub files_per_report: Option<u32>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KnobError {
    #[error("a status must be 200, 403 or 404")]
    Status,
    #[error("files_per_report must be between 1 and 50")]
    Files,
}

#[derive(Debug, Default)]
pub struct Knobs {
    state: Mutex<KnobState>,
}

fn status_ok(s: u16) -> bool {
    matches!(s, 200 | 403 | 404)
}

impl Knobs {
    pub fn apply(&self, c: KnobChange) -> Result<KnobState, KnobError> {
        if c.org_status.values().any(|s| !status_ok(*s))
            || c.enterprise_status.is_some_and(|s| !status_ok(s))
        {
            return Err(KnobError::Status);
        }
        if c.files_per_report.is_some_and(|n| !(1..=50).contains(&n)) {
            return Err(KnobError::Files);
        }
        let mut s = self.lock();
        for (org, status) in c.org_status {
            if status == 200 {
                s.org_status.remove(&org.to_ascii_lowercase());
            } else {
                s.org_status.insert(org.to_ascii_lowercase(), status);
            }
        }
        if let Some(e) = c.enterprise_status {
            s.enterprise_status = (e != 200).then_some(e);
        }
        if let Some(n) = c.expire_next_links {
            s.expire_next_links = n;
        }
        if let Some(day) = c.expire_links_of_day {
            s.expire_links_of_day = (!day.is_empty()).then_some(day);
        }
        if let Some(m) = c.malformed {
            s.malformed = m;
        }
        if let Some(n) = c.files_per_report {
            s.files_per_report = n;
        }
        Ok(s.clone())
    }

    pub fn reset(&self) {
        *self.lock() = KnobState::default();
    }

    pub fn snapshot(&self) -> KnobState {
        self.lock().clone()
    }

    /// 403/404 configured for an org, if any.
    pub fn org_status(&self, login: &str) -> Option<u16> {
        self.lock()
            .org_status
            .get(&login.to_ascii_lowercase())
            .copied()
    }

    pub fn enterprise_status(&self) -> Option<u16> {
        self.lock().enterprise_status
    }

    /// Whether the next issued link, for a report of `day`, is to be expired (uses one of
    /// `expire_next_links`, or matches `expire_links_of_day`); counted when it is.
    pub fn take_expired(&self, day: &str) -> bool {
        let mut s = self.lock();
        let expired = if s.expire_next_links > 0 {
            s.expire_next_links -= 1;
            true
        } else {
            s.expire_links_of_day.as_deref() == Some(day)
        };
        if expired {
            s.expired_links_issued += 1;
        }
        expired
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, KnobState> {
        // Plain values replaced whole; a poisoned lock leaves them consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
