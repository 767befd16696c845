//! Default-branch commit history over GraphQL (`repository { defaultBranchRef { target { ... on
//! Commit { history(since:, until:) } } } }`), over real HTTP: for every repository of several
//! worlds, at two instants and over several ranges, it lists exactly what REST's
//! `GET /repos/{o}/{r}/commits?since=&until=` lists (shas, order, names, emails, dates), with
//! `GitActor.user` the REST account when it is a `User` and `null` for bots; empty repositories
//! have no `defaultBranchRef`; a missing repository alias is answered partially; cost and
//! argument errors as GitHub.

mod common;

use common::*;
use fake_github::timefmt::iso;
use fake_github::FakeConfig;
use serde_json::{json, Value};

fn gql_config() -> FakeConfig {
    let mut c = config();
    // The fixed clock keeps every request in one burst window.
    c.secondary.burst_max = 0;
    c
}

/// POSTs a GraphQL query with the PAT: (status, `x-ratelimit-used`, body).
async fn post_gql(
    c: &reqwest::Client,
    base: &str,
    query: &str,
    variables: Value,
) -> (u16, Option<String>, Value) {
    let resp = c
        .post(format!("{base}/graphql"))
        .header("authorization", format!("bearer {TOKEN}"))
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("request reaches the fake");
    let status = resp.status().as_u16();
    let used = header_of(&resp, "x-ratelimit-used");
    let text = resp.text().await.expect("a body");
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body: {text}"));
    (status, used, v)
}

