//! The org-wide search of issues and pull requests updated since a time (`org:{org}`, or
//! `user:{user}` for a user account, which `org:` does not find): over GraphQL when it
//! is usable (see [`super::fallback`]), over REST `search/issues` otherwise. GitHub serves at
//! most [`SEARCH_CAP`] results per query, so a range reporting more is halved until each part
//! fits.

use gse_actors::scrape::owner::search_qualifier;
use gse_actors::scrape::port::{ApiError, ApiErrorKind, IssueItem, SearchResult};

use super::{decode_error, login, OrgApi};
use crate::github::graphql;
use crate::github::wire::{self, format_time, parse_time};

/// GitHub serves at most this many search results per query.
const SEARCH_CAP: u64 = 1000;

/// One search query's outcome.
enum RangeAnswer {
    Items(Vec<IssueItem>),
    /// More than GitHub serves for one query; `newest` is the latest `updated_at` seen.
    TooMany {
        newest: i64,
    },
    Incomplete(Vec<IssueItem>),
}

/// Which API answers the org-wide search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SearchBackend {
    /// GraphQL: items come with their reviews and newest comments.
    Graphql,
    /// REST `search/issues`: items only.
    Rest,
}

impl OrgApi {
    /// All issues and pull requests updated at or after `since`. GitHub serves at most 1,000
    /// results per query, so a query reporting more is split in two time ranges (the newer one
    /// left open-ended, so items updated while the cycle runs are never cut off) until each
    /// part fits; a part that cannot be split further makes the result incomplete.
    pub(super) async fn search(self, since: i64) -> Result<SearchResult, ApiError> {
        if self.graphql_usable() {
            match self.search_with(since, SearchBackend::Graphql).await {
                Ok(result) => return Ok(result),
                Err(e) => {
                    if let Some(g) = &self.graphql {
                        g.failed(&self.client.org, &e);
                    }
                }
            }
        }
        self.search_with(since, SearchBackend::Rest).await
    }

    async fn search_with(
        &self,
        since: i64,
        backend: SearchBackend,
    ) -> Result<SearchResult, ApiError> {
        let mut items = Vec::new();
        let mut complete = true;
        let mut ranges: Vec<(i64, Option<i64>)> = vec![(since, None)];
        while let Some((lo, hi)) = ranges.pop() {
            let answer = match backend {
                SearchBackend::Graphql => self.graphql_range(lo, hi).await?,
                SearchBackend::Rest => self.search_range(lo, hi).await?,
            };
            match answer {
                RangeAnswer::Items(found) => items.extend(found),
                RangeAnswer::TooMany { newest } => {
                    let top = hi.unwrap_or(newest);
                    let mid = lo + (top - lo) / 2;
                    if mid <= lo || ranges.len() > 64 {
                        complete = false;
                        continue;
                    }
                    ranges.push((lo, Some(mid)));
                    ranges.push((mid + 1, hi));
                }
                RangeAnswer::Incomplete(found) => {
                    complete = false;
                    items.extend(found);
                }
            }
        }
        // Ranges do not overlap, but an item updated between two queries can appear twice.
        items.sort_by(|a, b| {
            (&a.repo, a.number, b.updated_at).cmp(&(&b.repo, b.number, a.updated_at))
        });
        items.dedup_by(|a, b| a.repo == b.repo && a.number == b.number);
        Ok(SearchResult { items, complete })
    }

    /// One time range of the search over GraphQL, page by page.
    async fn graphql_range(&self, lo: i64, hi: Option<i64>) -> Result<RangeAnswer, ApiError> {
        let Some(endpoint) = &self.graphql else {
            return Err(ApiError {
                kind: ApiErrorKind::Config,
                endpoint: graphql::ENDPOINT,
                detail: "no GraphQL URL for this base URL".into(),
            });
        };
        let qualifier = self.qualifier().await?;
        let q = graphql::search_string(qualifier, &self.client.org, lo, hi);
        let mut items: Vec<IssueItem> = Vec::new();
        let mut seen = 0u64;
        let mut newest = lo;
        let mut after: Option<String> = None;
        loop {
            let page =
                graphql::search_page(&self.client, &endpoint.url, &q, after.as_deref()).await?;
            if page.issue_count > SEARCH_CAP {
                newest = page
                    .items
                    .iter()
                    .map(|i| i.updated_at)
                    .fold(newest, i64::max);
                return Ok(RangeAnswer::TooMany { newest });
            }
            seen += page.nodes;
            items.extend(page.items);
            match page.next {
                Some(cursor) if seen < page.issue_count => after = Some(cursor),
                _ => {
                    return Ok(if seen < page.issue_count {
                        RangeAnswer::Incomplete(items)
                    } else {
                        RangeAnswer::Items(items)
                    })
                }
            }
        }
    }

    /// `org` or `user`: the qualifier naming the owner ([`search_qualifier`]).
    async fn qualifier(&self) -> Result<&'static str, ApiError> {
        let c = &self.client;
        Ok(search_qualifier(c.owner.resolve(c).await?.kind))
    }

    async fn search_range(&self, lo: i64, hi: Option<i64>) -> Result<RangeAnswer, ApiError> {
        const EP: &str = "/search/issues";
        let c = &self.client;
        let updated = match hi {
            None => format!(">={}", format_time(lo)),
            Some(hi) => format!("{}..{}", format_time(lo), format_time(hi)),
        };
        let qualifier = self.qualifier().await?;
        let q = format!("{qualifier}:{} updated:{updated}", c.org);
        let url = c.url(
            "search/issues",
            &[
                ("q", &q),
                ("sort", "updated"),
                ("order", "desc"),
                ("per_page", "100"),
            ],
        )?;
        let mut items = Vec::new();
        let mut total = 0u64;
        let mut incomplete = false;
        let mut newest = lo;
        let mut bad = None;
        let mut too_many = false;
        c.paginate::<wire::Search>(EP, url, "search", |page| {
            total = page.total_count;
            incomplete |= page.incomplete_results;
            for it in page.items {
                let repo = it
                    .repository_url
                    .as_deref()
                    .and_then(|u| u.rsplit('/').next())
                    .map(str::to_string);
                let (Some(repo), Some(created_at), Some(updated_at)) =
                    (repo, parse_time(&it.created_at), parse_time(&it.updated_at))
                else {
                    bad = Some(decode_error(EP, "search item"));
                    return false;
                };
                newest = newest.max(updated_at);
                let (author, author_is_bot) = login(&it.user);
                items.push(IssueItem {
                    repo,
                    number: it.number,
                    is_pull: it.pull_request.is_some(),
                    author,
                    author_is_bot,
                    created_at,
                    updated_at,
                    merged_at: it
                        .pull_request
                        .and_then(|p| p.merged_at)
                        .as_deref()
                        .and_then(parse_time),
                    reviews: None,
                    comments: None,
                });
            }
            if total > SEARCH_CAP {
                too_many = true;
                return false;
            }
            (items.len() as u64) < total
        })
        .await?;
        if let Some(e) = bad {
            return Err(e);
        }
        Ok(if too_many {
            RangeAnswer::TooMany { newest }
        } else if incomplete || (items.len() as u64) < total {
            RangeAnswer::Incomplete(items)
        } else {
            RangeAnswer::Items(items)
        })
    }
}
