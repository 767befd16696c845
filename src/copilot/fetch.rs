//! One Copilot run of one scope (an org or the enterprise), the adapter behind the
//! [`CopilotSource`] port: the organization/enterprise 28-day report and the fresher 1-day
//! reports after it, the users report and the seats, each read through [`super::download`]
//! into a sink and mapped to series; each part settled by the recovery rule of
//! [`gse_actors::copilot::run`]. A backfill job reads one 1-day report again
//! ([`Source::recover_day`]).

use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};
use gse_actors::calendar::{day_name, day_start};
use gse_actors::copilot::mapping::{self, MapSettings, Scope};
use gse_actors::copilot::model::{DayRecord, SeatsPage};
use gse_actors::copilot::run::{
    self, settle, CopilotSource, DayRecovery, Part, PartError, RunMemory, RunOutput,
};
use gse_actors::copilot::sinks::{DaySink, UserSink};
use gse_actors::scrape::owner::OwnerKind;
use gse_actors::scrape::port::{ApiError, ApiTelemetry};

use super::download::{ReadOutcome, Request};
use crate::github::client::{Answer, Client};

/// How many fresher 1-day reports are probed after the 28-day report's latest day.
const DAY_PROBES: i64 = 3;

/// What shapes a run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub map: MapSettings,
    /// The `<R>-28-day` report (and the 1-day probes after it).
    pub include_28d: bool,
    pub include_users: bool,
    /// Seats (organization scope only).
    pub include_seats: bool,
    /// 0 = no cap.
    pub max_records: u64,
    /// 0 = no cap.
    pub max_users: u64,
    pub refresh_if_unchanged: bool,
    /// A single JSON value of an organization/enterprise report (a whole 28-day object with
    /// every day) longer than this is skipped as malformed.
    pub max_value_bytes: usize,
    /// The same for one row of a users report.
    pub max_row_bytes: usize,
}

/// The scope's ports: GitHub (with the token) and the download client (without it).
pub struct Source {
    pub scope: Scope,
    pub github: Arc<Client>,
    /// Plain reqwest client with `copilot.download_timeout`; no default headers, no token.
    pub download: reqwest::Client,
    pub settings: Arc<RunSettings>,
}

impl Source {
    fn scope_path(&self) -> String {
        match self.scope.scope {
            "enterprise" => format!("enterprises/{}", self.scope.org),
            _ => format!("orgs/{}", self.scope.org),
        }
    }

    /// Runs every enabled part; `now` is Unix seconds (for the seats when GitHub sends no
    /// `Date`).
    pub async fn run(&self, previous: RunMemory, now: f64) -> RunOutput {
        let mut out = RunOutput::default();
        let s = self.settings.clone();
        if s.include_28d {
            let (result, notes) = self.org_part(previous.org.clone(), &mut out).await;
            out.problems.extend(notes);
            out.memory.org = settle(&self.scope, result, previous.org, &mut out);
        }
        if s.include_users {
            let (result, notes) = self.users_part(previous.users.clone(), &mut out).await;
            out.problems.extend(notes);
            out.memory.users = settle(&self.scope, result, previous.users, &mut out);
        }
        if s.include_seats {
            let (result, notes) = self.seats_part(now).await;
            out.problems.extend(notes);
            out.memory.seats = settle(&self.scope, result, previous.seats, &mut out);
        }
        out
    }

