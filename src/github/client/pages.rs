//! `Link` pagination: a listing is followed page by page through `rel="next"`, only on the
//! API's own origin and for at most `github.max_pages_per_listing` pages; a listing that cannot
//! be read to its end fails as [`ApiErrorKind::Incomplete`].

use gse_actors::scrape::port::{ApiError, ApiErrorKind};
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use super::{header, Answer, Client};

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
    /// The `rel="next"` URL of `response`'s `Link`, if it stays on `api_base_url`'s origin.
    /// A `next` elsewhere is never followed (a token must not leave for another host): the
    /// listing cannot be completed, so the call fails as [`ApiErrorKind::Incomplete`].
    pub(super) fn next_page(
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
}
