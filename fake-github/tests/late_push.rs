//! Commits appear when they are pushed, not at their committer date, over real HTTP: a commit
//! with push time P later than its committer date C is absent from REST listings, commit detail,
//! GraphQL `history`, `stats/contributors` and the truth before P and present from P on; the
//! repository's `pushed_at` and the listing's ETag move at P; `since` still filters on the
//! committer date, so listing `since` a time between C and P misses it even after P. An exporter
//! listing each repository `since` its previous cycle therefore misses commits in every busy
//! repository over a day, while a full-window listing (or a cursor moved back by the longest push
//! delay) misses none.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use fake_github::activity::{self, Commit};
use fake_github::timefmt::{iso, parse_iso, week_start, DAY, HOUR};
use fake_github::world::{Profile, World};
use fake_github::FakeConfig;
use serde_json::{json, Value};

fn late_config() -> FakeConfig {
    let mut c = config();
    // The fixed clock keeps every request in one burst window.
    c.secondary.burst_max = 0;
    c.stats_compute_calls = 0;
    c
}

/// Every commit (direct and merge) originating in `repo`'s hours `[from, to)`.
fn commits_of(world: &World, gid: usize, from: i64, to: i64) -> Vec<Commit> {
    let repo = &world.repos[gid];
    let mut out = Vec::new();
    for b in from.div_euclid(HOUR)..to.div_euclid(HOUR) {
        let bucket = activity::generate_bucket(world, repo, b);
        out.extend(bucket.commits);
        out.extend(bucket.pulls.into_iter().filter_map(|p| p.merge_commit));
    }
    out
}

/// A linked direct commit of a busy repository pushed at least 10 min after its committer date,
/// with its push between 20 h before and 12 h after `NOW`, and no other commit of the
/// repository pushed in the same second nor leaving the 24 h window then (so the truth moves by
/// exactly this commit at P): (org, repo name, gid, commit).
fn late_commit(world: &World) -> (String, String, usize, Commit) {
    for repo in world.repos.iter().filter(|r| r.profile == Profile::Busy) {
        let now = NOW as i64;
        let all = commits_of(world, repo.gid, now - 4 * DAY, now + 12 * HOUR);
        let found = all.iter().find(|c| {
            c.pushed_at - c.committer_date >= 600
                && c.author_login.is_some()
                && (now - 20 * HOUR..now + 12 * HOUR).contains(&c.pushed_at)
                && !all.iter().any(|o| {
                    o.sha != c.sha
                        && (o.pushed_at == c.pushed_at || o.author_date == c.pushed_at - DAY)
                })
        });
        if let Some(c) = found {
            let org = world.orgs[repo.org].login.clone();
            return (org, repo.name.clone(), repo.gid, c.clone());
        }
    }
    panic!("no busy repository has a late push near NOW");
}

async fn set_clock(c: &reqwest::Client, base: &str, now: f64) {
    let r = c
        .post(format!("{base}/_fake/clock"))
        .json(&json!({ "now": now }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
}

/// The shas of `GET …/commits` with the given query, all pages.
async fn rest_shas(c: &reqwest::Client, base: &str, org: &str, repo: &str, q: &str) -> Vec<String> {
    get_all(
        c,
        &format!("{base}/repos/{org}/{repo}/commits?per_page=100{q}"),
    )
    .await
    .iter()
    .map(|v| v["sha"].as_str().expect("sha").to_string())
    .collect()
}

/// The shas of GraphQL `history(since:)` from the head, all pages.
async fn graphql_shas(
    c: &reqwest::Client,
    base: &str,
    org: &str,
    repo: &str,
    since: &str,
) -> Vec<String> {
    let query = "query($o: String!, $n: String!, $since: GitTimestamp, $after: String) {
      repository(owner: $o, name: $n) { defaultBranchRef { target { ... on Commit {
        history(first: 100, since: $since, after: $after) {
          pageInfo { hasNextPage endCursor } nodes { oid } } } } } } }";
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let r = c
            .post(format!("{base}/graphql"))
            .header("authorization", format!("bearer {TOKEN}"))
            .json(&json!({"query": query, "variables": {"o": org, "n": repo, "since": since, "after": after}}))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.expect("JSON");
        assert!(v.get("errors").is_none(), "{v}");
        let h = &v["data"]["repository"]["defaultBranchRef"]["target"]["history"];
        for n in h["nodes"].as_array().expect("nodes") {
            out.push(n["oid"].as_str().expect("oid").to_string());
        }
        if h["pageInfo"]["hasNextPage"] != json!(true) {
            return out;
        }
        after = h["pageInfo"]["endCursor"].clone();
    }
}