    async fn org_part(
        &self,
        previous: Option<Part>,
        out: &mut RunOutput,
    ) -> (Result<Part, PartError>, Vec<String>) {
        let r = self.scope.report_kind();
        let report28 = format!("{r}-28-day");
        let base = format!("{}/copilot/metrics/reports", self.scope_path());
        let s = &self.settings;
        let unchanged = previous
            .as_ref()
            .filter(|_| !s.refresh_if_unchanged)
            .and_then(|p| p.end_day.clone());
        let mut sink = DaySink::new(s.max_records);
        let mut notes = Vec::new();
        let read = self
            .read_report(
                Request {
                    what: &report28,
                    path: &format!("{base}/{report28}/latest"),
                    query: &[],
                    unchanged: unchanged.as_deref(),
                    cap: s.max_value_bytes,
                    ndjson: false,
                },
                &mut sink,
                out,
            )
            .await;
        let (end_day, mut latest, mut one_day) = match read {
            Err(e) => return (Err(e), notes),
            Ok(ReadOutcome::NoReport) => {
                return (
                    Err(PartError::transient(format!("{report28}: no report yet"))),
                    notes,
                )
            }
            Ok(ReadOutcome::Unchanged) => {
                let Some(prev) = previous.as_ref() else {
                    return (Err(PartError::transient("no report".into())), notes);
                };
                (
                    prev.end_day.clone(),
                    prev.latest.clone(),
                    prev.one_day.clone(),
                )
            }
            Ok(ReadOutcome::Read { links, malformed }) => {
                self.skipped(out, &report28, &sink, malformed);
                (links.report_end_day, sink.latest.take().map(Arc::new), None)
            }
        };
        // Fresher days from the 1-day reports, never from the local clock. A day that fails
        // (after the client's retries and new links) is remembered for backfill.
        let mut failed_day = None;
        if let Some(start) = latest
            .as_ref()
            .and_then(|l| l.day.as_deref())
            .and_then(day_start)
        {
            for k in 1..=DAY_PROBES {
                let day = day_name(start / 86_400 + k);
                match self.read_one_day(&day, out).await {
                    Ok(Some(rec)) => {
                        one_day = Some(day);
                        if latest.as_ref().is_none_or(|l| rec.day > l.day) {
                            latest = Some(Arc::new(rec));
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        if !e.permanent {
                            failed_day = Some(day);
                        }
                        notes.push(e.reason);
                        break;
                    }
                }
            }
        }
        let part = run::org_part(&self.scope, &s.map, end_day, latest, one_day, failed_day);
        (Ok(part), notes)
    }

    /// Reads the 1-day report of `day`: its day record, `None` when there is none (204: not
    /// built yet; 404: older than GitHub keeps), an error when it cannot be read whole — the
    /// link call failed, every new link expired, a download failed, or the file holds no
    /// valid record of that day (malformed).
    async fn read_one_day(
        &self,
        day: &str,
        out: &mut RunOutput,
    ) -> Result<Option<DayRecord>, PartError> {
        let s = &self.settings;
        let report1 = format!("{}-1-day", self.scope.report_kind());
        let path = format!("{}/copilot/metrics/reports/{report1}", self.scope_path());
        let mut sink = DaySink::new(s.max_records);
        let read = self
            .read_report(
                Request {
                    what: &report1,
                    path: &path,
                    query: &[("day", day)],
                    unchanged: None,
                    cap: s.max_value_bytes,
                    ndjson: false,
                },
                &mut sink,
                out,
            )
            .await;
        match read {
            Ok(ReadOutcome::Read { malformed, .. }) => {
                self.skipped(out, &report1, &sink, malformed);
                match sink.latest.take() {
                    Some(rec) if rec.day.as_deref() == Some(day) => Ok(Some(rec)),
                    Some(rec) => Err(PartError::transient(format!(
                        "{report1} of {day}: the file holds the day {:?}",
                        rec.day.unwrap_or_default()
                    ))),
                    None => Err(PartError::transient(format!(
                        "{report1} of {day}: malformed file (no valid day record)"
                    ))),
                }
            }
            Ok(ReadOutcome::NoReport | ReadOutcome::Unchanged) => Ok(None),
            Err(e) if e.permanent && e.reason.contains("404") => Ok(None),
            Err(e) => {
                let detail = e
                    .reason
                    .strip_prefix(&format!("{report1}: "))
                    .unwrap_or(&e.reason);
                Err(PartError {
                    permanent: e.permanent,
                    reason: format!("{report1} of {day}: {detail}"),
                })
            }
        }
    }

    /// Reads the 1-day report of `day` again (backfill) and applies it to `previous`.
    pub async fn recover_day(
        &self,
        previous: RunMemory,
        day: String,
    ) -> Result<DayRecovery, PartError> {
        let report1 = format!("{}-1-day", self.scope.report_kind());
        if !self.settings.include_28d {
            return Err(PartError {
                permanent: true,
                reason: format!("{report1} of {day}: the scope's reports are turned off"),
            });
        }
        let mut out = RunOutput::default();
        let Some(record) = self.read_one_day(&day, &mut out).await? else {
            return Err(PartError::transient(format!(
                "{report1} of {day}: no report (204 or 404)"
            )));
        };
        Ok(
            match run::apply_day(&self.scope, &self.settings.map, &previous, record) {
                Some(memory) => {
                    out.memory = memory;
                    DayRecovery::Applied(Box::new(out))
                }
                None => DayRecovery::Covered,
            },
        )
    }

    fn skipped(&self, out: &mut RunOutput, report: &str, sink: &DaySink, malformed: u64) {
        if malformed > 0 {
            out.skipped
                .push((report.to_string(), "malformed", malformed));
        }
        if sink.record_cap > 0 {
            out.skipped
                .push((report.to_string(), "record_cap", sink.record_cap));
        }
    }

    async fn users_part(
        &self,
        previous: Option<Part>,
        out: &mut RunOutput,
    ) -> (Result<Part, PartError>, Vec<String>) {
        let report = "users-28-day";
        let s = &self.settings;
        let unchanged = previous
            .as_ref()
            .filter(|_| !s.refresh_if_unchanged)
            .and_then(|p| p.end_day.clone());
        let mut sink = UserSink::new(s.max_records, s.max_users);
        let path = format!(
            "{}/copilot/metrics/reports/{report}/latest",
            self.scope_path()
        );
        let read = self
            .read_report(
                Request {
                    what: report,
                    path: &path,
                    query: &[],
                    unchanged: unchanged.as_deref(),
                    cap: s.max_row_bytes,
                    ndjson: true,
                },
                &mut sink,
                out,
            )
            .await;
        let result = match read {
            Err(e) => Err(e),
            Ok(ReadOutcome::NoReport) => {
                Err(PartError::transient(format!("{report}: no report yet")))
            }
            Ok(ReadOutcome::Unchanged) => {
                previous.ok_or_else(|| PartError::transient("no report".into()))
            }
            Ok(ReadOutcome::Read { links, malformed }) => {
                for (reason, count) in [
                    ("malformed", malformed),
                    ("record_cap", sink.record_cap),
                    ("user_cap", sink.users.user_cap_skipped),
                ] {
                    if count > 0 {
                        out.skipped.push((report.to_string(), reason, count));
                    }
                }
                let mut samples = sink.users.series(&self.scope, &s.map);
                let mut days = Vec::new();
                if let Some(end) = &links.report_end_day {
                    samples.extend(mapping::report_day_series(&self.scope, report, end, &s.map));
                    days.push((report.to_string(), end.clone()));
                }
                Ok(Part {
                    samples: Arc::new(samples),
                    days,
                    end_day: links.report_end_day,
                    latest: None,
                    one_day: None,
                    failed_day: None,
                })
            }
        };
        (result, Vec::new())
    }

    async fn seats_part(&self, now: f64) -> (Result<Part, PartError>, Vec<String>) {
        let what = "copilot seats";
        let mut url = match self.github.url(
            &format!("orgs/{}/copilot/billing/seats", self.scope.org),
            &[("per_page", "100")],
        ) {
            Ok(url) => url,
            Err(e) => return (Err(PartError::api(what, &e)), Vec::new()),
        };
        let mut seats = Vec::new();
        let mut reference: Option<i64> = None;
        let mut pages = 0;
        loop {
            pages += 1;
            if pages > self.github.limits.max_pages_per_listing {
                let e = PartError::transient(format!(
                    "{what}: more than github.max_pages_per_listing pages"
                ));
                return (Err(e), Vec::new());
            }
            match self
                .github
                .get::<SeatsPage>("/orgs/{org}/copilot/billing/seats", url, "core")
                .await
            {
                Ok(Answer::Page(page)) => {
                    if reference.is_none() {
                        reference = page
                            .date
                            .as_deref()
                            .and_then(|d| httpdate::parse_http_date(d).ok())
                            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                            .map(|d| d.as_secs() as i64);
                    }
                    seats.extend(page.value.seats);
                    match page.next {
                        Some(next) => url = next,
                        None => break,
                    }
                }
                Ok(_) => break,
                Err(e) => return (Err(PartError::api(what, &e)), Vec::new()),
            }
        }
        let now = reference.unwrap_or(now as i64);
        let samples = mapping::seats_series(&self.scope, &seats, now);
        (
            Ok(Part {
                samples: Arc::new(samples),
                ..Part::default()
            }),
            Vec::new(),
        )
    }
}

impl CopilotSource for Source {
    fn scope(&self) -> &Scope {
        &self.scope
    }

    fn run(self: Arc<Self>, previous: RunMemory, now: f64) -> BoxFuture<'static, RunOutput> {
        async move { Source::run(&self, previous, now).await }.boxed()
    }

    fn telemetry(&self) -> ApiTelemetry {
        self.github.telemetry()
    }

    fn recover_day(
        self: Arc<Self>,
        previous: RunMemory,
        day: String,
    ) -> BoxFuture<'static, Result<DayRecovery, PartError>> {
        async move { Source::recover_day(&self, previous, day).await }.boxed()
    }

    /// An org's kind, resolved once through the org's shared [`crate::github::owner::Owner`];
    /// an enterprise is never a user account.
    fn owner_kind(self: Arc<Self>) -> BoxFuture<'static, Result<OwnerKind, ApiError>> {
        async move {
            if self.scope.scope != "organization" {
                return Ok(OwnerKind::Organization);
            }
            let owner = self.github.owner.clone();
            owner.resolve(&self.github).await.map(|r| r.kind)
        }
        .boxed()
    }
}
