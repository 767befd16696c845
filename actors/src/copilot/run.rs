//! What one Copilot run of one scope is, seen from the decisions: the port the run goes
//! through ([`CopilotSource`]), what it returns ([`RunOutput`]), what it remembers for the next
//! run ([`RunMemory`], one [`Part`] per report family), what a failed part means
//! ([`PartError`]) and the recovery rule ([`settle`]): a permanent failure (403/404) takes the
//! part's series away, a transient one keeps the previous series. A 1-day report that failed
//! after the latest day read is remembered ([`Part::failed_day`]) and goes to backfill; a
//! recovered day joins the memory only when it is newer than the latest day ([`apply_day`]),
//! so a backfilled day never replaces a newer one. [`attempt`] skips the run of a user account,
//! which has no Copilot reports.

use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};

use super::mapping::{self, MapSettings, Scope};
use super::model::DayRecord;
use crate::calendar::day_start;
use crate::ports::Sample;
use crate::scrape::owner::{copilot_skip_reason, OwnerKind};
use crate::scrape::port::{ApiError, ApiErrorKind, ApiTelemetry};

/// One scope's Copilot reports, as the CopilotActor runs them. The adapter does the GitHub
/// calls (with the token) and the downloads (without it); pagination, retries and signed links
/// are its business.
pub trait CopilotSource: Send + Sync + 'static {
    /// Who the reports are about.
    fn scope(&self) -> &Scope;
    /// Runs every enabled part, starting from what the previous run remembered; `now` is Unix
    /// seconds (the seats' reference when GitHub sends no `Date`).
    fn run(self: Arc<Self>, previous: RunMemory, now: f64) -> BoxFuture<'static, RunOutput>;
    /// The telemetry of the scope's GitHub client (request totals since it started).
    fn telemetry(&self) -> ApiTelemetry;
    /// Reads the 1-day report of `day` (`YYYY-MM-DD`) again and applies it to `previous`
    /// ([`apply_day`]); an error when the report cannot be read whole.
    fn recover_day(
        self: Arc<Self>,
        previous: RunMemory,
        day: String,
    ) -> BoxFuture<'static, Result<DayRecovery, PartError>>;
    /// The kind of account the scope is (the adapter asks GitHub once and keeps the answer):
    /// a user account has no Copilot reports ([`copilot_skip_reason`]). The default, for an
    /// enterprise, is an organization.
    fn owner_kind(self: Arc<Self>) -> BoxFuture<'static, Result<OwnerKind, ApiError>> {
        futures::future::ready(Ok(OwnerKind::Organization)).boxed()
    }
}

/// What reading one report day again did.
#[derive(Debug)]
pub enum DayRecovery {
    /// The day is newer than the latest day served: the memory to publish (and what the read
    /// skipped and downloaded).
    Applied(Box<RunOutput>),
    /// The latest day served is that day or a newer one: nothing to write.
    Covered,
}