fn header_of(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn gql(c: &reqwest::Client, base: &str, query: &str, variables: Value) -> Value {
    let (status, _, v) = post_gql(c, base, query, variables).await;
    assert_eq!(status, 200, "{v}");
    v
}

/// Repository names per org, in `/_fake/info` order (index 1 is the empty one in big orgs).
async fn repo_names(c: &reqwest::Client, base: &str) -> Vec<(String, Vec<String>)> {
    let info: Value = c
        .get(format!("{base}/_fake/info"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("JSON");
    info["orgs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|o| {
            let repos = o["repos"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect();
            (o["login"].as_str().unwrap_or("").to_string(), repos)
        })
        .collect()
}

/// A `since`/`until` pair; `None` leaves the bound out of both the REST and GraphQL request.
#[derive(Debug, Clone)]
struct Range {
    since: Option<String>,
    until: Option<String>,
}

impl Range {
    fn new(since: Option<String>, until: Option<String>) -> Range {
        Range { since, until }
    }

    fn rest_params(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![("per_page", "100".to_string())];
        if let Some(s) = &self.since {
            p.push(("since", s.clone()));
        }
        if let Some(u) = &self.until {
            p.push(("until", u.clone()));
        }
        p
    }

    /// `, since: "…", until: "…"` as inline literals, the way the exporter writes them.
    fn graphql_args(&self) -> String {
        let mut a = String::new();
        if let Some(s) = &self.since {
            a.push_str(&format!(", since: \"{s}\""));
        }
        if let Some(u) = &self.until {
            a.push_str(&format!(", until: \"{u}\""));
        }
        a
    }
}

/// The fields both APIs give of a commit, REST's brought to GraphQL's form: `login` is the
/// linked account's login when REST says it is a `User`, otherwise `null`.
fn rest_commit(c: &Value) -> Value {
    let person = |side: &str| {
        let account = &c[side];
        let login = if account["type"] == "User" {
            account["login"].clone()
        } else {
            Value::Null
        };
        json!({
            "name": c["commit"][side]["name"],
            "email": c["commit"][side]["email"],
            "date": c["commit"][side]["date"],
            "login": login,
        })
    };
    json!({"oid": c["sha"], "author": person("author"), "committer": person("committer")})
}

/// A GraphQL history node in the same form; its `authoredDate` / `committedDate` must be the
/// actors' dates.
fn graphql_commit(n: &Value) -> Value {
    assert_eq!(n["authoredDate"], n["author"]["date"], "{n}");
    assert_eq!(n["committedDate"], n["committer"]["date"], "{n}");
    let person = |side: &str| {
        let a = &n[side];
        json!({
            "name": a["name"], "email": a["email"], "date": a["date"],
            "login": if a["user"].is_null() { Value::Null } else { a["user"]["login"].clone() },
        })
    };
    json!({"oid": n["oid"], "author": person("author"), "committer": person("committer")})
}

const NODE_FIELDS: &str = "oid authoredDate committedDate author { name email date user { login } } committer { name email date user { login } }";

/// The REST listing of one repository over a range: `None` for 409 (empty repository).
async fn rest_history(
    c: &reqwest::Client,
    base: &str,
    org: &str,
    repo: &str,
    range: &Range,
) -> Option<Vec<Value>> {
    let url = reqwest::Url::parse_with_params(
        &format!("{base}/repos/{org}/{repo}/commits"),
        &range.rest_params(),
    )
    .expect("url");
    let first = get(c, url.as_str()).await;
    if first.status() == 409 {
        return None;
    }
    Some(get_all(c, url.as_str()).await)
}

/// What the paths of a comparison exercised, so the test can tell they were.
#[derive(Default, Debug)]
struct Seen {
    compared: usize,
    empty_repos: usize,
    bot_linked: usize,
    user_linked: usize,
    unlinked: usize,
    web_flow: usize,
    paged: usize,
    boundary_ranges: usize,
}

/// The exporter's query for all `repos` of `org` (one alias each), then `after` paging for the
/// repositories with more than 100 commits: alias → `None` (no `defaultBranchRef`) or the
/// history with its `totalCount`.
async fn graphql_histories(
    c: &reqwest::Client,
    base: &str,
    org: &str,
    repos: &[String],
    range: &Range,
    seen: &mut Seen,
) -> Vec<Option<(u64, Vec<Value>)>> {
    let args = range.graphql_args();
    let aliases: String = repos
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                "  r{i}: repository(owner: $owner, name: \"{r}\") {{
    defaultBranchRef {{ target {{ ... on Commit {{ history(first: 100{args}) {{
      totalCount pageInfo {{ hasNextPage endCursor }}
      nodes {{ {NODE_FIELDS} }}
    }} }} }} }}
  }}\n"
            )
        })
        .collect();
    let query = format!("query($owner: String!) {{\n  rateLimit {{ cost }}\n{aliases}}}");
    let v = gql(c, base, &query, json!({"owner": org})).await;
    assert!(v.get("errors").is_none(), "{v}");
    assert_eq!(v["data"]["rateLimit"]["cost"], 1, "{} aliases", repos.len());
    let page_query = format!(
        "query($owner: String!, $name: String!, $after: String) {{ repository(owner: $owner, name: $name) {{
           defaultBranchRef {{ target {{ ... on Commit {{ history(first: 100, after: $after{args}) {{
             totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {NODE_FIELDS} }} }} }} }} }} }} }}"
    );
    let mut out = Vec::new();
    for (i, repo) in repos.iter().enumerate() {
        let r = &v["data"][format!("r{i}")];
        assert!(r.is_object(), "r{i} ({repo}) resolves: {v}");
        if r["defaultBranchRef"].is_null() {
            out.push(None);
            continue;
        }
        let mut h = r["defaultBranchRef"]["target"]["history"].clone();
        let total = h["totalCount"].as_u64().expect("totalCount");
        let mut nodes = h["nodes"].as_array().cloned().expect("nodes");
        while h["pageInfo"]["hasNextPage"] == json!(true) {
            seen.paged += 1;
            let after = h["pageInfo"]["endCursor"].clone();
            let p = gql(
                c,
                base,
                &page_query,
                json!({"owner": org, "name": repo, "after": after}),
            )
            .await;
            assert!(p.get("errors").is_none(), "{p}");
            h = p["data"]["repository"]["defaultBranchRef"]["target"]["history"].clone();
            assert_eq!(h["totalCount"], json!(total), "totalCount is stable");
            nodes.extend(h["nodes"].as_array().cloned().expect("nodes"));
        }
        assert_eq!(nodes.len() as u64, total, "{org}/{repo}: totalCount");
        out.push(Some((total, nodes)));
    }
    out
}

