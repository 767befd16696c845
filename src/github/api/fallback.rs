//! Which API answers when both could: GraphQL while it is served and healthy, REST otherwise.
//! A 404 from GraphQL (an old GHES, a proxy) hands over to REST for the rest of the process'
//! life; any other failure for [`GRAPHQL_SUSPENSION`]; a spent points budget until it resets.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gse_actors::scrape::port::{ApiError, ApiErrorKind};

/// Where GraphQL is served, and whether it turned out not to be (404 from an old GHES or a
/// proxy): then REST is used for the rest of the process' life. After any other failure REST
/// is used for [`GRAPHQL_SUSPENSION`], so an outage of GraphQL costs one failed call, not one
/// per cycle and batch.
pub(super) struct GraphqlEndpoint {
    pub(super) url: url::Url,
    unavailable: AtomicBool,
    suspended_until: std::sync::Mutex<Option<std::time::Instant>>,
}

/// How long REST stands in after a GraphQL failure.
const GRAPHQL_SUSPENSION: Duration = Duration::from_secs(300);

impl GraphqlEndpoint {
    /// GraphQL served at `url`, usable until it fails.
    pub(super) fn new(url: url::Url) -> GraphqlEndpoint {
        GraphqlEndpoint {
            url,
            unavailable: AtomicBool::new(false),
            suspended_until: std::sync::Mutex::new(None),
        }
    }

    /// Whether GraphQL may be tried now.
    pub(super) fn usable(&self) -> bool {
        if self.unavailable.load(Ordering::Relaxed) {
            return false;
        }
        let suspended = self
            .suspended_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        suspended.is_none_or(|until| std::time::Instant::now() >= until)
    }

    /// Records a failed GraphQL call: for good on a 404, for a while otherwise.
    pub(super) fn failed(&self, org: &str, error: &ApiError) {
        if error.kind == ApiErrorKind::NotFound {
            self.unavailable.store(true, Ordering::Relaxed);
            tracing::info!(org, error = %error, "GraphQL is not served here; using REST from now on");
        } else if error.kind != ApiErrorKind::RateLimited {
            *self
                .suspended_until
                .lock()
                .unwrap_or_else(|p| p.into_inner()) =
                Some(std::time::Instant::now() + GRAPHQL_SUSPENSION);
            tracing::warn!(org, error = %error, suspend_s = GRAPHQL_SUSPENSION.as_secs(), "GraphQL failed; using REST for a while");
        } else {
            tracing::info!(org, error = %error, "GraphQL budget spent; using REST until it resets");
        }
    }
}
