//! The request core every GitHub call goes through: authentication, the credential's
//! [`Governor`], retries with jittered exponential backoff (5xx, transport errors, malformed or
//! truncated bodies), secondary-limit and exhausted-budget handling, ETag reuse, `Link`
//! pagination, and per-org request telemetry. Hostile answers are bounded ([`ResponseLimits`]):
//! a body longer than `github.max_response_bytes` fails that call at once (read while it
//! streams, never retried); a listing that cannot be read to its end — longer than
//! `github.max_pages_per_listing` pages, or with a `next` link to another origin (never
//! followed: the token must not leave for another host) — fails as
//! [`ApiErrorKind::Incomplete`], so nothing is computed from part of it.
//!
//! No request leaves without a live lease: inside [`gse_actors::election::validity::under_lease`]
//! every attempt checks the lease's local validity right before it is sent (and before any
//! rate-limit wait); a client built [`Client::with_lease_required`] (elected modes) also
//! refuses calls made outside any lease scope.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gse_actors::scrape::port::{ApiError, ApiErrorKind, ApiTelemetry};
use rand::Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use gse_actors::election::validity::{lease_state, LeaseState};

use super::auth::Credential;
use super::body::{read_capped, BodyError, InFlightBudget};
use super::governor::{parse_retry_after, Governor};

/// The `retry.*` settings.
#[derive(Debug, Clone)]
pub struct RetrySettings {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub jitter: bool,
}

impl RetrySettings {
    /// `initial × 2^(attempt−1)` capped at `max`; with jitter, a random point in its upper half.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        let base = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        if self.jitter {
            base.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
        } else {
            base
        }
    }
}

/// Bounds on what one answer, and one listing, may cost (`github.max_response_bytes`,
/// `github.max_pages_per_listing`), and the process-wide budget of body bytes being read at
/// once (`github.max_response_bytes_in_flight`, shared by every client).
#[derive(Debug, Clone)]
pub struct ResponseLimits {
    pub max_response_bytes: u64,
    pub max_pages_per_listing: u32,
    pub in_flight: InFlightBudget,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        ResponseLimits {
            max_response_bytes: 32 << 20,
            max_pages_per_listing: 1000,
            in_flight: InFlightBudget::new(32 << 20),
        }
    }
}

/// A decoded page and the URL of the next one.
pub struct Page<T> {
    pub value: T,
    pub next: Option<Url>,
    /// The response's `Date` header (GitHub's clock), when it had one.
    pub date: Option<String>,
}

/// What a GET answered.
pub enum Answer<T> {
    Page(Page<T>),
    /// 202: GitHub is computing (stats).
    Accepted,
    /// 204: nothing there (stats of an empty repository).
    NoContent,
}

/// What a 304 answers from: the validator, and the page as the scraper reads it — re-encoded
/// from the decoded value, so only the fields we use are kept (a GitHub repository object is
/// kilobytes; what we keep of it is a name, two flags and a date).
struct Cached {
    etag: String,
    compact: Bytes,
    next: Option<Url>,
}

/// Remembered pages of one org, bounded in entries and in bytes.
#[derive(Default)]
struct EtagCache {
    pages: HashMap<String, Cached>,
    bytes: usize,
}

impl EtagCache {
    fn insert(&mut self, key: String, cached: Cached) {
        let size = key.len() + cached.etag.len() + cached.compact.len();
        if self.pages.len() >= ETAG_CACHE_CAP || self.bytes + size > ETAG_CACHE_MAX_BYTES {
            // Everything is re-validated once (a 200 refills it): simpler than LRU, and rare.
            self.pages.clear();
            self.bytes = 0;
        }
        if let Some(old) = self.pages.insert(key, cached) {
            self.bytes -= old.etag.len() + old.compact.len();
        }
        self.bytes += size;
    }

    fn remove(&mut self, key: &str) {
        if let Some(old) = self.pages.remove(key) {
            self.bytes -= key.len() + old.etag.len() + old.compact.len();
        }
    }
}

/// Cap on remembered ETag pages per org (stable listings only).
const ETAG_CACHE_CAP: usize = 4096;
/// Cap on the bytes they hold per org.
const ETAG_CACHE_MAX_BYTES: usize = 4 << 20;

/// One org's view of GitHub: shared HTTP client, its credential and governor, its telemetry.
pub struct Client {
    pub http: reqwest::Client,
    pub base: Url,
    pub org: String,
    pub credential: Arc<Credential>,
    pub governor: Arc<Governor>,
    pub retry: RetrySettings,
    pub limits: ResponseLimits,
    /// Refuse calls made outside a lease scope (elected modes: every call is on behalf of an
    /// org, so only its lease holder may make it).
    require_lease: bool,
    telemetry: Mutex<ApiTelemetry>,
    etags: Mutex<EtagCache>,
}

fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "error",
    }
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The `rel="next"` target of a `Link` header.
pub fn next_link(link: &str) -> Option<&str> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| target.trim().trim_start_matches('<').trim_end_matches('>'))
    })
}

impl Client {
    pub fn new(
        http: reqwest::Client,
        base: Url,
        org: String,
        credential: Arc<Credential>,
        governor: Arc<Governor>,
        retry: RetrySettings,
    ) -> Client {
        Client {
            http,
            base,
            org,
            credential,
            governor,
            retry,
            limits: ResponseLimits::default(),
            require_lease: false,
            telemetry: Mutex::new(ApiTelemetry::default()),
            etags: Mutex::new(EtagCache::default()),
        }
    }

    /// The same client with other [`ResponseLimits`].
    pub fn with_limits(mut self, limits: ResponseLimits) -> Client {
        self.limits = limits;
        self
    }

    /// The same client, refusing calls made outside a lease scope when `required`.
    pub fn with_lease_required(mut self, required: bool) -> Client {
        self.require_lease = required;
        self
    }

    /// Why no request may be sent now, if so: the lease scope this call runs in has lapsed
    /// (judged now, on the monotonic clock), or there is none and one is required.
    fn lease_refusal(&self, endpoint: &'static str) -> Option<ApiError> {
        let detail = match lease_state() {
            LeaseState::Live => return None,
            LeaseState::NoScope if !self.require_lease => return None,
            LeaseState::NoScope => {
                tracing::error!(org = %self.org, endpoint, "a GitHub call outside any lease scope was refused (a bug: every call on behalf of an org runs under its lease)");
                "no lease scope: only the org's lease holder calls GitHub"
            }
            LeaseState::Lapsed => {
                tracing::debug!(org = %self.org, endpoint, "the org's lease lapsed; request not sent");
                "the org's lease lapsed; request not sent"
            }
        };
        Some(self.error(ApiErrorKind::LeaseLapsed, endpoint, detail))
    }

    /// The body of `response`, at most `max_response_bytes` long. An error with `true` is a
    /// read error worth a retry; with `false` it is final for the call (too large: the same
    /// request would stream the same body again).
    async fn read_body(
        &self,
        endpoint: &'static str,
        response: reqwest::Response,
    ) -> Result<Bytes, (ApiError, bool)> {
        let limits = &self.limits;
        match read_capped(response, limits.max_response_bytes, Some(&limits.in_flight)).await {
            Ok(body) => Ok(body),
            Err(BodyError::TooLarge { limit }) => {
                tracing::warn!(org = %self.org, endpoint, limit_bytes = limit, "response body over github.max_response_bytes; call failed");
                let detail =
                    format!("response body exceeds github.max_response_bytes ({limit} bytes)");
                Err((self.error(ApiErrorKind::Decode, endpoint, detail), false))
            }
            Err(BodyError::Busy { budget }) => {
                tracing::warn!(org = %self.org, endpoint, budget_bytes = budget, "response bodies in flight over github.max_response_bytes_in_flight; retrying");
                let detail = format!(
                    "response bodies in flight exceed github.max_response_bytes_in_flight ({budget} bytes)"
                );
                Err((self.error(ApiErrorKind::Decode, endpoint, detail), true))
            }
            Err(BodyError::Read(e)) => {
                let detail = format!("truncated body: {}", gse_actors::store::error_chain(&e));
                Err((self.error(ApiErrorKind::Decode, endpoint, detail), true))
            }
        }
    }