/// What the CopilotActor does about one scheduled run, once the owner's kind is known.
#[derive(Debug)]
pub enum Attempt {
    /// The reports were read (or failed, see [`RunOutput::problems`]).
    Ran(Box<RunOutput>),
    /// Not applicable to this owner, for the reason given.
    Skipped(&'static str),
}

/// Runs `source` unless its owner has no Copilot reports; an owner whose kind could not be
/// learnt is a failed run that keeps the previous series (it is asked again next time).
pub async fn attempt(source: Arc<dyn CopilotSource>, previous: RunMemory, now: f64) -> Attempt {
    match source.clone().owner_kind().await {
        Ok(kind) => match copilot_skip_reason(kind) {
            Some(reason) => Attempt::Skipped(reason),
            None => Attempt::Ran(Box::new(source.run(previous, now).await)),
        },
        Err(e) => Attempt::Ran(Box::new(RunOutput {
            memory: previous,
            problems: vec![format!("owner type unknown: {e}")],
            ..RunOutput::default()
        })),
    }
}

/// One part of a run's series and the report days it used.
#[derive(Debug, Clone, Default)]
pub struct Part {
    pub samples: Arc<Vec<Sample>>,
    /// (report name, day used) for the staleness gauge.
    pub days: Vec<(String, String)>,
    /// The report's `report_end_day`, for the unchanged check.
    pub end_day: Option<String>,
    /// The latest day record (org part only), reused when the report did not change.
    pub latest: Option<Arc<DayRecord>>,
    /// The newest 1-day report used (org part only).
    pub one_day: Option<String>,
    /// A 1-day report after `latest` that failed (org part only): its day is in backfill and
    /// the part is incomplete until a day at least as new is read.
    pub failed_day: Option<String>,
}

/// What a run keeps for the next one.
#[derive(Debug, Clone, Default)]
pub struct RunMemory {
    pub org: Option<Part>,
    pub users: Option<Part>,
    pub seats: Option<Part>,
}

/// The result of one run.
#[derive(Debug, Default)]
pub struct RunOutput {
    pub memory: RunMemory,
    /// (report, reason, count) of records skipped during this run.
    pub skipped: Vec<(String, &'static str, u64)>,
    pub download_bytes: u64,
    /// Why parts failed (empty when every part succeeded); safe to show.
    pub problems: Vec<String>,
}

/// A part that could not be read.
#[derive(Debug)]
pub struct PartError {
    /// 403/404 on a report or seats endpoint: the part's families are not served.
    pub permanent: bool,
    /// Why, safe to show.
    pub reason: String,
}

impl PartError {
    /// What a failed GitHub call of report `what` means: 403 and 404 are permanent (no
    /// permission, or Copilot metrics not enabled); anything else is transient.
    pub fn api(what: &str, e: &ApiError) -> PartError {
        let permanent = matches!(e.kind, ApiErrorKind::Forbidden | ApiErrorKind::NotFound);
        let reason = match e.kind {
            ApiErrorKind::Forbidden => format!(
                "{what}: 403 Forbidden (the credential lacks the Copilot metrics permission)"
            ),
            ApiErrorKind::NotFound => {
                format!("{what}: 404 Not Found (Copilot metrics not enabled, or no access)")
            }
            _ => format!("{what}: {e}"),
        };
        PartError { permanent, reason }
    }

