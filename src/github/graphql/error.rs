//! GraphQL's failures as [`ApiError`]s: the `errors` array of an answer (a rate limit when any
//! error says `RATE_LIMITED`, else a decode error) and answers that do not decode.

use gse_actors::scrape::port::{ApiError, ApiErrorKind};
use serde::Deserialize;

use super::ENDPOINT;

#[derive(Debug, Deserialize)]
/// One element of an answer's `errors` array.
pub(super) struct GraphqlError {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
    /// Where it happened; the first element is the top-level field or alias.
    #[serde(default)]
    path: Option<Vec<serde_json::Value>>,
}

impl GraphqlError {
    pub(super) fn rate_limited(&self) -> bool {
        self.kind.as_deref() == Some("RATE_LIMITED")
    }

    /// The top-level alias the error belongs to, if any.
    pub(super) fn alias(&self) -> Option<&str> {
        self.path.as_ref()?.first()?.as_str()
    }
}

/// One `ApiError` for a set of GraphQL errors: a rate limit when any says so, else a decode
/// error; the detail is the first message, shortened.
pub(super) fn api_error(errors: &[GraphqlError]) -> ApiError {
    let detail: String = errors
        .first()
        .and_then(|e| e.message.as_deref())
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    ApiError {
        kind: if errors.iter().any(GraphqlError::rate_limited) {
            ApiErrorKind::RateLimited
        } else {
            ApiErrorKind::Decode
        },
        endpoint: ENDPOINT,
        detail: format!("GraphQL error: {detail}"),
    }
}

/// A decode error of a GraphQL answer.
pub(super) fn bad(detail: impl Into<String>) -> ApiError {
    ApiError {
        kind: ApiErrorKind::Decode,
        endpoint: ENDPOINT,
        detail: detail.into(),
    }
}