/// One org, one range: GraphQL equals REST for every repository.
async fn compare_org(
    c: &reqwest::Client,
    base: &str,
    org: &str,
    repos: &[String],
    range: &Range,
    seen: &mut Seen,
) -> Vec<Option<Vec<Value>>> {
    let graphql = graphql_histories(c, base, org, repos, range, seen).await;
    let mut rest_all = Vec::new();
    for (repo, g) in repos.iter().zip(graphql) {
        let rest = rest_history(c, base, org, repo, range).await;
        match (&rest, g) {
            (None, None) => seen.empty_repos += 1,
            (Some(rest), Some((_, nodes))) => {
                let want: Vec<Value> = rest.iter().map(rest_commit).collect();
                let got: Vec<Value> = nodes.iter().map(graphql_commit).collect();
                assert_eq!(got, want, "{org}/{repo} {range:?}");
                seen.compared += want.len();
                for (r, w) in rest.iter().zip(&want) {
                    match r["author"]["type"].as_str() {
                        Some("Bot") => {
                            assert!(w["author"]["login"].is_null());
                            seen.bot_linked += 1;
                        }
                        Some(_) => seen.user_linked += 1,
                        None => seen.unlinked += 1,
                    }
                    if r["committer"]["login"] == "web-flow" {
                        assert_eq!(w["committer"]["login"], "web-flow");
                        seen.web_flow += 1;
                    }
                }
            }
            (rest, g) => panic!(
                "{org}/{repo}: REST empty = {}, GraphQL defaultBranchRef null = {}",
                rest.is_none(),
                g.is_none()
            ),
        }
        rest_all.push(rest);
    }
    rest_all
}

/// ISO-8601 with a half second, which REST and GraphQL must both compare exactly.
fn iso_half(t: i64) -> String {
    format!("{}.5Z", iso(t).trim_end_matches('Z'))
}

/// For every repository of several worlds, at two instants, over several ranges (the exporter's
/// 24 h window, fractional and open bounds, the whole history, and bounds equal to commit
/// dates), GraphQL's history is REST's listing; bot-linked commits have `user: null`.
#[tokio::test]
async fn history_matches_rest_commits_for_every_repository() {
    let worlds = [
        gql_config(),
        FakeConfig {
            seed: 11,
            orgs: 1,
            repos: 25,
            users: 12,
            ..gql_config()
        },
        FakeConfig {
            seed: 3,
            orgs: 1,
            repos: 4,
            users: 3,
            ..gql_config()
        },
    ];
    let mut seen = Seen::default();
    for config in worlds {
        let fake = spawn(config);
        let (base, c) = (fake.base_url(), client());
        let orgs = repo_names(&c, &base).await;
        let mut previous: Option<Vec<Option<Vec<Value>>>> = None;
        for _step in 0..2 {
            let t = fake.now().floor() as i64;
            let ranges = [
                Range::new(Some(iso(t - 86_400)), Some(iso(t))),
                Range::new(Some(iso_half(t - 3 * 86_400)), Some(iso_half(t - 86_400))),
                Range::new(Some(iso(t - 7 * 86_400)), None),
                Range::new(None, Some(iso(t - 10 * 86_400))),
                Range::new(None, None),
            ];
            let mut window_now = Vec::new();
            for (org, repos) in &orgs {
                for (k, range) in ranges.iter().enumerate() {
                    let rest = compare_org(&c, &base, org, repos, range, &mut seen).await;
                    if k != 0 {
                        continue;
                    }
                    // Bounds equal to the oldest and newest commit dates of the window: both
                    // ends are inclusive in both APIs.
                    for (repo, listing) in repos.iter().zip(&rest) {
                        let Some(l) = listing.as_ref().filter(|l| l.len() >= 2) else {
                            continue;
                        };
                        let date = |c: &Value| {
                            c["commit"]["committer"]["date"]
                                .as_str()
                                .map(str::to_string)
                        };
                        let exact = Range::new(date(&l[l.len() - 1]), date(&l[0]));
                        let got = compare_org(
                            &c,
                            &base,
                            org,
                            std::slice::from_ref(repo),
                            &exact,
                            &mut seen,
                        )
                        .await;
                        let n = got[0].as_ref().map_or(0, Vec::len);
                        assert!(n >= 2, "{org}/{repo}: both boundary commits listed");
                        seen.boundary_ranges += 1;
                    }
                    window_now.extend(rest);
                }
            }
            if let Some(p) = &previous {
                assert_ne!(p, &window_now, "the 24 h window moved with the clock");
            }
            previous = Some(window_now);
            fake.advance_clock(2.0 * 3_600.0 + 1_234.0);
        }
    }
    println!("{seen:?}");
    assert!(seen.compared > 1_000, "{seen:?}");
    assert!(
        seen.empty_repos > 0,
        "an empty repository was checked: {seen:?}"
    );
    assert!(
        seen.bot_linked > 0,
        "bot-authored commits were checked: {seen:?}"
    );
    assert!(seen.user_linked > 0 && seen.unlinked > 0, "{seen:?}");
    assert!(seen.web_flow > 0, "web-flow is a User: {seen:?}");
    assert!(seen.paged > 0, "some histories needed `after`: {seen:?}");
    assert!(seen.boundary_ranges > 0, "{seen:?}");
}

