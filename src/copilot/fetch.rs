//! One Copilot run of one scope (an org or the enterprise): the report-link calls through the
//! org's GitHub [`Client`] (governor, retries, telemetry), the downloads of every link through a
//! separate HTTP client that never carries the GitHub token, the streaming read of the files
//! ([`ValueScanner`]) into typed records, and the mapping to series. What a run remembers for
//! the next one (the last report days, the series of each part) is [`RunMemory`].

use std::sync::Arc;
use std::time::Duration;

use gse_actors::ports::Sample;
use gse_actors::scrape::port::{ApiError, ApiErrorKind};

use super::mapping::{self, MapSettings, Scope, UserReduction};
use super::model::{DayRecord, LinkResponse, SeatsPage, UserRow};
use super::reader::ValueScanner;
use crate::github::client::{Answer, Client};

/// How many times a report's links are asked for again after a download link answered 403.
const LINK_REFRESHES: u32 = 3;
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
struct PartError {
    /// 403/404 on a report or seats endpoint: the part's families are not served.
    permanent: bool,
    reason: String,
}

impl PartError {
    fn api(what: &str, e: &ApiError) -> PartError {
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

    fn transient(reason: String) -> PartError {
        PartError {
            permanent: false,
            reason,
        }
    }
}

/// Receives the decoded values of one report read; reset when the read starts over.
trait Sink {
    fn reset(&mut self);
    fn value(&mut self, bytes: &[u8]);
    fn malformed(&self) -> u64;
}

/// Keeps the newest day record of an organization/enterprise report.
#[derive(Default)]
struct DaySink {
    latest: Option<DayRecord>,
    records: u64,
    max_records: u64,
    record_cap: u64,
    malformed: u64,
}

impl DaySink {
    fn new(max_records: u64) -> DaySink {
        DaySink {
            max_records,
            ..DaySink::default()
        }
    }

    fn take(&mut self, record: DayRecord) {
        if record.day.as_deref().and_then(mapping::day_start).is_none() {
            self.malformed += 1;
            return;
        }
        if self.max_records != 0 && self.records >= self.max_records {
            self.record_cap += 1;
            return;
        }
        self.records += 1;
        if self.latest.as_ref().is_none_or(|l| record.day > l.day) {
            self.latest = Some(record);
        }
    }
}

impl Sink for DaySink {
    fn reset(&mut self) {
        *self = DaySink::new(self.max_records);
    }

    fn value(&mut self, bytes: &[u8]) {
        match serde_json::from_slice::<DayRecord>(bytes) {
            Ok(mut record) => match record.day_totals.take() {
                Some(days) => days.into_iter().for_each(|d| self.take(d)),
                None => self.take(record),
            },
            Err(_) => self.malformed += 1,
        }
    }

    fn malformed(&self) -> u64 {
        self.malformed
    }
}

/// Reduces a users report to each user's latest row.
struct UserSink {
    users: UserReduction,
    records: u64,
    max_records: u64,
    max_users: usize,
    record_cap: u64,
    malformed: u64,
}

impl UserSink {
    fn new(max_records: u64, max_users: u64) -> UserSink {
        let max_users = usize::try_from(max_users).unwrap_or(usize::MAX);
        UserSink {
            users: UserReduction::new(max_users),
            records: 0,
            max_records,
            max_users,
            record_cap: 0,
            malformed: 0,
        }
    }
}

impl Sink for UserSink {
    fn reset(&mut self) {
        *self = UserSink::new(self.max_records, self.max_users as u64);
    }

    fn value(&mut self, bytes: &[u8]) {
        match serde_json::from_slice::<UserRow>(bytes) {
            Ok(row) if row.user_id.is_some() || row.user_login.is_some() => {
                if self.max_records != 0 && self.records >= self.max_records {
                    self.record_cap += 1;
                    return;
                }
                self.records += 1;
                self.users.add(row);
            }
            _ => self.malformed += 1,
        }
    }

