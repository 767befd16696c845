//! GitHub Copilot usage metrics (the report API GitHub serves since 2026) and Copilot seats:
//! what the exporter reads per `docs/copilot-metrics.md`, generated deterministically from the
//! seed, and the exact `gh_copilot_*` series a correct exporter serves (`GET /_fake/copilot/truth`).
//!
//! - [`model`]: seat holders, each user's Copilot day, day records as exact aggregates;
//! - [`records`]: the JSON of day and user records (GitHub's nested schema);
//! - [`blob`]: signed, expiring download links and the files behind them (`/_blob/copilot/…`);
//! - [`seats`]: `GET /orgs/{org}/copilot/billing/seats`;
//! - [`knobs`]: `/_fake/copilot` test knobs (403/404 per scope, expired links, malformed values,
//!   files per report);
//! - [`truth`]: the expected series for any `copilot.*` settings.
//!
//! Days: "today" is the fake clock's UTC day `T`. The 28-day reports end at `T − 2` and start 27
//! days earlier; a 1-day report exists (200) for every day up to `T − 1` and is 204 from `T` on.

pub mod blob;
pub mod knobs;
pub mod model;
pub mod records;
pub mod seats;
pub mod truth;

use crate::hash::hash;
pub use model::Scope;

/// Which report of a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// `organization-28-day` / `enterprise-28-day`.
    Scope28,
    Users28,
    /// `organization-1-day` / `enterprise-1-day`.
    Scope1,
    Users1,
}

impl ReportKind {
    pub fn name(self, scope: Scope) -> &'static str {
        let org = matches!(scope, Scope::Org(_));
        match self {
            ReportKind::Scope28 if org => "organization-28-day",
            ReportKind::Scope28 => "enterprise-28-day",
            ReportKind::Users28 => "users-28-day",
            ReportKind::Scope1 if org => "organization-1-day",
            ReportKind::Scope1 => "enterprise-1-day",
            ReportKind::Users1 => "users-1-day",
        }
    }

    pub fn from_name(name: &str, scope: Scope) -> Option<ReportKind> {
        [
            ReportKind::Scope28,
            ReportKind::Users28,
            ReportKind::Scope1,
            ReportKind::Users1,
        ]
        .into_iter()
        .find(|k| k.name(scope) == name)
    }

    pub fn is_users(self) -> bool {
        matches!(self, ReportKind::Users28 | ReportKind::Users1)
    }
}

/// The installation id of the enterprise's App installation (stable for a seed).
pub fn enterprise_installation_id(seed: u64) -> u64 {
    48_000_000 + hash(&[seed, 0xCA]) % 1_000
}