/// Deliberately look at a bot-authored commit through both APIs: REST links `dependabot[bot]`
/// (`type: Bot`), GraphQL's `author.user` is `null` while name and email are kept.
#[tokio::test]
async fn bot_linked_commits_have_no_graphql_user() {
    let fake = spawn(gql_config());
    let (base, c) = (fake.base_url(), client());
    let orgs = repo_names(&c, &base).await;
    let everything = Range::new(None, None);
    let mut found = 0;
    for (org, repos) in &orgs {
        for repo in repos {
            let Some(rest) = rest_history(&c, &base, org, repo, &everything).await else {
                continue;
            };
            let Some(bot) = rest.iter().find(|c| c["author"]["type"] == "Bot") else {
                continue;
            };
            let sha = bot["sha"].as_str().expect("sha");
            let when = bot["commit"]["committer"]["date"].as_str().expect("date");
            let q = format!(
                "{{ repository(owner: \"{org}\", name: \"{repo}\") {{ defaultBranchRef {{ target {{ ... on Commit {{
                   history(first: 100, since: \"{when}\", until: \"{when}\") {{ nodes {{ oid author {{ name email user {{ login }} }} }} }} }} }} }} }} }}"
            );
            let v = gql(&c, &base, &q, json!({})).await;
            let nodes = v["data"]["repository"]["defaultBranchRef"]["target"]["history"]["nodes"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let node = nodes
                .iter()
                .find(|n| n["oid"] == sha)
                .unwrap_or_else(|| panic!("{sha} listed at its own committer date: {v}"));
            assert!(
                bot["author"]["login"]
                    .as_str()
                    .is_some_and(|l| l.ends_with("[bot]")),
                "{bot}"
            );
            assert_eq!(
                node["author"],
                json!({"name": bot["commit"]["author"]["name"], "email": bot["commit"]["author"]["email"], "user": null})
            );
            found += 1;
        }
    }
    assert!(found > 0, "some repository has a bot-authored commit");
}

/// 25 aliased repositories with `history(first: 100)` cost 1 point (25 requests; repositories
/// are not connections); a missing repository is `null` with GitHub's NOT_FOUND error while
/// the other aliases are answered; an empty repository has no `defaultBranchRef` (REST 409).
#[tokio::test]
async fn aliases_cost_one_point_and_answer_partially() {
    let fake = spawn(FakeConfig {
        orgs: 1,
        repos: 25,
        ..gql_config()
    });
    let (base, c) = (fake.base_url(), client());
    let orgs = repo_names(&c, &base).await;
    let (org, repos) = &orgs[0];
    assert_eq!(repos.len(), 25);
    let since = iso(fake.now().floor() as i64 - 86_400);
    let alias = |i: usize, name: &str| {
        format!(
            "r{i}: repository(owner: $owner, name: \"{name}\") {{ nameWithOwner defaultBranchRef {{ name target {{ __typename oid ... on Commit {{ history(first: 100, since: \"{since}\") {{ totalCount nodes {{ oid }} }} }} }} }} }}\n"
        )
    };
    let all: String = repos.iter().enumerate().map(|(i, r)| alias(i, r)).collect();
    let q = format!("query($owner: String!) {{ rateLimit {{ cost nodeCount used }}\n{all} }}");
    let (status, used, v) = post_gql(&c, &base, &q, json!({"owner": org})).await;
    assert_eq!(status, 200);
    assert!(v.get("errors").is_none(), "{v}");
    assert_eq!(
        v["data"]["rateLimit"],
        json!({"cost": 1, "nodeCount": 2500, "used": 1})
    );
    assert_eq!(used.as_deref(), Some("1"));
    let default_branch: std::collections::BTreeMap<String, Value> = repos_of(&c, &base, org)
        .await
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or("").to_string(),
                r["default_branch"].clone(),
            )
        })
        .collect();
    let mut empty = Vec::new();
    for (i, repo) in repos.iter().enumerate() {
        let r = &v["data"][format!("r{i}")];
        assert_eq!(r["nameWithOwner"], json!(format!("{org}/{repo}")));
        let status = get(&c, &format!("{base}/repos/{org}/{repo}/commits"))
            .await
            .status();
        if r["defaultBranchRef"].is_null() {
            assert_eq!(status, 409, "{repo}");
            empty.push(i);
            continue;
        }
        assert_eq!(status, 200, "{repo}");
        let target = &r["defaultBranchRef"]["target"];
        assert_eq!(
            r["defaultBranchRef"]["name"],
            default_branch[repo.as_str()],
            "{repo}"
        );
        assert_eq!(target["__typename"], "Commit");
        // The target is the head: the first commit REST lists.
        let head: Vec<Value> = get(&c, &format!("{base}/repos/{org}/{repo}/commits?per_page=1"))
            .await
            .json()
            .await
            .expect("JSON");
        assert_eq!(target["oid"], head[0]["sha"], "{repo}");
    }
    assert_eq!(empty, vec![1], "index 1 is the empty repository");

    let q = format!(
        "query($owner: String!) {{\n{}{}{}}}",
        alias(0, &repos[0]),
        alias(1, &repos[1]),
        alias(3, "nope")
    );
    let v = gql(&c, &base, &q, json!({"owner": org})).await;
    assert_eq!(
        v["data"]["r0"]["nameWithOwner"],
        json!(format!("{org}/{}", repos[0]))
    );
    assert!(v["data"]["r0"]["defaultBranchRef"]["target"]["history"]["totalCount"].is_u64());
    assert_eq!(
        v["data"]["r1"],
        json!({"nameWithOwner": format!("{org}/{}", repos[1]), "defaultBranchRef": null})
    );
    assert_eq!(v["data"]["r3"], Value::Null);
    assert_eq!(
        v["errors"],
        json!([{
            "type": "NOT_FOUND",
            "path": ["r3"],
            "locations": [{"line": 4, "column": 1}],
            "message": format!("Could not resolve to a Repository with the name '{org}/nope'.")
        }])
    );
}