    /// A failure that keeps the previous series.
    pub fn transient(reason: String) -> PartError {
        PartError {
            permanent: false,
            reason,
        }
    }
}

/// A part's outcome: on a permanent failure its series go away; on a transient one the
/// previous series stay. The failure's reason joins the run's problems.
pub fn settle(
    scope: &Scope,
    result: Result<Part, PartError>,
    previous: Option<Part>,
    out: &mut RunOutput,
) -> Option<Part> {
    match result {
        Ok(part) => Some(part),
        Err(e) => {
            tracing::warn!(scope = scope.scope, org = %scope.org, reason = %e.reason, "copilot report failed");
            out.problems.push(e.reason);
            if e.permanent {
                None
            } else {
                previous
            }
        }
    }
}

/// The org (or enterprise) part from the 28-day report's end day, the latest day record, the
/// newest 1-day report used and a 1-day report that failed after it: the latest day's series
/// and the report-day gauges.
pub fn org_part(
    scope: &Scope,
    map: &MapSettings,
    end_day: Option<String>,
    latest: Option<Arc<DayRecord>>,
    one_day: Option<String>,
    failed_day: Option<String>,
) -> Part {
    let r = scope.report_kind();
    let (report28, report1) = (format!("{r}-28-day"), format!("{r}-1-day"));
    let mut samples = latest
        .as_deref()
        .map(|rec| mapping::day_record_series(scope, rec, map))
        .unwrap_or_default();
    let mut days = Vec::new();
    if let Some(end) = &end_day {
        samples.extend(mapping::report_day_series(scope, &report28, end, map));
        days.push((report28, end.clone()));
    }
    if let Some(day) = &one_day {
        samples.extend(mapping::report_day_series(scope, &report1, day, map));
        days.push((report1, day.clone()));
    }
    Part {
        samples: Arc::new(samples),
        days,
        end_day,
        latest,
        one_day,
        failed_day,
    }
}

/// Applies a 1-day report's day record read again (by backfill) to what the last run
/// remembered: `None` when the latest day remembered is that day or newer (a backfilled day
/// never replaces a newer one), else the memory with that day as the latest — a failed day
/// that is not newer than it no longer counts.
pub fn apply_day(
    scope: &Scope,
    map: &MapSettings,
    previous: &RunMemory,
    record: DayRecord,
) -> Option<RunMemory> {
    let day = record.day.clone()?;
    day_start(&day)?;
    let org = previous.org.clone().unwrap_or_default();
    let latest_day = org.latest.as_ref().and_then(|l| l.day.clone());
    if latest_day.as_deref().is_some_and(|l| l >= day.as_str()) {
        return None;
    }
    let failed_day = org.failed_day.filter(|f| f.as_str() > day.as_str());
    let one_day = match org.one_day {
        Some(d) if d > day => Some(d),
        _ => Some(day),
    };
    let part = org_part(
        scope,
        map,
        org.end_day,
        Some(Arc::new(record)),
        one_day,
        failed_day,
    );
    Some(RunMemory {
        org: Some(part),
        ..previous.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            scope: "organization",
            org: "acme".into(),
        }
    }

    fn previous() -> Option<Part> {
        Some(Part {
            end_day: Some("2026-11-30".into()),
            ..Part::default()
        })
    }

    fn api(kind: ApiErrorKind) -> PartError {
        let e = ApiError {
            kind,
            endpoint: "/orgs/{org}/copilot/billing/seats",
            detail: "detail".into(),
        };
        PartError::api("copilot seats", &e)
    }

    #[test]
    fn forbidden_and_not_found_drop_the_series_anything_else_keeps_them() {
        for (kind, kept) in [
            (ApiErrorKind::Forbidden, false),
            (ApiErrorKind::NotFound, false),
            (ApiErrorKind::Server, true),
            (ApiErrorKind::Transport, true),
        ] {
            let mut out = RunOutput::default();
            let part = settle(&scope(), Err(api(kind)), previous(), &mut out);
            assert_eq!(part.is_some(), kept, "{kind:?}");
            assert_eq!(out.problems.len(), 1);
            assert!(out.problems[0].starts_with("copilot seats: "));
        }
        let mut out = RunOutput::default();
        let part = settle(
            &scope(),
            Err(PartError::transient("no report yet".into())),
            None,
            &mut out,
        );
        assert!(part.is_none());
        assert_eq!(out.problems, ["no report yet"]);
    }

    fn record(day: &str, users: f64) -> DayRecord {
        DayRecord {
            day: Some(day.into()),
            daily_active_users: Some(users),
            ..DayRecord::default()
        }
    }

    fn value(part: &Part, metric: &str, label: (&str, &str)) -> Option<f64> {
        part.samples
            .iter()
            .find(|s| {
                s.metric == metric && s.labels.iter().any(|(k, v)| k == label.0 && v == label.1)
            })
            .map(|s| s.value)
    }

    /// A recovered day newer than the latest becomes the latest (series, report day, the
    /// failure cleared); the same day or an older one changes nothing.
    #[test]
    fn a_recovered_day_applies_only_when_newer() {
        let map = MapSettings::default();
        let memory = RunMemory {
            org: Some(org_part(
                &scope(),
                &map,
                Some("2026-12-03".into()),
                Some(Arc::new(record("2026-12-03", 7.0))),
                None,
                Some("2026-12-04".into()),
            )),
            ..RunMemory::default()
        };
        let active = "gh_copilot_active_users";
        let day = "gh_copilot_report_day_timestamp_seconds";
        let before = memory.org.as_ref().expect("org part");
        assert_eq!(value(before, active, ("window", "1d")), Some(7.0));
        assert_eq!(value(before, day, ("report", "organization-1-day")), None);

        let applied = apply_day(&scope(), &map, &memory, record("2026-12-04", 9.0))
            .expect("a newer day applies");
        let part = applied.org.as_ref().expect("org part");
        assert_eq!(value(part, active, ("window", "1d")), Some(9.0));
        assert_eq!(
            value(part, day, ("report", "organization-1-day")),
            day_start("2026-12-04").map(|t| t as f64)
        );
        assert_eq!(
            value(part, day, ("report", "organization-28-day")),
            day_start("2026-12-03").map(|t| t as f64)
        );
        assert_eq!(part.failed_day, None);
        assert_eq!(part.one_day.as_deref(), Some("2026-12-04"));

        for older in ["2026-12-04", "2026-12-02"] {
            assert!(apply_day(&scope(), &map, &applied, record(older, 1.0)).is_none());
        }
        assert!(apply_day(&scope(), &map, &memory, DayRecord::default()).is_none());
    }

    /// A day recovered while a newer day is still failing keeps that failure.
    #[test]
    fn a_newer_failure_survives_an_older_recovery() {
        let map = MapSettings::default();
        let memory = RunMemory {
            org: Some(Part {
                failed_day: Some("2026-12-06".into()),
                ..Part::default()
            }),
            ..RunMemory::default()
        };
        let applied = apply_day(&scope(), &map, &memory, record("2026-12-05", 3.0))
            .expect("applies on an empty part");
        let part = applied.org.expect("org part");
        assert_eq!(part.failed_day.as_deref(), Some("2026-12-06"));
        assert_eq!(part.end_day, None);
    }

    /// A source of a known kind that counts its runs.
    struct Kinded {
        scope: Scope,
        kind: Result<OwnerKind, ApiErrorKind>,
        runs: std::sync::atomic::AtomicUsize,
    }

    impl CopilotSource for Kinded {
        fn scope(&self) -> &Scope {
            &self.scope
        }
        fn run(self: Arc<Self>, _: RunMemory, _: f64) -> BoxFuture<'static, RunOutput> {
            self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            futures::future::ready(RunOutput::default()).boxed()
        }
        fn telemetry(&self) -> ApiTelemetry {
            ApiTelemetry::default()
        }
        fn recover_day(
            self: Arc<Self>,
            _: RunMemory,
            _: String,
        ) -> BoxFuture<'static, Result<DayRecovery, PartError>> {
            futures::future::ready(Ok(DayRecovery::Covered)).boxed()
        }
        fn owner_kind(self: Arc<Self>) -> BoxFuture<'static, Result<OwnerKind, ApiError>> {
            let answer = self.kind.map_err(|kind| ApiError {
                kind,
                endpoint: "/users/{username}",
                detail: "detail".into(),
            });
            futures::future::ready(answer).boxed()
        }
    }

    fn source(kind: Result<OwnerKind, ApiErrorKind>) -> Arc<Kinded> {
        Arc::new(Kinded {
            scope: scope(),
            kind,
            runs: Default::default(),
        })
    }

    /// A user account is skipped without a run; an organization runs; an unknown kind is a
    /// failed run that keeps the previous memory and reads nothing.
    #[tokio::test]
    async fn a_user_account_is_skipped_an_org_runs() {
        let runs = |s: &Arc<Kinded>| s.runs.load(std::sync::atomic::Ordering::SeqCst);
        let user = source(Ok(OwnerKind::User));
        let got = attempt(user.clone(), RunMemory::default(), 0.0).await;
        assert!(matches!(got, Attempt::Skipped(r) if r.starts_with("skipped: owner is a user")));
        assert_eq!(runs(&user), 0);
        let org = source(Ok(OwnerKind::Organization));
        let got = attempt(org.clone(), RunMemory::default(), 0.0).await;
        assert!(matches!(got, Attempt::Ran(ref out) if out.problems.is_empty()));
        assert_eq!(runs(&org), 1);
        let unknown = source(Err(ApiErrorKind::Server));
        let memory = RunMemory {
            org: previous(),
            ..RunMemory::default()
        };
        let got = attempt(unknown.clone(), memory, 0.0).await;
        let Attempt::Ran(out) = got else {
            panic!("an unknown kind is a failed run")
        };
        assert_eq!(out.problems.len(), 1);
        assert!(out.memory.org.is_some(), "the previous series stay");
        assert_eq!(runs(&unknown), 0);
    }

    #[test]
    fn a_part_read_replaces_the_previous_one() {
        let mut out = RunOutput::default();
        let part = settle(&scope(), Ok(Part::default()), previous(), &mut out);
        assert_eq!(part.and_then(|p| p.end_day), None);
        assert!(out.problems.is_empty());
    }
}
