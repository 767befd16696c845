//! GraphQL API v4 over real HTTP: the exporter's search walk gives exactly what the REST
//! endpoints give at the same instant (before and after the clock moves), the bot login quirk,
//! GitHub-style errors, cost and the `graphql` budget, GHES path, auth, faults and secondary
//! limits.

mod common;

use std::collections::BTreeMap;

use common::*;
use fake_github::{FakeConfig, FakeGithub, SecondaryLimits};
use serde_json::{json, Value};

/// The exporter's query, verbatim.
const EXPORTER_QUERY: &str = r#"query($q: String!, $first: Int!, $after: String) {
  rateLimit { cost remaining resetAt }
  search(query: $q, type: ISSUE, first: $first, after: $after) {
    issueCount
    pageInfo { hasNextPage endCursor }
    nodes {
      __typename
      ... on Issue {
        number createdAt updatedAt
        author { __typename login }
        repository { name }
        comments(last: 30) { pageInfo { hasPreviousPage } nodes { databaseId createdAt author { __typename login } } }
      }
      ... on PullRequest {
        number createdAt updatedAt mergedAt
        author { __typename login }
        repository { name }
        comments(last: 30) { pageInfo { hasPreviousPage } nodes { databaseId createdAt author { __typename login } } }
        reviews(last: 30) { pageInfo { hasPreviousPage } nodes { databaseId state submittedAt author { __typename login } } }
      }
    }
  }
}"#;

fn gql_config() -> FakeConfig {
    let mut c = config();
    // The fixed clock keeps every request in one burst window.
    c.secondary.burst_max = 0;
    c
}

/// POSTs a GraphQL body to `path` with an optional `Authorization` value.
async fn post(
    c: &reqwest::Client,
    url: &str,
    auth: Option<&str>,
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut r = c.post(url).json(body);
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    let resp = r.send().await.expect("request reaches the fake");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("a body");
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body: {text}"));
    (status, headers, v)
}