fn history_query(args: &str) -> String {
    format!(
        "query($o: String!, $r: String!) {{\n  r0: repository(owner: $o, name: $r) {{ defaultBranchRef {{ target {{ ... on Commit {{ history({args}) {{ totalCount }} }} }} }} }}\n}}"
    )
}

/// `first: 101`, a `GitTimestamp` literal or variable that is not a timestamp: refused before
/// running, GitHub's errors, no `data`, nothing charged.
#[tokio::test]
async fn bad_history_arguments_are_refused() {
    let fake = spawn(gql_config());
    let (base, c) = (fake.base_url(), client());
    let org = fake.org_names()[0].clone();
    let vars = json!({"o": org, "r": "anything"});
    let v = gql(&c, &base, &history_query("first: 101"), vars.clone()).await;
    assert_eq!(
        v,
        json!({"errors": [{
            "type": "EXCESSIVE_PAGINATION",
            "path": ["r0", "defaultBranchRef", "target", "history"],
            "locations": [{"line": 2, "column": 85}],
            "message": "Requesting 101 records on the `history` connection exceeds the `first` limit of 100 records."
        }]})
    );
    let v = gql(
        &c,
        &base,
        &history_query("since: \"2026-11-22T14:00:00Z\""),
        vars.clone(),
    )
    .await;
    assert_eq!(v["errors"][0]["type"], "MISSING_PAGINATION_BOUNDARIES");
    let v = gql(
        &c,
        &base,
        &history_query("first: 1, since: \"yesterday\""),
        vars.clone(),
    )
    .await;
    assert_eq!(
        v,
        json!({"errors": [{
            "path": ["query", "r0", "defaultBranchRef", "target", "... on Commit", "history"],
            "extensions": {"code": "argumentLiteralsIncompatible", "typeName": "Field", "argumentName": "since"},
            "locations": [{"line": 2, "column": 85}],
            "message": "Argument 'since' on Field 'history' has an invalid value (\"yesterday\"). Expected type 'GitTimestamp'."
        }]})
    );
    let v = gql(
        &c,
        &base,
        &history_query("first: 1, until: 1700000000"),
        vars.clone(),
    )
    .await;
    assert_eq!(
        v["errors"][0]["extensions"]["code"],
        "argumentLiteralsIncompatible"
    );
    assert!(v.get("data").is_none());
    let q = "query($o: String!, $u: GitTimestamp) { repository(owner: $o, name: \"x\") { defaultBranchRef { target { ... on Commit { history(first: 1, until: $u) { totalCount } } } } } }";
    let v = gql(&c, &base, q, json!({"o": org, "u": "2026-13-45T99:00:00Z"})).await;
    assert_eq!(
        v["errors"][0]["message"],
        "Variable $u of type GitTimestamp was provided invalid value"
    );
    assert!(v.get("data").is_none());
    assert_eq!(
        fake.requests().budget_consumed_by_resource.get("graphql"),
        None,
        "refused queries cost nothing"
    );
    // A valid variable runs.
    let v = gql(&c, &base, q, json!({"o": org, "u": "2023-11-14T00:00:00Z"})).await;
    assert_eq!(v["errors"][0]["type"], "NOT_FOUND", "{v}");
}

