//! `per_page`/`page` handling and the RFC 8288 `Link` header exactly as GitHub writes it:
//! `<URL>; rel="prev", <URL>; rel="next", <URL>; rel="last", <URL>; rel="first"`, where each URL
//! is the request URL with its query kept in order and `page` replaced in place (or appended).

pub const DEFAULT_PER_PAGE: usize = 30;
pub const MAX_PER_PAGE: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageReq {
    pub per_page: usize,
    /// 1-based.
    pub page: usize,
}

impl PageReq {
    /// Reads `per_page` (default 30, capped at 100) and `page` (default 1) like GitHub: values
    /// that do not parse fall back to the defaults.
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> PageReq {
        let per_page = get("per_page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|v| *v > 0)
            .map(|v| v.min(MAX_PER_PAGE))
            .unwrap_or(DEFAULT_PER_PAGE);
        let page = get("page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|v| *v > 0)
            .unwrap_or(1);
        PageReq { per_page, page }
    }

    /// Page count of a list of `total` items (at least 1).
    pub fn last_page(&self, total: usize) -> usize {
        total.div_ceil(self.per_page).max(1)
    }

    /// The items of this page.
    pub fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let start = (self.page - 1)
            .saturating_mul(self.per_page)
            .min(items.len());
        let end = start.saturating_add(self.per_page).min(items.len());
        &items[start..end]
    }
}

/// The `Link` header for `page` of `last`, or `None` when everything fits on one page.
/// `base` is scheme, host and path; `raw_query` the query string as received.
pub fn link_header(base: &str, raw_query: &str, page: usize, last: usize) -> Option<String> {
    if last <= 1 && page <= 1 {
        return None;
    }
    let url = |n: usize| format!("<{base}?{}>", with_page(raw_query, n));
    let mut parts = Vec::with_capacity(4);
    if page > 1 {
        parts.push(format!(
            "{}; rel=\"prev\"",
            url((page - 1).min(last.max(1)))
        ));
    }
    if page < last {
        parts.push(format!("{}; rel=\"next\"", url(page + 1)));
        parts.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        parts.push(format!("{}; rel=\"first\"", url(1)));
    }
    Some(parts.join(", "))
}

/// `raw_query` with `page` set to `n`: replaced in place, or appended.
pub fn with_page(raw_query: &str, n: usize) -> String {
    let mut replaced = false;
    let mut pieces: Vec<String> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p == "page" || p.starts_with("page=") {
                replaced = true;
                format!("page={n}")
            } else {
                p.to_string()
            }
        })
        .collect();
    if !replaced {
        pieces.push(format!("page={n}"));
    }
    pieces.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header follows GitHub's order and keeps the query in place.
    #[test]
    fn link_header_matches_github_format() {
        let b = "http://h/repos/o/r/commits";
        assert_eq!(
            link_header(b, "per_page=2", 1, 5).as_deref(),
            Some("<http://h/repos/o/r/commits?per_page=2&page=2>; rel=\"next\", <http://h/repos/o/r/commits?per_page=2&page=5>; rel=\"last\"")
        );
        assert_eq!(
            link_header(b, "page=3&per_page=2", 3, 5).as_deref(),
            Some("<http://h/repos/o/r/commits?page=2&per_page=2>; rel=\"prev\", <http://h/repos/o/r/commits?page=4&per_page=2>; rel=\"next\", <http://h/repos/o/r/commits?page=5&per_page=2>; rel=\"last\", <http://h/repos/o/r/commits?page=1&per_page=2>; rel=\"first\"")
        );
        assert_eq!(
            link_header(b, "per_page=2&page=5", 5, 5).as_deref(),
            Some("<http://h/repos/o/r/commits?per_page=2&page=4>; rel=\"prev\", <http://h/repos/o/r/commits?per_page=2&page=1>; rel=\"first\"")
        );
        assert_eq!(link_header(b, "", 1, 1), None);
    }
}