async fn gql(c: &reqwest::Client, base: &str, query: &str, variables: Value) -> Value {
    let (status, _, v) = post(
        c,
        &format!("{base}/graphql"),
        Some(&format!("bearer {TOKEN}")),
        &json!({"query": query, "variables": variables}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v
}

fn h(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A REST user as GraphQL shows it: `{__typename, login}`, bots without `[bot]`.
fn rest_actor(u: &Value) -> Value {
    let kind = u["type"].as_str().unwrap_or("User");
    let login = u["login"].as_str().unwrap_or("");
    let login = if kind == "Bot" {
        login.strip_suffix("[bot]").unwrap_or(login)
    } else {
        login
    };
    json!({"__typename": kind, "login": login})
}

fn last_segment(url: &Value) -> String {
    url.as_str()
        .and_then(|u| u.rsplit('/').next())
        .unwrap_or("")
        .to_string()
}

/// Everything of one issue or pull request, in a form both APIs can be brought to: `head`
/// holds kind, repo, number, times and author.
fn record(mut head: Value, comments: Vec<Value>, reviews: Option<Vec<Value>>) -> Value {
    head["comments"] = json!(comments);
    head["reviews"] = json!(reviews);
    head
}

/// The REST view: search (updated desc), then reviews per pull request and the repositories'
/// comments, as a correct REST exporter would walk them.
async fn rest_walk(c: &reqwest::Client, base: &str, org: &str, q: &str) -> Vec<Value> {
    let url = reqwest::Url::parse_with_params(
        &format!("{base}/search/issues"),
        &[
            ("q", q),
            ("sort", "updated"),
            ("order", "desc"),
            ("per_page", "100"),
        ],
    )
    .expect("url");
    let items = get_all_search(c, url.as_str()).await;
    let mut comments_by_repo: BTreeMap<String, BTreeMap<String, Vec<Value>>> = BTreeMap::new();
    let mut out = Vec::new();
    for it in items {
        let repo = last_segment(&it["repository_url"]);
        if !comments_by_repo.contains_key(&repo) {
            let mut by_issue: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            for cm in get_all(
                c,
                &format!("{base}/repos/{org}/{repo}/issues/comments?per_page=100"),
            )
            .await
            {
                by_issue.entry(last_segment(&cm["issue_url"])).or_default().push(json!({
                    "databaseId": cm["id"], "createdAt": cm["created_at"], "author": rest_actor(&cm["user"])
                }));
            }
            comments_by_repo.insert(repo.clone(), by_issue);
        }
        let n = it["number"].to_string();
        let comments = comments_by_repo[&repo].get(&n).cloned().unwrap_or_default();
        let is_pull = it.get("pull_request").is_some();
        let reviews = if is_pull {
            let rs = get_all(
                c,
                &format!("{base}/repos/{org}/{repo}/pulls/{n}/reviews?per_page=100"),
            )
            .await;
            Some(
                rs.iter()
                    .map(|r| {
                        json!({"databaseId": r["id"], "state": r["state"],
                               "submittedAt": r.get("submitted_at").cloned().unwrap_or(Value::Null),
                               "author": rest_actor(&r["user"])})
                    })
                    .collect(),
            )
        } else {
            None
        };
        let head = json!({
            "kind": if is_pull { "PullRequest" } else { "Issue" },
            "repo": repo, "number": it["number"], "createdAt": it["created_at"],
            "updatedAt": it["updated_at"],
            "mergedAt": if is_pull { it["pull_request"]["merged_at"].clone() } else { Value::Null },
            "author": rest_actor(&it["user"]),
        });
        out.push(record(head, comments, reviews));
    }
    out
}

/// Search items of every page (`{items: [...]}` bodies), following `Link`.
async fn get_all_search(c: &reqwest::Client, url: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(url.to_string());
    while let Some(u) = next {
        let r = get(c, &u).await;
        assert_eq!(r.status(), 200, "GET {u}");
        next = next_link(header(&r, "link").as_deref());
        let page: Value = r.json().await.expect("JSON");
        out.extend(page["items"].as_array().cloned().unwrap_or_default());
    }
    out
}

/// All of one connection of an issue or pull request, paging forwards through
/// `repository { issue|pullRequest { comments|reviews } }`.
async fn full_connection(
    c: &reqwest::Client,
    base: &str,
    org: &str,
    repo: &str,
    kind: &str,
    number: i64,
    conn: &str,
) -> Vec<Value> {
    let item = if kind == "Issue" {
        "issue"
    } else {
        "pullRequest"
    };
    let node = if conn == "reviews" {
        "databaseId state submittedAt author { __typename login }"
    } else {
        "databaseId createdAt author { __typename login }"
    };
    let q = format!(
        "query($o: String!, $r: String!, $n: Int!, $after: String) {{ repository(owner: $o, name: $r) {{ {item}(number: $n) {{ {conn}(first: 7, after: $after) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {node} }} }} }} }} }}"
    );
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let v = gql(
            c,
            base,
            &q,
            json!({"o": org, "r": repo, "n": number, "after": after}),
        )
        .await;
        let page = &v["data"]["repository"][item][conn];
        out.extend(page["nodes"].as_array().cloned().unwrap_or_default());
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            return out;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// Statistics of a GraphQL walk, so the test can tell its paths were exercised.
#[derive(Default, Debug)]
struct WalkStats {
    pages: usize,
    truncated: usize,
}

/// The GraphQL view: the exporter's query (with `last` replaced by `last_n`), paged with
/// `after`; connections cut short by `last` are completed by paging forwards, after checking
/// that `last` gave the newest ones.
async fn graphql_walk(
    c: &reqwest::Client,
    base: &str,
    org: &str,
    q: &str,
    last_n: usize,
    stats: &mut WalkStats,
) -> Vec<Value> {
    let query = EXPORTER_QUERY.replace("last: 30", &format!("last: {last_n}"));
    let mut out = Vec::new();
    let mut after = Value::Null;
    let mut total = None;
    loop {
        let v = gql(
            c,
            base,
            &query,
            json!({"q": q, "first": 20, "after": after}),
        )
        .await;
        assert!(v.get("errors").is_none(), "{v}");
        stats.pages += 1;
        let s = &v["data"]["search"];
        total = total.or(s["issueCount"].as_u64());
        assert_eq!(v["data"]["rateLimit"]["cost"], 1, "1 + 20 + 20 requests");
        for n in s["nodes"].as_array().expect("nodes") {
            let kind = n["__typename"].as_str().expect("typename");
            let repo = n["repository"]["name"].as_str().expect("repo");
            let number = n["number"].as_i64().expect("number");
            let mut conns = BTreeMap::new();
            let names: &[&str] = if kind == "PullRequest" {
                &["comments", "reviews"]
            } else {
                &["comments"]
            };
            for conn in names {
                let got = n[*conn]["nodes"].as_array().cloned().expect("nodes");
                let truncated = n[*conn]["pageInfo"]["hasPreviousPage"] == json!(true);
                let full = if truncated {
                    stats.truncated += 1;
                    let full = full_connection(c, base, org, repo, kind, number, conn).await;
                    assert!(full.len() > last_n);
                    assert_eq!(
                        got,
                        full[full.len() - last_n..],
                        "last: {last_n} is the newest"
                    );
                    full
                } else {
                    assert!(got.len() <= last_n);
                    got
                };
                conns.insert(*conn, full);
            }
            let head = json!({
                "kind": kind, "repo": repo, "number": n["number"], "createdAt": n["createdAt"],
                "updatedAt": n["updatedAt"],
                "mergedAt": n.get("mergedAt").cloned().unwrap_or(Value::Null),
                "author": n["author"],
            });
            out.push(record(
                head,
                conns.remove("comments").unwrap_or_default(),
                conns.remove("reviews"),
            ));
        }
        if s["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = s["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(total, Some(out.len() as u64), "issueCount is the total");
    out
}

fn window_query(fake: &FakeGithub, org: &str) -> String {
    let since = fake_github::timefmt::iso((fake.now() - 86_400.0).floor() as i64);
    format!("org:{org} updated:>={since} sort:updated-desc")
}

/// The exporter's GraphQL walk over the last 24 h gives exactly the REST data (items, order,
/// reviews with pending ones, comments), also after the clock moves; `last:` returns the newest
/// and flags older ones.
#[tokio::test]
async fn exporter_walk_matches_rest_before_and_after_the_clock_moves() {
    let fake = spawn(gql_config());
    let (base, c) = (fake.base_url(), client());
    let org = fake.org_names()[0].clone();
    let mut previous: Option<Vec<Value>> = None;
    for step in 0..2 {
        let q = window_query(&fake, &org);
        let rest_q = q.replace(" sort:updated-desc", "");
        let rest = rest_walk(&c, &base, &org, &rest_q).await;
        let mut stats = WalkStats::default();
        let graphql = graphql_walk(&c, &base, &org, &q, 30, &mut stats).await;
        assert!(
            rest.len() > 20,
            "step {step}: enough items to page: {}",
            rest.len()
        );
        assert!(stats.pages >= 2);
        assert_eq!(graphql, rest, "step {step}");
        let reviews: usize = rest
            .iter()
            .filter_map(|r| r["reviews"].as_array().map(Vec::len))
            .sum();
        let pending = rest
            .iter()
            .flat_map(|r| r["reviews"].as_array().cloned().unwrap_or_default())
            .filter(|r| r["state"] == "PENDING" && r["submittedAt"].is_null())
            .count();
        assert!(reviews > 0, "some reviews to compare");
        assert!(
            pending > 0,
            "pending reviews appear in both with submittedAt null"
        );
        // A small `last` cuts connections short: flagged, newest kept, the rest reachable.
        let mut short = WalkStats::default();
        let graphql_short = graphql_walk(&c, &base, &org, &q, 1, &mut short).await;
        assert!(
            short.truncated > 0,
            "some connections have more than one node"
        );
        assert_eq!(graphql_short, rest, "step {step} with last: 1");
        if let Some(p) = &previous {
            assert_ne!(p, &rest, "the window moved");
        }
        previous = Some(rest);
        fake.advance_clock(5_400.0);
    }
}

/// `updated:A..B`, `is:pr` and `sort:created-asc` select and order like REST's `sort=created`
/// `order=asc`; `edges` cursors continue where `after` says.
#[tokio::test]
async fn range_and_sort_qualifiers_match_rest_search() {
    let fake = spawn(gql_config());
    let (base, c) = (fake.base_url(), client());
    let org = fake.org_names()[1].clone();
    let now = fake.now().floor() as i64;
    let a = fake_github::timefmt::iso(now - 3 * 86_400);
    let b = fake_github::timefmt::iso(now - 86_400);
    let rest_q = format!("org:{org} is:pr updated:{a}..{b}");
    let url = reqwest::Url::parse_with_params(
        &format!("{base}/search/issues"),
        &[
            ("q", rest_q.as_str()),
            ("sort", "created"),
            ("order", "asc"),
            ("per_page", "100"),
        ],
    )
    .expect("url");
    let rest: Vec<(String, Value)> = get_all_search(&c, url.as_str())
        .await
        .iter()
        .map(|it| (last_segment(&it["repository_url"]), it["number"].clone()))
        .collect();
    assert!(rest.len() > 10, "{}", rest.len());
    let query = "query($q: String!, $after: String) { search(query: $q, type: ISSUE, first: 7, after: $after) {
        issueCount edges { cursor node { __typename ... on PullRequest { number repository { nameWithOwner name } } } } } }";
    let mut got = Vec::new();
    let mut after = Value::Null;
    loop {
        let v = gql(
            &c,
            &base,
            query,
            json!({"q": format!("{rest_q} sort:created-asc"), "after": after}),
        )
        .await;
        let s = &v["data"]["search"];
        assert_eq!(s["issueCount"], json!(rest.len()));
        let edges = s["edges"].as_array().cloned().unwrap_or_default();
        if edges.is_empty() {
            break;
        }
        for e in &edges {
            assert_eq!(e["node"]["__typename"], "PullRequest");
            let n = &e["node"];
            assert_eq!(
                n["repository"]["nameWithOwner"],
                json!(format!(
                    "{org}/{}",
                    n["repository"]["name"].as_str().unwrap_or("")
                ))
            );
            got.push((
                n["repository"]["name"].as_str().unwrap_or("").to_string(),
                n["number"].clone(),
            ));
        }
        after = edges[edges.len() - 1]["cursor"].clone();
    }
    assert_eq!(got, rest);
}

/// A bot's GraphQL login lacks the `[bot]` suffix REST shows; its `__typename` is `Bot`.
#[tokio::test]
async fn bot_logins_lose_the_suffix_in_graphql() {
    let fake = spawn(gql_config());
    let (base, c) = (fake.base_url(), client());
    let org = fake.org_names()[0].clone();
    let query = "query($q: String!) { search(query: $q, type: ISSUE, first: 100) {
        nodes { ... on Issue { number author { __typename login ... on Bot { url } } repository { name } } } } }";
    let v = gql(
        &c,
        &base,
        query,
        json!({"q": format!("org:{org} is:issue sort:created-desc")}),
    )
    .await;
    let url = reqwest::Url::parse_with_params(
        &format!("{base}/search/issues"),
        &[
            ("q", format!("org:{org} is:issue")),
            ("sort", "created".into()),
            ("order", "desc".into()),
            ("per_page", "100".into()),
        ],
    )
    .expect("url");
    let r = get(&c, url.as_str()).await;
    let rest: Value = r.json().await.expect("JSON");
    let nodes = v["data"]["search"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let items = rest["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(nodes.len(), items.len());
    let mut bots = 0;
    for (n, it) in nodes.iter().zip(&items) {
        assert_eq!(n["number"], it["number"]);
        let rest_login = it["user"]["login"].as_str().unwrap_or("");
        if it["user"]["type"] == "Bot" {
            bots += 1;
            assert!(rest_login.ends_with("[bot]"), "{rest_login}");
            assert_eq!(n["author"]["__typename"], "Bot");
            assert_eq!(
                n["author"]["login"],
                json!(rest_login.trim_end_matches("[bot]"))
            );
            assert_eq!(
                n["author"]["url"],
                json!(format!(
                    "https://github.com/apps/{}",
                    rest_login.trim_end_matches("[bot]")
                ))
            );
        } else {
            assert_eq!(
                n["author"],
                json!({"__typename": "User", "login": rest_login})
            );
        }
    }
    assert!(bots > 0, "some issues by bots");
}

/// Static errors look like GitHub's: 200, `errors` only, with path, code and locations.
#[tokio::test]
async fn invalid_queries_get_github_style_errors() {
    let fake = spawn(gql_config());
    let (base, c) = (fake.base_url(), client());
    let q = "query {\n  search(query: \"x\", type: ISSUE, first: 1) {\n    nodes { ... on PullRequest { number mergedBy } }\n  }\n}";
    let v = gql(&c, &base, q, json!({})).await;
    assert_eq!(
        v,
        json!({"errors": [{
            "path": ["query", "search", "nodes", "... on PullRequest", "mergedBy"],
            "extensions": {"code": "undefinedField", "typeName": "PullRequest", "fieldName": "mergedBy"},
            "locations": [{"line": 3, "column": 41}],
            "message": "Field 'mergedBy' doesn't exist on type 'PullRequest'"
        }]})
    );
    let v = gql(&c, &base, "{ rateLimit { cost }", json!({})).await;
    assert_eq!(v["errors"][0]["message"], "Unexpected end of document");
    assert!(v.get("data").is_none());
    let v = gql(&c, &base, "{ rateLimit { cost } }}", json!({})).await;
    assert_eq!(
        v["errors"][0]["message"],
        "Parse error on \"}\" (RCURLY) at [1, 23]"
    );
    let v = gql(
        &c,
        &base,
        "query($q: String!) { search(query: $q, type: ISSUE, first: 1) { issueCount } }",
        json!({}),
    )
    .await;
    assert_eq!(
        v["errors"][0]["message"],
        "Variable $q of type String! was provided invalid value"
    );
    let v = gql(
        &c,
        &base,
        "query($n: Int) { rateLimit { cost } }",
        json!({}),
    )
    .await;
    assert_eq!(v["errors"][0]["extensions"]["code"], "variableNotUsed");
    let v = gql(
        &c,
        &base,
        "{ search(query: \"x\", type: ISSUE, first: 1) { nodes { ... on Discussion { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(v["errors"][0]["extensions"]["code"], "undefinedType");
    // Not JSON at all: REST-style 400.
    let (status, _, v) = post(
        &c,
        &format!("{base}/graphql"),
        Some(&format!("bearer {TOKEN}")),
        &json!("not an object"),
    )
    .await;
    assert_eq!(
        (status, v["message"].as_str()),
        (400, Some("Problems parsing JSON"))
    );
    assert_eq!(
        fake.requests().budget_consumed_by_resource.get("graphql"),
        None,
        "errors cost nothing"
    );
}

/// More than 100 records on a connection is refused before running, like GitHub.
#[tokio::test]
async fn first_over_100_is_refused() {
    let fake = spawn(gql_config());
    let (base, c) = (fake.base_url(), client());
    let v = gql(
        &c,
        &base,
        "query($f: Int!) { search(query: \"org:x\", type: ISSUE, first: $f) { issueCount } }",
        json!({"f": 101}),
    )
    .await;
    assert_eq!(
        v,
        json!({"errors": [{
            "type": "EXCESSIVE_PAGINATION",
            "path": ["search"],
            "locations": [{"line": 1, "column": 19}],
            "message": "Requesting 101 records on the `search` connection exceeds the `first` limit of 100 records."
        }]})
    );
    let v = gql(
        &c,
        &base,
        "{ search(query: \"org:x\", type: ISSUE, first: 1) { nodes { ... on PullRequest { reviews(last: 101) { totalCount } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        v["errors"][0]["path"],
        json!(["search", "nodes", "reviews"])
    );
    assert_eq!(v["errors"][0]["type"], "EXCESSIVE_PAGINATION");
    let v = gql(
        &c,
        &base,
        "{ search(query: \"org:x\", type: ISSUE, first: 100) { issueCount } }",
        json!({}),
    )
    .await;
    assert_eq!(v["data"]["search"]["issueCount"], 0);
}

/// Cost follows GitHub's formula, is charged to the `graphql` budget (not `core`), is
/// reported in `rateLimit` and headers, and an exhausted budget answers `RATE_LIMITED`.
#[tokio::test]
async fn cost_is_charged_and_exhaustion_is_rate_limited() {
    let fake = spawn(FakeConfig {
        graphql_rate_limit: 5,
        ..gql_config()
    });
    let (base, c) = (fake.base_url(), client());
    let org = fake.org_names()[0].clone();
    let url = format!("{base}/graphql");
    let auth = format!("bearer {TOKEN}");
    // 1 search + 100 comments + 100 reviews = 201 requests → 2 points.
    let heavy = json!({"query": "query($q: String!) { rateLimit { cost limit remaining used nodeCount }
        search(query: $q, type: ISSUE, first: 100) { nodes { ... on PullRequest { comments(first: 100) { totalCount } reviews(first: 100) { totalCount } } } } }",
        "variables": {"q": format!("org:{org}")}});
    let light = json!({"query": "{ rateLimit { cost remaining } }"});
    let (s, hd, v) = post(&c, &url, Some(&auth), &heavy).await;
    assert_eq!(s, 200);
    assert_eq!(
        v["data"]["rateLimit"],
        json!({"cost": 2, "limit": 5, "remaining": 3, "used": 2, "nodeCount": 100 + 10_000 + 10_000})
    );
    assert_eq!(h(&hd, "x-ratelimit-resource").as_deref(), Some("graphql"));
    assert_eq!(h(&hd, "x-ratelimit-used").as_deref(), Some("2"));
    assert_eq!(h(&hd, "x-ratelimit-remaining").as_deref(), Some("3"));
    assert!(h(&hd, "etag").is_none());
    let (_, _, v) = post(&c, &url, Some(&auth), &heavy).await;
    assert_eq!(v["data"]["rateLimit"]["remaining"], 1);
    // 2 points with 1 left: refused whole, nothing charged.
    let (s, hd, v) = post(&c, &url, Some(&auth), &heavy).await;
    assert_eq!(s, 200);
    assert_eq!(
        v,
        json!({"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}]})
    );
    assert_eq!(h(&hd, "x-ratelimit-remaining").as_deref(), Some("1"));
    let (_, _, v) = post(&c, &url, Some(&auth), &light).await;
    assert_eq!(v["data"]["rateLimit"], json!({"cost": 1, "remaining": 0}));
    let (s, hd, v) = post(&c, &url, Some(&auth), &light).await;
    assert_eq!(
        (s, v["errors"][0]["type"].as_str()),
        (200, Some("RATE_LIMITED"))
    );
    assert!(v.get("data").is_none());
    assert_eq!(h(&hd, "x-ratelimit-remaining").as_deref(), Some("0"));
    // REST's core budget is separate and GET /rate_limit reports the graphql one.
    let r = get(&c, &format!("{base}/rate_limit")).await;
    let rl: Value = r.json().await.expect("JSON");
    assert_eq!(rl["resources"]["graphql"]["used"], 5);
    assert_eq!(rl["resources"]["core"]["used"], 0);
    let counts = fake.requests();
    assert_eq!(counts.by_endpoint.get("POST /graphql"), Some(&5));
    assert_eq!(counts.budget_consumed, 0, "REST units only");
    assert_eq!(counts.budget_consumed_by_resource.get("graphql"), Some(&5));
    // A new hour refills it.
    fake.advance_clock(3_600.0);
    let (_, _, v) = post(&c, &url, Some(&auth), &light).await;
    assert_eq!(v["data"]["rateLimit"], json!({"cost": 1, "remaining": 4}));
}

/// GHES serves GraphQL at `/api/graphql` (not under `/api/v3`); requests without a token, with
/// a bad one or with an App JWT are 401.
#[tokio::test]
async fn ghes_path_and_auth() {
    let fake = spawn(gql_config());
    let (base, c) = (fake.base_url(), client());
    let body = json!({"query": "{ rateLimit { cost used } }"});
    let auth = format!("token {TOKEN}");
    let (s, _, v) = post(&c, &format!("{base}/api/graphql"), Some(&auth), &body).await;
    assert_eq!(
        (s, &v),
        (200, &json!({"data": {"rateLimit": {"cost": 1, "used": 1}}}))
    );
    let (s, _, _) = post(&c, &format!("{base}/api/v3/graphql"), Some(&auth), &body).await;
    assert_eq!(s, 404);
    let (s, hd, v) = post(&c, &format!("{base}/graphql"), None, &body).await;
    assert_eq!(s, 401);
    assert_eq!(
        v["message"],
        "This endpoint requires you to be authenticated."
    );
    assert!(h(&hd, "x-ratelimit-remaining").is_none());
    let (s, _, v) = post(&c, &format!("{base}/graphql"), Some("bearer wrong"), &body).await;
    assert_eq!((s, v["message"].as_str()), (401, Some("Bad credentials")));
    // An App JWT (three base64url parts) is not a token GraphQL accepts.
    let jwt = "bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOjQyfQ.c2ln";
    let (s, _, _) = post(&c, &format!("{base}/graphql"), Some(jwt), &body).await;
    assert_eq!(s, 401);
    let counts = fake.requests();
    assert_eq!(counts.by_endpoint.get("POST /graphql"), Some(&4));
    assert_eq!(counts.by_status.get("401"), Some(&3));
}

/// Faults match the path `/graphql` (both paths), and secondary limits refuse GraphQL like REST.
#[tokio::test]
async fn faults_and_secondary_limits_apply_to_graphql() {
    let fake = spawn(FakeConfig {
        secondary: SecondaryLimits {
            burst_max: 3,
            burst_window_secs: 60,
            ..SecondaryLimits::default()
        },
        ..config()
    });
    let (base, c) = (fake.base_url(), client());
    let r = c
        .post(format!("{base}/_fake/faults"))
        .json(&json!({"path_regex": "^/graphql$", "status": 502, "count": 1}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    let body = json!({"query": "{ rateLimit { used } }"});
    let auth = format!("bearer {TOKEN}");
    let (s, _, _) = post(&c, &format!("{base}/api/graphql"), Some(&auth), &body).await;
    assert_eq!(s, 502);
    let (s, _, v) = post(&c, &format!("{base}/graphql"), Some(&auth), &body).await;
    assert_eq!(
        (s, &v),
        (200, &json!({"data": {"rateLimit": {"used": 1}}})),
        "fault used up, none charged"
    );
    let (s, _, _) = post(&c, &format!("{base}/graphql"), Some(&auth), &body).await;
    assert_eq!(s, 200);
    let (s, hd, v) = post(&c, &format!("{base}/graphql"), Some(&auth), &body).await;
    assert_eq!(s, 403);
    assert!(v["message"]
        .as_str()
        .unwrap_or("")
        .contains("secondary rate limit"));
    assert!(h(&hd, "retry-after").is_some());
    assert_eq!(h(&hd, "x-ratelimit-resource").as_deref(), Some("graphql"));
    assert_eq!(h(&hd, "x-ratelimit-used").as_deref(), Some("2"));
}

/// Only the first 1,000 results are reachable; `issueCount` is the true total, as REST's
/// `total_count`.
#[tokio::test]
async fn search_reaches_the_first_1000_results_only() {
    let fake = spawn(FakeConfig {
        orgs: 1,
        repos: 30,
        ..gql_config()
    });
    let (base, c) = (fake.base_url(), client());
    let org = fake.org_names()[0].clone();
    let q = "query($q: String!, $after: String) { search(query: $q, type: ISSUE, first: 100, after: $after) {
        issueCount pageInfo { hasNextPage endCursor } nodes { __typename } } }";
    let first = gql(&c, &base, q, json!({"q": format!("org:{org}")})).await;
    let total = first["data"]["search"]["issueCount"]
        .as_u64()
        .expect("count");
    assert!(total > 1000, "{total}");
    let url = reqwest::Url::parse_with_params(
        &format!("{base}/search/issues"),
        &[("q", format!("org:{org}"))],
    )
    .expect("url");
    let rest: Value = get(&c, url.as_str()).await.json().await.expect("JSON");
    assert_eq!(rest["total_count"], json!(total));
    // base64("cursor:950"): the 951st to the 1000th, then nothing more.
    let v = gql(
        &c,
        &base,
        q,
        json!({"q": format!("org:{org}"), "after": "Y3Vyc29yOjk1MA=="}),
    )
    .await;
    let s = &v["data"]["search"];
    assert_eq!(s["nodes"].as_array().map(Vec::len), Some(50));
    assert_eq!(
        s["pageInfo"],
        json!({"hasNextPage": false, "endCursor": "Y3Vyc29yOjEwMDA="})
    );
    let v = gql(
        &c,
        &base,
        q,
        json!({"q": format!("org:{org}"), "after": "Y3Vyc29yOjEwMDA="}),
    )
    .await;
    assert_eq!(v["data"]["search"]["nodes"], json!([]));
    assert_eq!(v["data"]["search"]["issueCount"], json!(total));
}

/// `repository(owner:, name:)` lookups miss with GitHub's NOT_FOUND error and a null field.
#[tokio::test]
async fn missing_repository_and_numbers_are_not_found() {
    let fake = spawn(gql_config());
    let (base, c) = (fake.base_url(), client());
    let org = fake.org_names()[0].clone();
    let v = gql(
        &c,
        &base,
        "{ repository(owner: \"nope\", name: \"x\") { name } }",
        json!({}),
    )
    .await;
    assert_eq!(
        v,
        json!({"data": {"repository": null}, "errors": [{
            "type": "NOT_FOUND", "path": ["repository"], "locations": [{"line": 1, "column": 3}],
            "message": "Could not resolve to a Repository with the name 'nope/x'."
        }]})
    );
    let info: Value = c
        .get(format!("{base}/_fake/info"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("JSON");
    let repo = info["orgs"][0]["repos"][0]
        .as_str()
        .unwrap_or("")
        .to_string();
    let v = gql(
        &c,
        &base,
        "query($o: String!, $r: String!) { repository(owner: $o, name: $r) { nameWithOwner pullRequest(number: 1) { number } } }",
        json!({"o": org, "r": repo}),
    )
    .await;
    assert_eq!(
        v["data"]["repository"]["nameWithOwner"],
        json!(format!("{org}/{repo}"))
    );
    assert_eq!(v["data"]["repository"]["pullRequest"], Value::Null);
    assert_eq!(v["errors"][0]["path"], json!(["repository", "pullRequest"]));
}