    /// The `rel="next"` URL of `response`'s `Link`, if it stays on `api_base_url`'s origin.
    /// A `next` elsewhere is never followed (a token must not leave for another host): the
    /// listing cannot be completed, so the call fails as [`ApiErrorKind::Incomplete`].
    fn next_page(
        &self,
        endpoint: &'static str,
        response: &reqwest::Response,
    ) -> Result<Option<Url>, ApiError> {
        let Some(link) = header(response, "link").and_then(next_link) else {
            return Ok(None);
        };
        let next = match Url::parse(link) {
            Ok(next) => next,
            // A relative or garbled target: resolved against the request, like a browser.
            Err(_) => match response.url().join(link) {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(org = %self.org, endpoint, error = %e, "unreadable next link; this listing is incomplete");
                    return Err(self.error(
                        ApiErrorKind::Incomplete,
                        endpoint,
                        format!("unreadable next link: {e}"),
                    ));
                }
            },
        };
        if next.origin() == self.base.origin() {
            return Ok(Some(next));
        }
        let (next_origin, api_origin) = (
            next.origin().ascii_serialization(),
            self.base.origin().ascii_serialization(),
        );
        tracing::warn!(
            org = %self.org,
            endpoint,
            next_origin = %next_origin,
            api_origin = %api_origin,
            "the next page is on another origin (a proxy that does not rewrite Link headers?): not followed, and nothing is computed from this incomplete listing"
        );
        Err(self.error(
            ApiErrorKind::Incomplete,
            endpoint,
            format!("next page on another origin ({next_origin}, not {api_origin})"),
        ))
    }

    /// The error for a listing that still has a next page after `max_pages_per_listing`.
    fn too_many_pages(&self, endpoint: &'static str) -> ApiError {
        let max = self.limits.max_pages_per_listing;
        tracing::warn!(org = %self.org, endpoint, max_pages = max, "listing longer than github.max_pages_per_listing; call failed");
        self.error(
            ApiErrorKind::Incomplete,
            endpoint,
            format!("listing exceeds github.max_pages_per_listing ({max} pages)"),
        )
    }

    pub fn telemetry(&self) -> ApiTelemetry {
        self.telemetry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn count(&self, endpoint: &str, class: &str) {
        let mut t = self.telemetry.lock().unwrap_or_else(|p| p.into_inner());
        *t.requests
            .entry((endpoint.to_string(), class.to_string()))
            .or_default() += 1;
    }

    fn record_rate(&self, resource: &str, remaining: Option<u64>, reset: Option<i64>) {
        if let (Some(remaining), Some(reset)) = (remaining, reset) {
            let mut t = self.telemetry.lock().unwrap_or_else(|p| p.into_inner());
            t.rate.insert(resource.to_string(), (remaining, reset));
        }
    }

    fn error(
        &self,
        kind: ApiErrorKind,
        endpoint: &'static str,
        detail: impl Into<String>,
    ) -> ApiError {
        ApiError {
            kind,
            endpoint,
            detail: detail.into(),
        }
    }

    /// A URL under `api_base_url` (`path` has no leading `/`).
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, ApiError> {
        let mut url = self
            .base
            .join(path)
            .map_err(|e| self.error(ApiErrorKind::Config, "url", format!("{path}: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// GETs `url` and decodes it as `T`, with every rule of the module doc applied.
    pub async fn get<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        url: Url,
        resource: &'static str,
    ) -> Result<Answer<T>, ApiError> {
        Ok(self.request(endpoint, url, None, resource, false).await?.0)
    }

    /// Like [`Client::get`] with `If-None-Match`: the ETag and the decoded page (re-encoded
    /// compactly) are remembered, and a 304 answers from them.
    pub async fn get_cached<T: DeserializeOwned + Serialize>(
        &self,
        endpoint: &'static str,
        url: Url,
        resource: &'static str,
    ) -> Result<Answer<T>, ApiError> {
        let key = url.as_str().to_string();
        let (answer, etag) = self.request(endpoint, url, None, resource, true).await?;
        if let (Answer::Page(page), Some(etag)) = (&answer, etag) {
            if let Ok(compact) = serde_json::to_vec(&page.value) {
                self.etags.lock().unwrap_or_else(|p| p.into_inner()).insert(
                    key,
                    Cached {
                        etag,
                        compact: Bytes::from(compact),
                        next: page.next.clone(),
                    },
                );
            }
        }
        Ok(answer)
    }

    /// POSTs a JSON `body` to `url` (GraphQL) and decodes the answer as `T`, with the same
    /// retries, governor and telemetry as [`Client::get`]; never cached.
    pub async fn post_json<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        url: Url,
        body: Bytes,
        resource: &'static str,
    ) -> Result<Answer<T>, ApiError> {
        Ok(self
            .request(endpoint, url, Some(body), resource, false)
            .await?
            .0)
    }

    /// The shared request loop. With `cacheable`, a remembered ETag is sent and a 304 answers
    /// from the remembered page; a 200 returns its ETag for [`Client::get_cached`] to keep.
    async fn request<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        url: Url,
        body: Option<Bytes>,
        resource: &'static str,
        cacheable: bool,
    ) -> Result<(Answer<T>, Option<String>), ApiError> {
        let max = self.retry.max_attempts.max(1);
        let mut attempt = 0;
        let mut refreshed_token = false;
        let mut last_error;
        loop {
            attempt += 1;
            if let Some(refused) = self.lease_refusal(endpoint) {
                return Err(refused);
            }
            self.governor.admit(resource).await;
            self.governor.pace().await;
            let auth = match self.credential.authorization(&self.http, &self.base).await {
                Ok(auth) => auth,
                Err(e) if e.is_transient() && attempt < max => {
                    tracing::debug!(org = %self.org, error = %e, "token exchange failed; retrying");
                    tokio::time::sleep(self.retry.backoff(attempt)).await;
                    continue;
                }
                Err(e) => {
                    let kind = if e.is_transient() {
                        ApiErrorKind::Transport
                    } else {
                        ApiErrorKind::Unauthorized
                    };
                    return Err(self.error(kind, endpoint, gse_actors::store::error_chain(&e)));
                }
            };
            let key = url.as_str().to_string();
            let request = match &body {
                None => self.http.get(url.clone()),
                Some(body) => self
                    .http
                    .post(url.clone())
                    .header("Content-Type", "application/json")
                    .body(body.clone()),
            };
            let mut request = request
                .header("Authorization", auth)
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", super::API_VERSION);
            if cacheable {
                let etags = self.etags.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(c) = etags.pages.get(&key) {
                    request = request.header("If-None-Match", c.etag.clone());
                }
            }
            // Checked again right before sending: the governor's waits and the token exchange
            // may have outlived the lease (or the process was paused).
            if let Some(refused) = self.lease_refusal(endpoint) {
                return Err(refused);
            }
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    self.count(endpoint, "error");
                    last_error = self.error(
                        ApiErrorKind::Transport,
                        endpoint,
                        gse_actors::store::error_chain(&e),
                    );
                    if attempt >= max {
                        return Err(last_error);
                    }
                    tokio::time::sleep(self.retry.backoff(attempt)).await;
                    continue;
                }
            };
            let status = response.status().as_u16();
            self.count(endpoint, status_class(status));
            let remaining =
                header(&response, "x-ratelimit-remaining").and_then(|v| v.parse::<u64>().ok());
            let reset = header(&response, "x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok());
            let rate_resource = header(&response, "x-ratelimit-resource")
                .unwrap_or(resource)
                .to_string();
            self.record_rate(&rate_resource, remaining, reset);
            let limit = header(&response, "x-ratelimit-limit").and_then(|v| v.parse::<u64>().ok());
            self.governor.observe(resource, limit, remaining, reset);
            let next = self.next_page(endpoint, &response);
            let date = header(&response, "date").map(str::to_string);
            match status {
                304 => {
                    let etags = self.etags.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(c) = etags.pages.get(&key) {
                        if let Ok(value) = serde_json::from_slice(&c.compact) {
                            self.governor.success(resource);
                            let page = Page {
                                value,
                                next: c.next.clone(),
                                date,
                            };
                            return Ok((Answer::Page(page), None));
                        }
                    }
                    drop(etags);
                    // A 304 we cannot serve from the cache: ask again without the ETag.
                    self.etags
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&key);
                    last_error =
                        self.error(ApiErrorKind::Decode, endpoint, "304 without a cached body");
                }
                202 => return Ok((Answer::Accepted, None)),
                204 => return Ok((Answer::NoContent, None)),
                200..=299 => {
                    let next = next?;
                    let etag = header(&response, "etag").map(str::to_string);
                    match self.read_body(endpoint, response).await {
                        Err((error, false)) => return Err(error),
                        Err((error, true)) => last_error = error,
                        Ok(body) => match serde_json::from_slice::<T>(&body) {
                            Ok(value) => {
                                self.governor.success(resource);
                                let etag = etag.filter(|_| cacheable);
                                return Ok((Answer::Page(Page { value, next, date }), etag));
                            }
                            Err(e) => {
                                last_error = self.error(
                                    ApiErrorKind::Decode,
                                    endpoint,
                                    format!("malformed body: {e}"),
                                );
                            }
                        },
                    }
                }
                401 if self.credential.is_app() && !refreshed_token => {
                    // The installation token may have expired early (clock skew): get a new one.
                    refreshed_token = true;
                    self.credential.invalidate().await;
                    attempt -= 1;
                    continue;
                }
                401 => {
                    return Err(self.error(
                        ApiErrorKind::Unauthorized,
                        endpoint,
                        "401 Bad credentials",
                    ))
                }
                403 | 429 => {
                    let retry_after = header(&response, "retry-after").and_then(parse_retry_after);
                    let limits = &self.limits;
                    let in_flight = Some(&limits.in_flight);
                    let body = read_capped(response, limits.max_response_bytes, in_flight)
                        .await
                        .unwrap_or_default();
                    let secondary_text = String::from_utf8_lossy(&body)
                        .to_ascii_lowercase()
                        .contains("secondary rate limit");
                    if retry_after.is_some() || status == 429 || secondary_text {
                        let wait = self.governor.secondary(resource, retry_after);
                        self.telemetry
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .secondary_limit_hits += 1;
                        tracing::info!(org = %self.org, endpoint, status, wait_s = wait.as_secs_f64(), "secondary rate limit");
                        last_error = self.error(
                            ApiErrorKind::RateLimited,
                            endpoint,
                            format!("{status} secondary rate limit"),
                        );
                    } else if remaining == Some(0) {
                        // observe() has paused the resource until reset + buffer.
                        last_error = self.error(
                            ApiErrorKind::RateLimited,
                            endpoint,
                            "rate budget exhausted",
                        );
                    } else {
                        return Err(self.error(ApiErrorKind::Forbidden, endpoint, "403 Forbidden"));
                    }
                    if attempt >= max {
                        return Err(last_error);
                    }
                    continue;
                }
                404 => return Err(self.error(ApiErrorKind::NotFound, endpoint, "404")),
                409 => return Err(self.error(ApiErrorKind::Conflict, endpoint, "409")),
                422 => return Err(self.error(ApiErrorKind::Unprocessable, endpoint, "422")),
                500..=599 => {
                    last_error = self.error(ApiErrorKind::Server, endpoint, format!("{status}"));
                }
                other => {
                    return Err(self.error(
                        ApiErrorKind::Server,
                        endpoint,
                        format!("unexpected status {other}"),
                    ))
                }
            }
            if attempt >= max {
                return Err(last_error);
            }
            tokio::time::sleep(self.retry.backoff(attempt)).await;
        }
    }

    /// Follows `Link: rel="next"` from `url`, calling `page` on each decoded page until it
    /// returns false (early stop) or no next page exists.
    pub async fn paginate<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        url: Url,
        resource: &'static str,
        mut page: impl FnMut(T) -> bool,
    ) -> Result<(), ApiError> {
        let mut next = Some(url);
        let mut pages = 0u32;
        while let Some(url) = next.take() {
            if pages >= self.limits.max_pages_per_listing {
                return Err(self.too_many_pages(endpoint));
            }
            pages += 1;
            match self.get::<T>(endpoint, url, resource).await? {
                Answer::Page(p) => {
                    if !page(p.value) {
                        return Ok(());
                    }
                    next = p.next;
                }
                Answer::Accepted | Answer::NoContent => return Ok(()),
            }
        }
        Ok(())
    }

    /// Like [`Client::paginate`] with ETags on every page (stable listings).
    pub async fn paginate_cached<T: DeserializeOwned + Serialize>(
        &self,
        endpoint: &'static str,
        url: Url,
        resource: &'static str,
        mut page: impl FnMut(T),
    ) -> Result<(), ApiError> {
        let mut next = Some(url);
        let mut pages = 0u32;
        while let Some(url) = next.take() {
            if pages >= self.limits.max_pages_per_listing {
                return Err(self.too_many_pages(endpoint));
            }
            pages += 1;
            if let Answer::Page(p) = self.get_cached::<T>(endpoint, url, resource).await? {
                page(p.value);
                next = p.next;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The next link is found among GitHub's `Link` relations.
    #[test]
    fn next_link_is_found_in_githubs_format() {
        let link = "<http://h/x?page=1>; rel=\"prev\", <http://h/x?page=3>; rel=\"next\", <http://h/x?page=9>; rel=\"last\"";
        assert_eq!(next_link(link), Some("http://h/x?page=3"));
        assert_eq!(next_link("<http://h/x?page=1>; rel=\"prev\""), None);
    }

    /// Backoff doubles, is capped, and jitter stays in the upper half.
    #[test]
    fn backoff_doubles_caps_and_jitters() {
        let mut r = RetrySettings {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            jitter: false,
        };
        assert_eq!(r.backoff(1), Duration::from_millis(100));
        assert_eq!(r.backoff(2), Duration::from_millis(200));
        assert_eq!(r.backoff(3), Duration::from_millis(350));
        r.jitter = true;
        for _ in 0..50 {
            let b = r.backoff(2);
            assert!(b >= Duration::from_millis(100) && b <= Duration::from_millis(200));
        }
    }
}
