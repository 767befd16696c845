//! Recomputes every `gh_activity_*` series from API responses alone, walking the API the way a
//! correct exporter would, and compares with `GET /_fake/truth` — at one instant, and again
//! after the clock moved (events arrived and others left the window).

mod common;

use std::collections::BTreeMap;

use common::*;
use fake_github::identity::{resolve_commit_user, CommitPeople};
use fake_github::timefmt::{iso, parse_iso, DAY, WEEK};
use serde_json::Value;

type Key = (String, String, String, String); // metric, org, repo, user

fn ts(v: &Value) -> Option<f64> {
    v.as_str().and_then(parse_iso)
}

fn in_window(t: f64, at: f64) -> bool {
    at - DAY as f64 <= t && t <= at
}

#[derive(Default)]
struct Acc {
    counts: BTreeMap<Key, u64>,
    last: BTreeMap<(String, String, String), u64>,
}

impl Acc {
    fn event(&mut self, metric: &str, org: &str, repo: &str, user: &str, t: f64) {
        *self
            .counts
            .entry((metric.into(), org.into(), repo.into(), user.into()))
            .or_default() += 1;
        let l = self
            .last
            .entry((org.into(), repo.into(), user.into()))
            .or_default();
        *l = (*l).max(t as u64);
    }
}

async fn stats_until_ready(c: &reqwest::Client, url: &str) -> Option<Vec<Value>> {
    for _ in 0..10 {
        let r = get(c, url).await;
        match r.status().as_u16() {
            200 => return Some(r.json().await.expect("stats array")),
            202 => continue,
            204 => return None,
            s => panic!("unexpected stats status {s}"),
        }
    }
    panic!("stats never computed: {url}");
}