    fn malformed(&self) -> u64 {
        self.malformed
    }
}

/// Reads a users report given as chunks through the real scanner and per-user reduction (as a
/// run reads its downloads); returns the users kept and the values skipped as malformed. For
/// the parse benchmark.
pub fn reduce_users<C: AsRef<[u8]>>(
    chunks: impl IntoIterator<Item = C>,
    max_value_bytes: usize,
) -> (usize, u64) {
    let mut sink = UserSink::new(0, 0);
    let mut scanner = ValueScanner::ndjson(max_value_bytes);
    for chunk in chunks {
        scanner.push(chunk.as_ref(), &mut |v| sink.value(v));
    }
    scanner.finish(&mut |v| sink.value(v));
    (sink.users.len(), sink.malformed + scanner.malformed())
}

/// Why a download failed.
enum DownloadError {
    /// 403: the signed link expired; ask for the links again.
    Expired,
    Failed(String),
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
            out.memory.org = self.settle(result, previous.org, &mut out);
        }
        if s.include_users {
            let (result, notes) = self.users_part(previous.users.clone(), &mut out).await;
            out.problems.extend(notes);
            out.memory.users = self.settle(result, previous.users, &mut out);
        }
        if s.include_seats {
            let (result, notes) = self.seats_part(now).await;
            out.problems.extend(notes);
            out.memory.seats = self.settle(result, previous.seats, &mut out);
        }
        out
    }

    /// A part's outcome: on a permanent failure its series go away; on a transient one the
    /// previous series stay.
    fn settle(
        &self,
        result: Result<Part, PartError>,
        previous: Option<Part>,
        out: &mut RunOutput,
    ) -> Option<Part> {
        match result {
            Ok(part) => Some(part),
            Err(e) => {
                tracing::warn!(scope = self.scope.scope, org = %self.scope.org, reason = %e.reason, "copilot report failed");
                out.problems.push(e.reason);
                if e.permanent {
                    None
                } else {
                    previous
                }
            }
        }
    }

    /// The endpoint template of report `what` (`gh_exporter_github_requests{endpoint}`).
    fn endpoint(&self, what: &str) -> &'static str {
        let enterprise = self.scope.scope == "enterprise";
        match (enterprise, what) {
            (false, "organization-28-day") => {
                "/orgs/{org}/copilot/metrics/reports/organization-28-day/latest"
            }
            (false, "organization-1-day") => {
                "/orgs/{org}/copilot/metrics/reports/organization-1-day"
            }
            (false, _) => "/orgs/{org}/copilot/metrics/reports/users-28-day/latest",
            (true, "enterprise-28-day") => {
                "/enterprises/{enterprise}/copilot/metrics/reports/enterprise-28-day/latest"
            }
            (true, "enterprise-1-day") => {
                "/enterprises/{enterprise}/copilot/metrics/reports/enterprise-1-day"
            }
            (true, _) => "/enterprises/{enterprise}/copilot/metrics/reports/users-28-day/latest",
        }
    }

    async fn links(&self, what: &str, path: &str, query: &[(&str, &str)]) -> LinkAnswer {
        let url = match self.github.url(path, query) {
            Ok(url) => url,
            Err(e) => return LinkAnswer::Failed(PartError::api(what, &e)),
        };
        match self
            .github
            .get::<LinkResponse>(self.endpoint(what), url, "core")
            .await
        {
            Ok(Answer::Page(page)) => LinkAnswer::Links(page.value),
            Ok(_) => LinkAnswer::NoReport,
            Err(e) if e.kind == ApiErrorKind::NotFound => LinkAnswer::NotFound(e),
            Err(e) => LinkAnswer::Failed(PartError::api(what, &e)),
        }
    }

    /// Asks for a report's links and reads every file into `sink`; after an expired link, asks
    /// again (at most [`LINK_REFRESHES`] times) and starts the read over.
    async fn read_report(
        &self,
        request: Request<'_>,
        sink: &mut dyn Sink,
        out: &mut RunOutput,
    ) -> Result<ReadOutcome, PartError> {
        let Request {
            what,
            path,
            query,
            unchanged,
            cap,
            ndjson,
        } = request;
        let mut refreshes = 0;
        loop {
            let links = match self.links(what, path, query).await {
                LinkAnswer::Links(links) => links,
                LinkAnswer::NoReport => return Ok(ReadOutcome::NoReport),
                LinkAnswer::NotFound(e) => return Err(PartError::api(what, &e)),
                LinkAnswer::Failed(e) => return Err(e),
            };
            if let (Some(last), Some(end)) = (unchanged, links.report_end_day.as_deref()) {
                if end <= last {
                    return Ok(ReadOutcome::Unchanged);
                }
            }
            sink.reset();
            let mut scanner = if ndjson {
                ValueScanner::ndjson(cap)
            } else {
                ValueScanner::values(cap)
            };
            let mut expired = false;
            for link in &links.download_links {
                match self.download(link, &mut scanner, sink, out).await {
                    Ok(()) => {}
                    Err(DownloadError::Expired) => {
                        expired = true;
                        break;
                    }
                    Err(DownloadError::Failed(reason)) => {
                        return Err(PartError::transient(format!("{what}: download: {reason}")))
                    }
                }
            }
            if expired {
                refreshes += 1;
                if refreshes > LINK_REFRESHES {
                    return Err(PartError::transient(format!(
                        "{what}: download links still expired after {LINK_REFRESHES} new links"
                    )));
                }
                tracing::info!(org = %self.scope.org, report = what, "download link expired; asking for new links");
                continue;
            }
            scanner.finish(&mut |v| sink.value(v));
            let malformed = sink.malformed() + scanner.malformed();
            return Ok(ReadOutcome::Read { links, malformed });
        }
    }

    /// Streams one file into the scanner. No `Authorization` header: the download client has
    /// none and none is added.
    async fn download(
        &self,
        link: &str,
        scanner: &mut ValueScanner,
        sink: &mut dyn Sink,
        out: &mut RunOutput,
    ) -> Result<(), DownloadError> {
        let url = reqwest::Url::parse(link)
            .map_err(|e| DownloadError::Failed(format!("bad download link: {e}")))?;
        let retry = &self.github.retry;
        let attempts = retry.max_attempts.max(1);
        let mut attempt = 0;
        let mut response = loop {
            attempt += 1;
            let failure = match self.download.get(url.clone()).send().await {
                Ok(r) if r.status().is_success() => break r,
                Ok(r) if r.status().as_u16() == 403 => return Err(DownloadError::Expired),
                Ok(r) if r.status().is_server_error() => format!("status {}", r.status()),
                Ok(r) => return Err(DownloadError::Failed(format!("status {}", r.status()))),
                Err(e) => gse_actors::store::error_chain(&e),
            };
            if attempt >= attempts {
                return Err(DownloadError::Failed(failure));
            }
            tokio::time::sleep(retry.backoff(attempt)).await;
        };
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    out.download_bytes += chunk.len() as u64;
                    scanner.push(&chunk, &mut |v| sink.value(v));
                }
                Ok(None) => return Ok(()),
                Err(e) => {
                    return Err(DownloadError::Failed(format!(
                        "reading the body: {}",
                        gse_actors::store::error_chain(&e)
                    )))
                }
            }
        }
    }

    async fn org_part(
        &self,
        previous: Option<Part>,
        out: &mut RunOutput,
    ) -> (Result<Part, PartError>, Vec<String>) {
        let r = self.scope.report_kind();
        let report28 = format!("{r}-28-day");
        let report1 = format!("{r}-1-day");
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
        // Fresher days from the 1-day reports, never from the local clock.
        if let Some(start) = latest
            .as_ref()
            .and_then(|l| l.day.as_deref())
            .and_then(mapping::day_start)
        {
            for k in 1..=DAY_PROBES {
                let day = mapping::day_name(start / 86_400 + k);
                let mut sink = DaySink::new(s.max_records);
                let read = self
                    .read_report(
                        Request {
                            what: &report1,
                            path: &format!("{base}/{report1}"),
                            query: &[("day", &day)],
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
                        one_day = Some(day);
                        if let Some(rec) = sink.latest.take() {
                            if latest.as_ref().is_none_or(|l| rec.day > l.day) {
                                latest = Some(Arc::new(rec));
                            }
                        }
                    }
                    Ok(_) => break,
                    Err(e) if e.permanent && e.reason.contains("404") => break,
                    Err(e) => {
                        notes.push(e.reason);
                        break;
                    }
                }
            }
        }
        let mut samples = latest
            .as_deref()
            .map(|rec| mapping::day_record_series(&self.scope, rec, &s.map))
            .unwrap_or_default();
        let mut days = Vec::new();
        if let Some(end) = &end_day {
            samples.extend(mapping::report_day_series(
                &self.scope,
                &report28,
                end,
                &s.map,
            ));
            days.push((report28.clone(), end.clone()));
        }
        if let Some(day) = &one_day {
            samples.extend(mapping::report_day_series(
                &self.scope,
                &report1,
                day,
                &s.map,
            ));
            days.push((report1.clone(), day.clone()));
        }
        (
            Ok(Part {
                samples: Arc::new(samples),
                days,
                end_day,
                latest,
                one_day,
            }),
            notes,
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

/// One report to read: its name, path and query, the last `report_end_day` read (skip when
/// the report did not move), and the size cap of one value.
struct Request<'a> {
    what: &'a str,
    path: &'a str,
    query: &'a [(&'a str, &'a str)],
    unchanged: Option<&'a str>,
    cap: usize,
    /// The files are NDJSON (users reports): a `{` at a line start always starts a record.
    ndjson: bool,
}

enum LinkAnswer {
    Links(LinkResponse),
    /// 204: no report (yet) for that day.
    NoReport,
    NotFound(ApiError),
    Failed(PartError),
}

enum ReadOutcome {
    Read { links: LinkResponse, malformed: u64 },
    Unchanged,
    NoReport,
}

/// The download client: no default headers (never a token), `copilot.download_timeout`.
pub fn download_client(
    timeout: Duration,
    identity: &str,
) -> Result<reqwest::Client, reqwest::Error> {
    crate::github::install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(format!(
            "github-stats-exporter/{} ({})",
            env!("CARGO_PKG_VERSION"),
            identity
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(64)
                .collect::<String>()
        ))
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_sink_keeps_the_newest_day_and_honours_the_record_cap() {
        let mut sink = DaySink::new(2);
        sink.value(br#"{"report_end_day":"2026-11-03","day_totals":[{"day":"2026-11-01"},{"day":"2026-11-03"},{"day":"2026-11-02"}]}"#);
        sink.value(br#"{"day_totals":"not a list"}"#);
        sink.value(br#"{"no_day":1}"#);
        assert_eq!(
            sink.latest.as_ref().and_then(|r| r.day.as_deref()),
            Some("2026-11-03")
        );
        assert_eq!(sink.record_cap, 1);
        assert_eq!(sink.malformed(), 2);
    }

    #[test]
    fn user_sink_counts_caps_and_malformed_rows() {
        let mut sink = UserSink::new(3, 1);
        for row in [
            r#"{"user_id":1,"user_login":"a","day":"2026-11-01"}"#,
            r#"{"user_id":2,"user_login":"b","day":"2026-11-01"}"#,
            r#"["an","unknown","shape"]"#,
            r#"{"user_id":1,"user_login":"a","day":"2026-11-02"}"#,
            r#"{"user_id":3,"user_login":"c","day":"2026-11-02"}"#,
        ] {
            sink.value(row.as_bytes());
        }
        assert_eq!(sink.users.len(), 1);
        assert_eq!(sink.users.user_cap_skipped, 1);
        assert_eq!(sink.record_cap, 1);
        assert_eq!(sink.malformed(), 1);
    }

    #[test]
    fn reduce_users_reads_across_chunks() {
        let text = b"{\"user_id\":1,\"day\":\"2026-11-01\"}\n{\"user_id\":2,\"day\":\"2026-11-01\"}\n{broken\n";
        let (users, malformed) = reduce_users(text.chunks(5), 1 << 10);
        assert_eq!((users, malformed), (2, 1));
    }
}
