//! The report files of one Copilot run: the report-link calls through the scope's GitHub
//! [`Client`](crate::github::client::Client) (governor, retries, telemetry), the downloads of
//! every link through a separate HTTP client that never carries the GitHub token
//! ([`download_client`]), streamed through the [`ValueScanner`] into a [`Sink`], and new links
//! when a signed link expired.

use std::time::Duration;

use gse_actors::copilot::model::LinkResponse;
use gse_actors::copilot::reader::ValueScanner;
use gse_actors::copilot::run::{PartError, RunOutput};
use gse_actors::copilot::sinks::Sink;
use gse_actors::scrape::port::{ApiError, ApiErrorKind};

use super::fetch::Source;
use crate::github::client::Answer;

/// How many times a report's links are asked for again after a download link answered 403.
const LINK_REFRESHES: u32 = 3;

/// Why a download failed.
enum DownloadError {
    /// 403: the signed link expired; ask for the links again.
    Expired,
    Failed(String),
}

impl Source {
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
    pub(super) async fn read_report(
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
}

/// One report to read: its name, path and query, the last `report_end_day` read (skip when
/// the report did not move), and the size cap of one value.
pub(super) struct Request<'a> {
    pub what: &'a str,
    pub path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub unchanged: Option<&'a str>,
    pub cap: usize,
    /// The files are NDJSON (users reports): a `{` at a line start always starts a record.
    pub ndjson: bool,
}

enum LinkAnswer {
    Links(LinkResponse),
    /// 204: no report (yet) for that day.
    NoReport,
    NotFound(ApiError),
    Failed(PartError),
}

pub(super) enum ReadOutcome {
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