/// What a correct exporter computes at the fake's current instant `at`.
async fn recompute(
    c: &reqwest::Client,
    base: &str,
    orgs: &[String],
    at: f64,
) -> BTreeMap<Key, u64> {
    let mut acc = Acc::default();
    let mut loc: BTreeMap<Key, u64> = BTreeMap::new();
    let since = iso((at - DAY as f64).floor() as i64);
    let until = iso(at.floor() as i64);
    for org in orgs {
        for repo in repos_of(c, base, org).await {
            let name = repo["name"].as_str().expect("name").to_string();
            let r = format!("{base}/repos/{org}/{name}");
            // Commits: committer date >= author date, so `since` on the window start finds all.
            // The whole window every time, not `since` a previous walk: a commit pushed late
            // keeps its earlier committer date.
            let first = get(
                c,
                &format!("{r}/commits?since={since}&until={until}&per_page=100"),
            )
            .await;
            if first.status() != 409 {
                for cm in get_all(
                    c,
                    &format!("{r}/commits?since={since}&until={until}&per_page=100"),
                )
                .await
                {
                    let t = ts(&cm["commit"]["author"]["date"]).expect("author date");
                    if !in_window(t, at) {
                        continue;
                    }
                    let p = CommitPeople {
                        author_login: cm["author"]["login"].as_str(),
                        committer_login: cm["committer"]["login"].as_str(),
                        author_name: cm["commit"]["author"]["name"].as_str().unwrap_or(""),
                        author_email: cm["commit"]["author"]["email"].as_str().unwrap_or(""),
                        committer_name: cm["commit"]["committer"]["name"].as_str().unwrap_or(""),
                        committer_email: cm["commit"]["committer"]["email"].as_str().unwrap_or(""),
                    };
                    acc.event(
                        "gh_activity_commits_24h",
                        org,
                        &name,
                        &resolve_commit_user(&p),
                        t,
                    );
                }
            }
            // Pulls by updated desc; stop once older than the window.
            let mut next = Some(format!(
                "{r}/pulls?state=all&sort=updated&direction=desc&per_page=100"
            ));
            'pages: while let Some(u) = next {
                let resp = get(c, &u).await;
                next = next_link(header(&resp, "link").as_deref());
                let page: Vec<Value> = resp.json().await.expect("pulls");
                for p in page {
                    if ts(&p["updated_at"]).expect("updated_at") < at - DAY as f64 {
                        break 'pages;
                    }
                    let author = p["user"]["login"].as_str().expect("author");
                    if let Some(t) = ts(&p["created_at"]).filter(|t| in_window(*t, at)) {
                        acc.event("gh_activity_prs_opened_24h", org, &name, author, t);
                    }
                    if let Some(t) = ts(&p["merged_at"]).filter(|t| in_window(*t, at)) {
                        acc.event("gh_activity_prs_merged_24h", org, &name, author, t);
                    }
                    let n = p["number"].as_u64().expect("number");
                    for rv in get_all(c, &format!("{r}/pulls/{n}/reviews?per_page=100")).await {
                        if let Some(t) = ts(&rv["submitted_at"]).filter(|t| in_window(*t, at)) {
                            acc.event(
                                "gh_activity_reviews_submitted_24h",
                                org,
                                &name,
                                rv["user"]["login"].as_str().expect("reviewer"),
                                t,
                            );
                        }
                    }
                }
            }
            for cm in get_all(
                c,
                &format!("{r}/issues/comments?since={since}&per_page=100"),
            )
            .await
            {
                if let Some(t) = ts(&cm["created_at"]).filter(|t| in_window(*t, at)) {
                    acc.event(
                        "gh_activity_issue_comments_24h",
                        org,
                        &name,
                        cm["user"]["login"].as_str().expect("commenter"),
                        t,
                    );
                }
            }
            // LOC: latest complete week; large repos (a = d = 0, c > 0) from commit details.
            let Some(stats) = stats_until_ready(c, &format!("{r}/stats/contributors")).await else {
                continue;
            };
            let week = stats
                .iter()
                .flat_map(|s| s["weeks"].as_array().cloned().unwrap_or_default())
                .filter_map(|w| w["w"].as_i64())
                .filter(|w| (w + WEEK) as f64 <= at)
                .max();
            let Some(week) = week else { continue };
            let pick = |s: &Value, k: &str| {
                s["weeks"]
                    .as_array()
                    .and_then(|ws| ws.iter().find(|w| w["w"].as_i64() == Some(week)))
                    .and_then(|w| w[k].as_u64())
                    .unwrap_or(0)
            };
            let zero_loc = stats.iter().all(|s| pick(s, "a") + pick(s, "d") == 0)
                && stats.iter().any(|s| pick(s, "c") > 0);
            let mut per_user: BTreeMap<String, (u64, u64)> = stats
                .iter()
                .map(|s| {
                    (
                        s["author"]["login"].as_str().expect("login").to_string(),
                        (pick(s, "a"), pick(s, "d")),
                    )
                })
                .collect();
            if zero_loc {
                per_user.values_mut().for_each(|v| *v = (0, 0));
                for cm in get_all(
                    c,
                    &format!("{r}/commits?since={}&until={until}&per_page=100", iso(week)),
                )
                .await
                {
                    let t = ts(&cm["commit"]["author"]["date"]).expect("date");
                    let Some(login) = cm["author"]["login"].as_str() else {
                        continue;
                    };
                    if t < week as f64 || t >= (week + WEEK) as f64 {
                        continue;
                    }
                    let sha = cm["sha"].as_str().expect("sha");
                    let detail: Value = get(c, &format!("{r}/commits/{sha}"))
                        .await
                        .json()
                        .await
                        .expect("detail");
                    if let Some(v) = per_user.get_mut(login) {
                        v.0 += detail["stats"]["additions"].as_u64().expect("additions");
                        v.1 += detail["stats"]["deletions"].as_u64().expect("deletions");
                    }
                }
            }
            for (user, (a, d)) in per_user {
                loc.insert(
                    (
                        "gh_activity_loc_added_weekly".into(),
                        org.clone(),
                        name.clone(),
                        user.clone(),
                    ),
                    a,
                );
                loc.insert(
                    (
                        "gh_activity_loc_removed_weekly".into(),
                        org.clone(),
                        name.clone(),
                        user,
                    ),
                    d,
                );
            }
        }
    }
    let mut out = acc.counts;
    for ((org, repo, user), t) in acc.last {
        out.insert(
            ("gh_activity_last_event_unixtime".into(), org, repo, user),
            t,
        );
    }
    out.extend(loc);
    out
}