/// `pushed_at` of a repository as `GET /orgs/{org}/repos` shows it.
async fn repo_pushed_at(c: &reqwest::Client, base: &str, org: &str, repo: &str) -> f64 {
    let repos = repos_of(c, base, org).await;
    let r = repos
        .iter()
        .find(|r| r["name"] == json!(repo))
        .expect("repository listed");
    r["pushed_at"]
        .as_str()
        .and_then(parse_iso)
        .expect("pushed_at")
}

/// `gh_activity_commits_24h` of (org, repo, user) in `/_fake/truth` at the fake's instant.
async fn truth_commits(c: &reqwest::Client, base: &str, org: &str, repo: &str, user: &str) -> u64 {
    let v: Value = c
        .get(format!("{base}/_fake/truth"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("truth");
    v["series"]
        .as_array()
        .expect("series")
        .iter()
        .find(|s| {
            s["metric"] == "gh_activity_commits_24h"
                && s["org"] == json!(org)
                && s["repo"] == json!(repo)
                && s["user"] == json!(user)
        })
        .and_then(|s| s["value"].as_u64())
        .unwrap_or(0)
}

/// `c` of `login`'s week `week` in `stats/contributors` (0 when absent).
async fn stats_commits(
    c: &reqwest::Client,
    base: &str,
    org: &str,
    repo: &str,
    login: &str,
    week: i64,
) -> u64 {
    let r = get(c, &format!("{base}/repos/{org}/{repo}/stats/contributors")).await;
    assert_eq!(r.status(), 200);
    let rows: Vec<Value> = r.json().await.expect("stats");
    rows.iter()
        .find(|row| row["author"]["login"] == json!(login))
        .and_then(|row| {
            row["weeks"]
                .as_array()?
                .iter()
                .find(|w| w["w"].as_i64() == Some(week))?["c"]
                .as_u64()
        })
        .unwrap_or(0)
}

/// One late commit, before and from its push: every view of the API agrees on when it exists.
#[tokio::test]
async fn a_late_push_appears_at_its_push_time_not_its_committer_date() {
    let cfg = late_config();
    let world = World::generate(&cfg);
    let (org, repo, _, x) = late_commit(&world);
    let (cdate, pushed) = (x.committer_date, x.pushed_at);
    let login = world.user(x.author_login.expect("linked")).login.clone();
    let week = week_start(x.author_date);
    let fake = spawn(cfg);
    let (base, c) = (fake.base_url(), client());
    let has = |v: &[String]| v.contains(&x.sha);
    let since_c = format!("&since={}", iso(cdate));
    let between = cdate + (pushed - cdate) / 2;
    let since_between = format!("&since={}", iso(between));

    // Half a second before the push.
    let before = pushed as f64 - 0.5;
    set_clock(&c, &base, before).await;
    let listed = rest_shas(&c, &base, &org, &repo, &since_c).await;
    assert!(!listed.is_empty(), "older commits are listed");
    assert!(!has(&listed), "not listed before its push");
    let window = format!("&since={}", iso(before.floor() as i64 - DAY));
    assert!(!has(&rest_shas(&c, &base, &org, &repo, &window).await));
    let detail = get(&c, &format!("{base}/repos/{org}/{repo}/commits/{}", x.sha)).await;
    assert_eq!(detail.status(), 422, "no detail before its push");
    let gql_before = graphql_shas(&c, &base, &org, &repo, &iso(cdate)).await;
    assert_eq!(gql_before, listed, "GraphQL history = REST before the push");
    let pushed_before = repo_pushed_at(&c, &base, &org, &repo).await;
    assert!(pushed_before < pushed as f64, "pushed_at before P");
    let truth_before = truth_commits(&c, &base, &org, &repo, &login).await;
    let stats_before = stats_commits(&c, &base, &org, &repo, &login, week).await;
    let list_url = format!("{base}/repos/{org}/{repo}/commits?per_page=100");
    let etag = header(&get(&c, &list_url).await, "etag").expect("etag");
    let cond = |etag: String| {
        let (c, url) = (c.clone(), list_url.clone());
        async move {
            c.get(url)
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("if-none-match", etag)
                .send()
                .await
                .expect("send")
                .status()
        }
    };
    assert_eq!(cond(etag.clone()).await, 304, "unchanged before P");

    // At the push.
    set_clock(&c, &base, pushed as f64).await;
    let listed = rest_shas(&c, &base, &org, &repo, &since_c).await;
    assert!(has(&listed), "listed from its push on");
    let all = get_all(&c, &format!("{list_url}{since_c}")).await;
    let shown = all
        .iter()
        .find(|v| v["sha"] == json!(x.sha))
        .expect("listed");
    assert_eq!(
        shown["commit"]["committer"]["date"],
        json!(iso(cdate)),
        "it keeps its committer date"
    );
    assert!(
        !has(&rest_shas(&c, &base, &org, &repo, &since_between).await),
        "`since` between C and P filters on the committer date: missed"
    );
    let detail = get(&c, &format!("{base}/repos/{org}/{repo}/commits/{}", x.sha)).await;
    assert_eq!(detail.status(), 200);
    let detail: Value = detail.json().await.expect("detail");
    assert_eq!(detail["sha"], json!(x.sha));
    assert!(detail["stats"]["total"].is_u64());
    let gql_at = graphql_shas(&c, &base, &org, &repo, &iso(cdate)).await;
    assert_eq!(gql_at, listed, "GraphQL history = REST from the push");
    assert!(!graphql_shas(&c, &base, &org, &repo, &iso(between))
        .await
        .contains(&x.sha));
    assert_eq!(
        repo_pushed_at(&c, &base, &org, &repo).await,
        pushed as f64,
        "pushed_at moves to P"
    );
    assert_eq!(
        truth_commits(&c, &base, &org, &repo, &login).await,
        truth_before + 1,
        "the truth counts it from P"
    );
    assert_eq!(
        stats_commits(&c, &base, &org, &repo, &login, week).await,
        stats_before + 1,
        "stats count it from P"
    );
    assert_eq!(cond(etag).await, 200, "the listing's ETag changed at P");

    // Long after the push, `since` between C and P still misses it; the full window has it.
    set_clock(&c, &base, pushed as f64 + 3.0 * HOUR as f64).await;
    assert!(!has(
        &rest_shas(&c, &base, &org, &repo, &since_between).await
    ));
    assert!(has(&rest_shas(&c, &base, &org, &repo, &since_c).await));
}

/// A naive exporter listing `since` its previous cycle, every 5 min for a day, misses commits
/// in every busy repository; a full-window listing at the end has all it saw and those; moving
/// the cursor back by the longest push delay (6 h) misses nothing.
#[tokio::test]
async fn listing_since_the_previous_cycle_misses_late_pushes_in_every_busy_repository() {
    let cfg = late_config();
    let world = World::generate(&cfg);
    let busy: Vec<(String, String)> = world
        .repos
        .iter()
        .filter(|r| r.profile == Profile::Busy)
        .map(|r| (world.orgs[r.org].login.clone(), r.name.clone()))
        .collect();
    assert!(busy.len() >= 2, "{busy:?}");
    let fake = spawn(cfg);
    let (base, c) = (fake.base_url(), client());
    let start = NOW.floor() as i64;
    let step = 300;
    let end = start + DAY;

    let mut naive: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    let mut lookback: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    let mut prev: Option<i64> = None;
    for t in (start..=end).step_by(step as usize) {
        set_clock(&c, &base, t as f64).await;
        for (i, (org, repo)) in busy.iter().enumerate() {
            let cursor = prev.unwrap_or(start - DAY);
            let until = format!("&until={}", iso(t));
            let q = format!("&since={}{until}", iso(cursor));
            naive
                .entry(i)
                .or_default()
                .extend(rest_shas(&c, &base, org, repo, &q).await);
            let back = prev.map_or(start - DAY, |p| p - 6 * HOUR);
            let q = format!("&since={}{until}", iso(back));
            lookback
                .entry(i)
                .or_default()
                .extend(rest_shas(&c, &base, org, repo, &q).await);
        }
        prev = Some(t);
    }
    for (i, (org, repo)) in busy.iter().enumerate() {
        let q = format!("&since={}&until={}", iso(start - DAY), iso(end));
        let full: BTreeSet<String> = rest_shas(&c, &base, org, repo, &q)
            .await
            .into_iter()
            .collect();
        let seen = &naive[&i];
        assert!(seen.is_subset(&full), "{org}/{repo}");
        let missed = full.difference(seen).count();
        assert!(
            missed >= 1,
            "{org}/{repo}: the cursor walk missed nothing in a day ({} commits)",
            full.len()
        );
        assert_eq!(
            lookback[&i], full,
            "{org}/{repo}: a 6 h lookback misses nothing"
        );
    }
}
