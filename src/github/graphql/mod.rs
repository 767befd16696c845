//! The org-wide queries through GitHub's GraphQL API, laid out as the fake's GraphQL server is:
//! [`search`] (issues and pull requests updated in a time range, with their reviews and
//! comments), [`commits`] (default-branch commits of many repositories per request) and
//! [`error`] (GraphQL's errors and undecodable answers as [`ApiError`]s). This module owns what
//! they share: the endpoint, the envelope every answer comes in, and the POST itself.
//!
//! GraphQL answers failures with HTTP 200 and an `errors` array (`RATE_LIMITED` when the points
//! budget is spent); both become [`ApiError`]s so the caller can fall back to REST. GHES serves
//! GraphQL at `/api/graphql`, not under the `/api/v3` REST prefix.

mod commits;
mod error;
mod search;

pub use commits::{commits_batch, commits_query, COMMIT_BATCH};
pub use search::{search_page, search_string, SearchPage, PAGE_SIZE};

use bytes::Bytes;
use gse_actors::scrape::port::ApiError;
use serde::Deserialize;
use url::Url;

use super::client::{Answer, Client};
use super::wire::parse_time;
use error::{bad, GraphqlError};

/// Endpoint label of every GraphQL request (telemetry, errors).
pub const ENDPOINT: &str = "/graphql";
/// The governor and `x-ratelimit-resource` name of the GraphQL points budget.
pub const RESOURCE: &str = "graphql";

/// The GraphQL endpoint that goes with a REST base URL: `https://api.github.com/graphql`, or
/// `https://ghes.example/api/graphql` for a GHES base ending in `/api/v3`.
pub fn graphql_url(base: &Url) -> Result<Url, url::ParseError> {
    let path = base.path().trim_end_matches('/');
    match path.strip_suffix("/api/v3") {
        Some(prefix) => {
            let mut url = base.clone();
            url.set_path(&format!("{prefix}/api/graphql"));
            Ok(url)
        }
        None => base.join("graphql"),
    }
}

/// Any GraphQL answer: `data` (possibly partial) and `errors`.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "D: Deserialize<'de>"))]
struct Envelope<D> {
    #[serde(default)]
    data: Option<D>,
    #[serde(default)]
    errors: Vec<GraphqlError>,
}

/// A connection's `pageInfo`.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    #[serde(default)]
    has_next_page: bool,
    #[serde(default)]
    has_previous_page: bool,
    #[serde(default)]
    end_cursor: Option<String>,
}

/// POSTs `query` with `variables` and decodes the envelope.
async fn post<D: serde::de::DeserializeOwned>(
    client: &Client,
    url: &Url,
    query: &str,
    variables: serde_json::Value,
) -> Result<Envelope<D>, ApiError> {
    let body = serde_json::json!({ "query": query, "variables": variables });
    let body = Bytes::from(serde_json::to_vec(&body).map_err(|e| bad(e.to_string()))?);
    match client
        .post_json::<Envelope<D>>(ENDPOINT, url.clone(), body, RESOURCE)
        .await?
    {
        Answer::Page(page) => Ok(page.value),
        Answer::Accepted | Answer::NoContent => Err(bad("GraphQL answered without a body")),
    }
}

/// A timestamp of an answer, or a decode error naming `what`.
fn time(s: &str, what: &str) -> Result<i64, ApiError> {
    parse_time(s).ok_or_else(|| bad(format!("bad {what} timestamp")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// REST base URLs map to GitHub's GraphQL endpoints, GHES included.
    #[test]
    fn graphql_url_follows_the_rest_base() {
        let u = |s: &str| graphql_url(&Url::parse(s).unwrap()).unwrap().to_string();
        assert_eq!(
            u("https://api.github.com/"),
            "https://api.github.com/graphql"
        );
        assert_eq!(
            u("https://ghes.example/api/v3/"),
            "https://ghes.example/api/graphql"
        );
        assert_eq!(
            u("http://127.0.0.1:9/api/v3"),
            "http://127.0.0.1:9/api/graphql"
        );
        assert_eq!(u("http://127.0.0.1:9/x/"), "http://127.0.0.1:9/x/graphql");
    }
}