async fn truth(c: &reqwest::Client, base: &str, at: Option<f64>) -> (f64, BTreeMap<Key, u64>) {
    let url = match at {
        Some(at) => format!("{base}/_fake/truth?at={at}"),
        None => format!("{base}/_fake/truth"),
    };
    let body: Value = c
        .get(url)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("truth json");
    let now = body["now"].as_f64().expect("now");
    let series = body["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|s| {
            let f = |k: &str| s[k].as_str().expect("label").to_string();
            (
                (f("metric"), f("org"), f("repo"), f("user")),
                s["value"].as_u64().expect("integer value"),
            )
        })
        .collect();
    (now, series)
}

fn assert_same(from_api: &BTreeMap<Key, u64>, truth: &BTreeMap<Key, u64>) {
    let missing: Vec<_> = truth
        .iter()
        .filter(|(k, v)| from_api.get(*k) != Some(v))
        .take(10)
        .collect();
    let extra: Vec<_> = from_api
        .iter()
        .filter(|(k, v)| truth.get(*k) != Some(v))
        .take(10)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "truth not matched by the API:\n{missing:#?}\nAPI-only:\n{extra:#?}"
    );
}

/// The API alone reproduces the truth at one instant and after the clock moved 5 h 20 min.
#[tokio::test]
async fn truth_matches_what_the_api_shows_before_and_after_the_clock_moves() {
    let fake = spawn(common::config());
    let (base, c) = (fake.base_url(), client());
    let orgs = fake.org_names();

    let (now, t1) = truth(&c, &base, None).await;
    assert_eq!(now, common::NOW);
    for metric in [
        "commits_24h",
        "prs_opened_24h",
        "prs_merged_24h",
        "reviews_submitted_24h",
        "issue_comments_24h",
        "loc_added_weekly",
        "last_event_unixtime",
    ] {
        assert!(
            t1.keys().any(|k| k.0 == format!("gh_activity_{metric}")),
            "truth has {metric} series"
        );
    }
    assert!(
        t1.keys().any(|k| k.3 == "dependabot[bot]"),
        "bots count as users"
    );
    assert!(
        t1.keys().any(|k| k.3 == "unlinked_git_author"
            || k.3 == "unattributed_commit"
            || k.3.contains('.')),
        "unlinked authors resolved"
    );
    assert_same(&recompute(&c, &base, &orgs, common::NOW).await, &t1);

    let later = common::NOW + 5.0 * 3600.0 + 1200.0;
    let r = c
        .post(format!("{base}/_fake/clock"))
        .json(&serde_json::json!({"advance_secs": later - common::NOW}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let (now2, t2) = truth(&c, &base, None).await;
    assert_eq!(now2, later);
    assert_ne!(t1, t2, "activity moved with the clock");
    assert_same(&recompute(&c, &base, &orgs, later).await, &t2);

    // `?at=` reproduces an earlier instant exactly.
    let (at_now, t1_again) = truth(&c, &base, Some(common::NOW)).await;
    assert_eq!(at_now, common::NOW);
    assert_eq!(t1_again, t1);
    // The in-process computation agrees with the HTTP one.
    let lib = fake_github::truth_at(&common::config(), later);
    assert_eq!(lib.series.len(), t2.len());
    assert!(lib.series.iter().all(|s| t2.get(&(
        s.metric.to_string(),
        s.org.clone(),
        s.repo.clone(),
        s.user.clone()
    )) == Some(&s.value)));
}
