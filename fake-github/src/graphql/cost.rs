//! A query's rate-limit cost, computed before execution as GitHub documents it: every
//! connection (a field returning a `…Connection` type) costs one request for each parent it can
//! be fetched under, i.e. the product of the `first`/`last` of the connections above it (1 at
//! the top). The requests are added up, divided by 100 and rounded to the nearest whole number,
//! with a minimum of 1. The same connection selected twice at one place (e.g. `comments` in
//! both `... on Issue` and `... on PullRequest`) is one connection.
//!
//! The same pass enforces GitHub's pagination rules on connections: `first` or `last` required,
//! not both, neither negative nor above 100 (`MISSING_PAGINATION_BOUNDARIES`,
//! `EXCESSIVE_PAGINATION`, …), and counts `nodeCount` (the most nodes the query can return).

use super::error::GqlError;
use super::plan::Field;

/// The largest `first` / `last` GitHub accepts.
pub const MAX_PAGE: i64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cost {
    /// Rate-limit points: `max(1, round(requests / 100))`.
    pub points: u32,
    pub requests: u64,
    /// `rateLimit.nodeCount`.
    pub nodes: u64,
}

pub fn analyse(fields: &[Field]) -> Result<Cost, Vec<GqlError>> {
    let mut acc = Acc::default();
    walk(&fields.iter().collect::<Vec<_>>(), 1, &mut acc);
    if !acc.errors.is_empty() {
        return Err(acc.errors);
    }
    let points = ((acc.requests as f64) / 100.0).round().max(1.0);
    Ok(Cost {
        points: points.min(f64::from(u32::MAX)) as u32,
        requests: acc.requests,
        nodes: acc.nodes,
    })
}

#[derive(Default)]
struct Acc {
    requests: u64,
    nodes: u64,
    errors: Vec<GqlError>,
}

pub fn is_connection(f: &Field) -> bool {
    f.ty.named().ends_with("Connection")
}

/// Fields grouped by response key across fragments, in first-seen order.
fn merged<'a>(fields: &[&'a Field]) -> Vec<Vec<&'a Field>> {
    let mut groups: Vec<Vec<&Field>> = Vec::new();
    for f in fields {
        match groups.iter_mut().find(|g| g[0].key == f.key) {
            Some(g) => g.push(f),
            None => groups.push(vec![f]),
        }
    }
    groups
}

fn walk(fields: &[&Field], multiplier: u64, acc: &mut Acc) {
    for group in merged(fields) {
        let f = group[0];
        let children: Vec<&Field> = group.iter().flat_map(|g| g.children.iter()).collect();
        if is_connection(f) {
            let size = match page_size(f) {
                Ok(n) => n,
                Err(e) => {
                    acc.errors.push(e);
                    0
                }
            };
            acc.requests = acc.requests.saturating_add(multiplier);
            let below = multiplier.saturating_mul(size);
            acc.nodes = acc.nodes.saturating_add(below);
            walk(&children, below, acc);
        } else {
            walk(&children, multiplier, acc);
        }
    }
}

