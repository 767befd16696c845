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
//!
//! - [`settings`]: the retry backoff and the [`ResponseLimits`].
//! - [`request`]: one call's attempt loop and what each answer means (retry, wait, fail).
//! - [`pages`]: `Link` pagination, kept on the API's origin and within the page limit.
//! - [`etag`]: the per-org cache of ETags and the pages they validate.

mod etag;
mod pages;
mod request;
mod settings;

pub use pages::next_link;
pub use settings::{ResponseLimits, RetrySettings};

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use gse_actors::election::validity::{lease_state, LeaseState};
use gse_actors::scrape::port::{ApiError, ApiErrorKind, ApiTelemetry};
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use super::auth::Credential;
use super::governor::Governor;
use super::owner::Owner;
use etag::{Cached, EtagCache};

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

/// One org's view of GitHub: shared HTTP client, its credential and governor, its telemetry.
pub struct Client {
    pub http: reqwest::Client,
    pub base: Url,
    pub org: String,
    pub credential: Arc<Credential>,
    pub governor: Arc<Governor>,
    pub retry: RetrySettings,
    pub limits: ResponseLimits,
    /// Who owns the org's repositories (organization or user account), asked once.
    pub owner: Arc<Owner>,
    /// Refuse calls made outside a lease scope (elected modes: every call is on behalf of an
    /// org, so only its lease holder may make it).
    require_lease: bool,
    telemetry: Mutex<ApiTelemetry>,
    etags: Mutex<EtagCache>,
}

/// A header of `response` as text, if it is there and readable.
fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
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
            owner: Arc::new(Owner::new(&org)),
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

    /// The same client, sharing `owner` with other clients of the org (the Copilot reader's,
    /// the App credential's), so the owner is asked once.
    pub fn with_owner(mut self, owner: Arc<Owner>) -> Client {
        self.owner = owner;
        self
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
}
