//! One call to GitHub, attempt by attempt: the lease check (again right before sending), the
//! governor's admission and pacing, the credential's authorization, `If-None-Match` for cached
//! pages, and what each answer means — a page (2xx, or a 304 served from the ETag cache), a
//! token refresh (401 of an App), a secondary or primary rate limit (403/429: the governor
//! waits), a retry with backoff (5xx, transport errors, malformed or truncated bodies) or a
//! final error. Bodies are read under [`ResponseLimits`](super::ResponseLimits).

use bytes::Bytes;
use gse_actors::scrape::port::{ApiError, ApiErrorKind};
use serde::de::DeserializeOwned;
use tracing::Instrument as _;
use url::Url;

use super::{header, Answer, Client, Page};
use crate::github::body::{read_capped, BodyError};
use crate::github::governor::parse_retry_after;

fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "error",
    }
}

impl Client {
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

    /// One call, attempts included, in a `github.request` span (a child of the unit of work
    /// that asks): the method, the endpoint's template (never the URL, whose query may carry
    /// cursors), the last status, the rate budget left and the attempts made. A call that
    /// fails for any reason but "no data here" (404, 409, 422) has error status.
    pub(super) async fn request<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        url: Url,
        body: Option<Bytes>,
        resource: &'static str,
        cacheable: bool,
    ) -> Result<(Answer<T>, Option<String>), ApiError> {
        let span = tracing::info_span!(
            "github.request",
            http.request.method = if body.is_some() { "POST" } else { "GET" },
            url.template = endpoint,
            http.response.status_code = tracing::field::Empty,
            github.rate_limit.remaining = tracing::field::Empty,
            attempt = tracing::field::Empty,
            otel.status_code = tracing::field::Empty
        );
        let result = self
            .attempts(endpoint, url, body, resource, cacheable)
            .instrument(span.clone())
            .await;
        if let Err(error) = &result {
            if !error.kind.is_absent() {
                span.record("otel.status_code", "ERROR");
            }
        }
        result
    }

    /// The shared request loop. With `cacheable`, a remembered ETag is sent and a 304 answers
    /// from the remembered page; a 200 returns its ETag for [`Client::get_cached`] to keep.
    async fn attempts<T: DeserializeOwned>(
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
            self.governor.acquire(resource).await;
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
                .header("X-GitHub-Api-Version", crate::github::API_VERSION);
            if cacheable {
                let etags = self.etags.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(c) = etags.get(&key) {
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
            let span = tracing::Span::current();
            span.record("http.response.status_code", i64::from(status));
            span.record("attempt", i64::from(attempt));
            if let Some(remaining) = remaining {
                span.record(
                    "github.rate_limit.remaining",
                    i64::try_from(remaining).unwrap_or(i64::MAX),
                );
            }
            let reset = header(&response, "x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok());
            let rate_resource = header(&response, "x-ratelimit-resource")
                .unwrap_or(resource)
                .to_string();
            self.record_rate(&rate_resource, remaining, reset);
            let limit = header(&response, "x-ratelimit-limit").and_then(|v| v.parse::<u64>().ok());
            self.governor
                .observe(resource, limit, remaining, reset)
                .await;
            let next = self.next_page(endpoint, &response);
            let date = header(&response, "date").map(str::to_string);
            match status {
                304 => {
                    let etags = self.etags.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(c) = etags.get(&key) {
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
                        let wait = self.governor.secondary(resource, retry_after).await;
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
}