/// The page size a connection asks for, or GitHub's pagination error.
pub fn page_size(f: &Field) -> Result<u64, GqlError> {
    let err = |kind, message: String| GqlError::typed(kind, message, &f.key_path, f.pos);
    let name = &f.name;
    match (f.arg_i64("first"), f.arg_i64("last")) {
        (None, None) => Err(err(
            "MISSING_PAGINATION_BOUNDARIES",
            format!("You must provide a `first` or `last` value to properly paginate the `{name}` connection."),
        )),
        (Some(_), Some(_)) => Err(err(
            "MISSING_PAGINATION_BOUNDARIES",
            format!("Passing both `first` and `last` to paginate the `{name}` connection is not supported."),
        )),
        (Some(n), None) | (None, Some(n)) => {
            let which = if f.arg_i64("first").is_some() { "first" } else { "last" };
            if n < 0 {
                Err(err(
                    "INVALID_PAGINATION",
                    format!("`{which}` on the `{name}` connection cannot be less than zero."),
                ))
            } else if n > MAX_PAGE {
                Err(err(
                    "EXCESSIVE_PAGINATION",
                    format!("Requesting {n} records on the `{name}` connection exceeds the `{which}` limit of {MAX_PAGE} records."),
                ))
            } else {
                Ok(n as u64)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphql::schema::Schema;

    fn cost_of(query: &str) -> Result<Cost, Vec<GqlError>> {
        let schema = Schema::get().expect("schema");
        let doc = graphql_parser::parse_query::<String>(query).expect("parses");
        let fields = crate::graphql::plan::plan(schema, &doc, None, &Default::default())
            .expect("valid query");
        analyse(&fields)
    }

    /// GitHub's formula: requests = Σ connections × parents' page sizes, /100, rounded, ≥ 1.
    #[test]
    fn cost_follows_githubs_formula() {
        let c = cost_of("{ rateLimit { cost } }").expect("ok");
        assert_eq!((c.points, c.requests, c.nodes), (1, 0, 0));
        let q = |first: u32, last: u32| {
            format!(
                "{{ search(query: \"x\", type: ISSUE, first: {first}) {{ nodes {{
                  ... on Issue {{ comments(last: {last}) {{ totalCount }} }}
                  ... on PullRequest {{ comments(last: {last}) {{ totalCount }} reviews(last: {last}) {{ totalCount }} }}
                }} }} }}"
            )
        };
        // 1 search + 50 comments (one connection across both fragments) + 50 reviews.
        let c = cost_of(&q(50, 30)).expect("ok");
        assert_eq!((c.points, c.requests, c.nodes), (1, 101, 50 + 1500 + 1500));
        let c = cost_of(&q(100, 100)).expect("ok");
        assert_eq!((c.points, c.requests), (2, 201));
        // Two distinct paths are two connections: 1 + 100 + 100 + 100 = 301 → 3.
        let c = cost_of(
            "{ search(query: \"x\", type: ISSUE, first: 100) {
                 nodes { ... on Issue { comments(first: 1) { totalCount } } }
                 edges { node { ... on PullRequest { comments(first: 1) { totalCount } reviews(first: 1) { totalCount } } } } } }",
        )
        .expect("ok");
        assert_eq!((c.points, c.requests), (3, 301));
    }

    /// A repository is not a connection: aliased `repository { … history(first: 100) }`
    /// cost one request each, so 25 of them are 1 point and 151 are 2 (not 3).
    #[test]
    fn aliased_repositories_cost_one_request_per_history() {
        let q = |n: usize| {
            let aliases: String = (0..n)
                .map(|i| {
                    format!(
                        "r{i}: repository(owner: \"o\", name: \"r{i}\") {{ defaultBranchRef {{ target {{
                           ... on Commit {{ history(first: 100, since: \"2026-11-22T14:00:00Z\") {{ totalCount }} }} }} }} }}\n"
                    )
                })
                .collect();
            cost_of(&format!("{{ {aliases} }}")).expect("ok")
        };
        let c = q(25);
        assert_eq!((c.points, c.requests, c.nodes), (1, 25, 2500));
        let c = q(151);
        assert_eq!((c.points, c.requests), (2, 151));
        // Nested history: one request per parent commit.
        let c = cost_of(
            "{ repository(owner: \"o\", name: \"r\") { defaultBranchRef { target { ... on Commit {
                 history(first: 100) { nodes { history(first: 5) { totalCount } } } } } } } }",
        )
        .expect("ok");
        assert_eq!((c.points, c.requests, c.nodes), (1, 101, 100 + 500));
    }

    /// Pagination arguments are checked like GitHub does.
    #[test]
    fn pagination_limits_are_enforced() {
        let err = |q: &str| {
            cost_of(q)
                .err()
                .and_then(|e| e.first().map(|e| (e.kind, e.message.clone())))
        };
        assert_eq!(
            err("{ search(query: \"x\", type: ISSUE, first: 101) { issueCount } }"),
            Some((
                Some("EXCESSIVE_PAGINATION"),
                "Requesting 101 records on the `search` connection exceeds the `first` limit of 100 records.".to_string()
            ))
        );
        assert_eq!(
            err("{ search(query: \"x\", type: ISSUE) { issueCount } }").map(|e| e.0),
            Some(Some("MISSING_PAGINATION_BOUNDARIES"))
        );
        assert_eq!(
            err("{ search(query: \"x\", type: ISSUE, first: 1, last: 1) { issueCount } }")
                .map(|e| e.0),
            Some(Some("MISSING_PAGINATION_BOUNDARIES"))
        );
    }
}