/// The history of a non-head commit starts at that commit, like REST's `sha=` parameter.
#[tokio::test]
async fn nested_history_starts_at_its_commit() {
    let fake = spawn(gql_config());
    let (base, c) = (fake.base_url(), client());
    let orgs = repo_names(&c, &base).await;
    let (org, repos) = &orgs[0];
    let repo = &repos[0];
    let rest = get_all(
        &c,
        &format!("{base}/repos/{org}/{repo}/commits?per_page=100"),
    )
    .await;
    assert!(rest.len() > 5);
    let q = format!(
        "{{ repository(owner: \"{org}\", name: \"{repo}\") {{ defaultBranchRef {{ target {{ ... on Commit {{
           history(first: 3) {{ nodes {{ oid history(first: 2) {{ totalCount nodes {{ oid }} }} }} }} }} }} }} }} }}"
    );
    let v = gql(&c, &base, &q, json!({})).await;
    let nodes = v["data"]["repository"]["defaultBranchRef"]["target"]["history"]["nodes"]
        .as_array()
        .cloned()
        .expect("nodes");
    for (k, n) in nodes.iter().enumerate() {
        let sha = rest[k]["sha"].as_str().expect("sha");
        let from_sha = get_all(
            &c,
            &format!("{base}/repos/{org}/{repo}/commits?per_page=100&sha={sha}"),
        )
        .await;
        assert_eq!(n["history"]["totalCount"], json!(from_sha.len()));
        assert_eq!(
            n["history"]["nodes"],
            json!([{"oid": from_sha[0]["sha"]}, {"oid": from_sha[1]["sha"]}])
        );
    }
}
