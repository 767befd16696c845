//! HTTP behaviour of the fake against GitHub's rules: pagination links, filtering, budgets,
//! ETag/304, secondary limits, stats 202→200/204, 409 on empty repos, search, GHES prefix.

mod common;

use common::*;
use fake_github::{FakeConfig, SecondaryLimits};
use serde_json::Value;

async fn repo_names(c: &reqwest::Client, base: &str, org: &str) -> Vec<(String, Value)> {
    repos_of(c, base, org)
        .await
        .into_iter()
        .map(|r| (r["name"].as_str().unwrap_or_default().to_string(), r))
        .collect()
}

/// The busiest repository by commit count (from the API) and an empty one (409 on commits).
async fn find_repos(c: &reqwest::Client, base: &str, org: &str) -> (String, String) {
    let mut busy = (String::new(), 0usize);
    let mut empty = String::new();
    for (name, _) in repo_names(c, base, org).await {
        let r = get(
            c,
            &format!("{base}/repos/{org}/{name}/commits?per_page=100"),
        )
        .await;
        if r.status() == 409 {
            empty = name;
            continue;
        }
        let pages = header(&r, "link")
            .map(|l| l.matches("page=").count())
            .unwrap_or(1);
        if pages >= busy.1 {
            busy = (name, pages);
        }
    }
    (busy.0, empty)
}

/// Link headers have GitHub's exact format and walking `next` visits every page once.
#[tokio::test]
async fn pagination_links_follow_github_format() {
    let fake = spawn(config());
    let org = fake.org_names()[0].clone();
    let base = fake.base_url();
    let c = client();
    let (busy, _) = find_repos(&c, &base, &org).await;
    let all = get_all(
        &c,
        &format!("{base}/repos/{org}/{busy}/commits?per_page=100"),
    )
    .await;
    assert!(all.len() > 10, "busy repo has commits: {}", all.len());
    let last = all.len().div_ceil(2);

    let r = get(&c, &format!("{base}/repos/{org}/{busy}/commits?per_page=2")).await;
    let u = format!("{base}/repos/{org}/{busy}/commits");
    assert_eq!(
        header(&r, "link").as_deref(),
        Some(
            format!(
                "<{u}?per_page=2&page=2>; rel=\"next\", <{u}?per_page=2&page={last}>; rel=\"last\""
            )
            .as_str()
        )
    );
    let r = get(
        &c,
        &format!("{base}/repos/{org}/{busy}/commits?page=3&per_page=2"),
    )
    .await;
    assert_eq!(
        header(&r, "link").as_deref(),
        Some(
            format!(
                "<{u}?page=2&per_page=2>; rel=\"prev\", <{u}?page=4&per_page=2>; rel=\"next\", <{u}?page={last}&per_page=2>; rel=\"last\", <{u}?page=1&per_page=2>; rel=\"first\""
            )
            .as_str()
        )
    );
    let page3: Vec<Value> = r.json().await.expect("array");
    assert_eq!(page3, all[4..6].to_vec());
    let r = get(
        &c,
        &format!("{base}/repos/{org}/{busy}/commits?per_page=2&page={last}"),
    )
    .await;
    assert_eq!(
        header(&r, "link").as_deref(),
        Some(
            format!(
                "<{u}?per_page=2&page={}>; rel=\"prev\", <{u}?per_page=2&page=1>; rel=\"first\"",
                last - 1
            )
            .as_str()
        )
    );
    // per_page above 100 is capped; a single page has no Link header.
    let r = get(
        &c,
        &format!("{base}/repos/{org}/{busy}/commits?per_page=500"),
    )
    .await;
    let capped: Vec<Value> = r.json().await.expect("array");
    assert_eq!(capped.len(), 100.min(all.len()));
    let r = get(&c, &format!("{base}/meta")).await;
    assert_eq!(header(&r, "link"), None);
}

/// `since`/`until` select commits by committer date, inclusive, and listings are newest first.
#[tokio::test]
async fn since_and_until_filter_commits_by_committer_date() {
    let fake = spawn(config());
    let org = fake.org_names()[0].clone();
    let base = fake.base_url();
    let c = client();
    let (busy, _) = find_repos(&c, &base, &org).await;
    let all = get_all(
        &c,
        &format!("{base}/repos/{org}/{busy}/commits?per_page=100"),
    )
    .await;
    let date = |v: &Value| {
        v["commit"]["committer"]["date"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let dates: Vec<String> = all.iter().map(date).collect();
    let mut sorted = dates.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(dates, sorted, "newest first");
    // Pick bounds equal to existing dates to prove inclusiveness.
    let until = dates[3].clone();
    let since = dates[dates.len() / 2].clone();
    let want: Vec<&Value> = all
        .iter()
        .filter(|v| date(v) >= since && date(v) <= until)
        .collect();
    let got = get_all(
        &c,
        &format!("{base}/repos/{org}/{busy}/commits?per_page=7&since={since}&until={until}"),
    )
    .await;
    assert_eq!(got.iter().collect::<Vec<_>>(), want);
    assert!(got.iter().any(|v| date(v) == since) && got.iter().any(|v| date(v) == until));
    let r = get(
        &c,
        &format!("{base}/repos/{org}/{busy}/commits?since=yesterday"),
    )
    .await;
    assert_eq!(r.status(), 422);
}

/// Every metered response decrements the budget; 403 with remaining 0 when it is exhausted;
/// `/rate_limit` is free; counters see it all.
#[tokio::test]
async fn budget_decrements_and_is_enforced() {
    let fake = spawn(FakeConfig {
        rate_limit: 5,
        ..config()
    });
    let org = fake.org_names()[0].clone();
    let base = fake.base_url();
    let c = client();
    for i in 1..=5u32 {
        let r = get(&c, &format!("{base}/orgs/{org}/repos")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-ratelimit-limit").as_deref(), Some("5"));
        assert_eq!(header(&r, "x-ratelimit-used"), Some(i.to_string()));
        assert_eq!(
            header(&r, "x-ratelimit-remaining"),
            Some((5 - i).to_string())
        );
        assert_eq!(header(&r, "x-ratelimit-resource").as_deref(), Some("core"));
        assert_eq!(
            header(&r, "x-ratelimit-reset"),
            Some(((common::NOW + 3600.0).floor() as i64).to_string())
        );
    }
    let r = get(&c, &format!("{base}/orgs/{org}/repos")).await;
    assert_eq!(r.status(), 403);
    assert_eq!(header(&r, "x-ratelimit-remaining").as_deref(), Some("0"));
    let body: Value = r.json().await.expect("json error");
    assert!(body["message"]
        .as_str()
        .unwrap_or_default()
        .contains("rate limit exceeded"));
    let r = get(&c, &format!("{base}/rate_limit")).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["resources"]["core"]["remaining"], 0);
    assert_eq!(body["rate"]["used"], 5);
    // The budget refills at reset.
    fake.advance_clock(3600.0);
    let r = get(&c, &format!("{base}/orgs/{org}/repos")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-ratelimit-remaining").as_deref(), Some("4"));
    let counts = fake.requests();
    assert_eq!(counts.total, 8);
    assert_eq!(counts.budget_consumed, 6);
    assert_eq!(counts.by_endpoint.get("GET /orgs/{org}/repos"), Some(&7));
    assert_eq!(counts.by_status.get("403"), Some(&1));
}

/// A matching `If-None-Match` gives 304 without using budget; a stale one gives 200.
#[tokio::test]
async fn conditional_request_is_not_metered() {
    let fake = spawn(config());
    let org = fake.org_names()[0].clone();
    let base = fake.base_url();
    let c = client();
    let url = format!("{base}/orgs/{org}/repos?per_page=3");
    let r = get(&c, &url).await;
    let etag = header(&r, "etag").expect("200 carries an etag");
    assert!(etag.starts_with("W/\""));
    let used = header(&r, "x-ratelimit-used");
    let r = c
        .get(&url)
        .header("authorization", format!("token {TOKEN}"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 304);
    assert_eq!(
        header(&r, "x-ratelimit-used"),
        used,
        "304 does not consume budget"
    );
    let r = c
        .get(&url)
        .header("authorization", format!("token {TOKEN}"))
        .header("if-none-match", "W/\"stale\"")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let counts: Value = c
        .get(format!("{base}/_fake/requests"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(counts["not_modified"], 1);
    assert_eq!(counts["budget_consumed"], 2);
    assert_eq!(counts["total"], 3);
    assert_eq!(counts["by_status"]["304"], 1);
}

/// A burst beyond the threshold gets 429 with retry-after; after that long it passes again.
#[tokio::test]
async fn burst_beyond_threshold_is_refused_with_retry_after() {
    let secondary = SecondaryLimits {
        burst_max: 3,
        burst_window_secs: 60,
        status: 429,
        ..SecondaryLimits::default()
    };
    let fake = spawn(FakeConfig {
        secondary,
        ..config()
    });
    let base = fake.base_url();
    let c = client();
    for _ in 0..3 {
        assert_eq!(get(&c, &format!("{base}/rate_limit")).await.status(), 200);
    }
    let r = get(&c, &format!("{base}/rate_limit")).await;
    assert_eq!(r.status(), 429);
    let retry: f64 = header(&r, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("retry-after seconds");
    assert_eq!(retry, 60.0);
    let body: Value = r.json().await.expect("json");
    assert!(body["message"]
        .as_str()
        .unwrap_or_default()
        .contains("secondary rate limit"));
    fake.advance_clock(retry);
    assert_eq!(get(&c, &format!("{base}/rate_limit")).await.status(), 200);
}

/// More requests in flight than allowed get 403 with retry-after.
#[tokio::test]
async fn concurrent_requests_beyond_threshold_are_refused() {
    let secondary = SecondaryLimits {
        max_concurrent: 2,
        burst_max: 0,
        status: 403,
        concurrency_retry_after_secs: 7,
        ..SecondaryLimits::default()
    };
    let fake = spawn(FakeConfig {
        secondary,
        ..config()
    });
    let base = fake.base_url();
    let c = client();
    // Two slow requests hold both slots (a delay fault keeps them in flight).
    let fault = serde_json::json!({"path_regex": "^/meta$", "delay_ms": 1500, "count": 2});
    c.post(format!("{base}/_fake/faults"))
        .json(&fault)
        .send()
        .await
        .expect("fault set");
    let slow1 = tokio::spawn({
        let (c, u) = (c.clone(), format!("{base}/meta"));
        async move { get(&c, &u).await.status() }
    });
    let slow2 = tokio::spawn({
        let (c, u) = (c.clone(), format!("{base}/meta"));
        async move { get(&c, &u).await.status() }
    });
    // Poll until a third request is refused (both slow ones are then in flight).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let refused = loop {
        let r = get(&c, &format!("{base}/rate_limit")).await;
        if r.status() == 403 {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no refusal while two requests were in flight"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(header(&refused, "retry-after").as_deref(), Some("7"));
    assert_eq!(slow1.await.expect("join"), 200);
    assert_eq!(slow2.await.expect("join"), 200);
    assert_eq!(get(&c, &format!("{base}/rate_limit")).await.status(), 200);
}

/// stats/contributors answers 202 (empty body) for the configured calls, then 200; 204 for an
/// empty repository, whose commits answer 409.
#[tokio::test]
async fn stats_compute_then_answer_and_empty_repos_are_special() {
    let fake = spawn(FakeConfig {
        stats_compute_calls: 2,
        ..config()
    });
    let org = fake.org_names()[0].clone();
    let base = fake.base_url();
    let c = client();
    let (busy, empty) = find_repos(&c, &base, &org).await;
    let url = format!("{base}/repos/{org}/{busy}/stats/contributors");
    for _ in 0..2 {
        let r = get(&c, &url).await;
        assert_eq!(r.status(), 202);
        assert_eq!(r.text().await.expect("body"), "{}");
    }
    let r = get(&c, &url).await;
    assert_eq!(r.status(), 200);
    let stats: Vec<Value> = r.json().await.expect("array");
    assert!(!stats.is_empty());
    assert!(stats
        .iter()
        .all(|s| s["weeks"].as_array().is_some_and(|w| !w.is_empty())));
    assert!(!empty.is_empty(), "org has an empty repository");
    let r = get(
        &c,
        &format!("{base}/repos/{org}/{empty}/stats/contributors"),
    )
    .await;
    assert_eq!(r.status(), 204);
    let r = get(&c, &format!("{base}/repos/{org}/{empty}/commits")).await;
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["message"], "Git Repository is empty.");
}

/// Every endpoint answers the same under `/api/v3`, with prefixed Link URLs and shared counters.
#[tokio::test]
async fn ghes_prefix_serves_the_same_api() {
    let fake = spawn(config());
    let org = fake.org_names()[0].clone();
    let base = fake.base_url();
    let c = client();
    let plain: Value = get(&c, &format!("{base}/orgs/{org}/repos?per_page=2"))
        .await
        .json()
        .await
        .expect("json");
    let r = get(&c, &format!("{base}/api/v3/orgs/{org}/repos?per_page=2")).await;
    assert_eq!(r.status(), 200);
    let link = header(&r, "link").expect("paginated");
    assert!(
        link.starts_with(&format!(
            "<{base}/api/v3/orgs/{org}/repos?per_page=2&page=2>; rel=\"next\""
        )),
        "{link}"
    );
    let prefixed: Value = r.json().await.expect("json");
    assert_eq!(plain, prefixed);
    assert_eq!(get(&c, &format!("{base}/api/v3/meta")).await.status(), 200);
    assert_eq!(
        fake.requests().by_endpoint.get("GET /orgs/{org}/repos"),
        Some(&2)
    );
    assert_eq!(get(&c, &format!("{base}/api/v4/meta")).await.status(), 404);
}

/// Missing or wrong tokens get a 401 JSON error; `/meta` is open.
#[tokio::test]
async fn bad_credentials_get_401_json() {
    let fake = spawn(config());
    let org = fake.org_names()[0].clone();
    let base = fake.base_url();
    let c = client();
    let r = c
        .get(format!("{base}/orgs/{org}/repos"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    let r = c
        .get(format!("{base}/orgs/{org}/repos"))
        .header("authorization", "Bearer nope")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["message"], "Bad credentials");
    assert_eq!(
        c.get(format!("{base}/meta"))
            .send()
            .await
            .expect("send")
            .status(),
        200
    );
}

/// Search has its own 30/min budget, reports total_count and refuses beyond 1,000 results.
#[tokio::test]
async fn search_issues_has_own_budget_and_result_cap() {
    let fake = spawn(FakeConfig {
        search_rate_limit: 3,
        ..config()
    });
    let org = fake.org_names()[0].clone();
    let base = fake.base_url();
    let c = client();
    let since = fake_github::timefmt::iso((common::NOW - 86_400.0) as i64);
    let url = format!("{base}/search/issues?q=org:{org}+is:pr+updated:>={since}&per_page=100");
    let r = get(&c, &url).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "x-ratelimit-resource").as_deref(),
        Some("search")
    );
    assert_eq!(header(&r, "x-ratelimit-limit").as_deref(), Some("3"));
    let body: Value = r.json().await.expect("json");
    let items = body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(body["total_count"].as_u64(), Some(items.len() as u64));
    assert!(!items.is_empty());
    assert!(items
        .iter()
        .all(|i| i["pull_request"].is_object()
            && i["updated_at"].as_str().is_some_and(|u| *u >= *since)));
    let r = get(
        &c,
        &format!("{base}/search/issues?q=org:{org}&per_page=100&page=11"),
    )
    .await;
    assert_eq!(r.status(), 422, "beyond the first 1000 results");
    assert_eq!(
        get(&c, &url).await.status(),
        200,
        "third search call (the 422 used one)"
    );
    assert_eq!(
        get(&c, &url).await.status(),
        403,
        "search budget exhausted after 3"
    );
    assert_eq!(
        get(&c, &format!("{base}/orgs/{org}/repos")).await.status(),
        200,
        "core budget is separate"
    );
    fake.advance_clock(60.0);
    assert_eq!(
        get(&c, &url).await.status(),
        200,
        "search budget refills each minute"
    );
}

/// The control clock moves time and activity with it; truth `now` follows.
#[tokio::test]
async fn control_clock_moves_time() {
    let fake = spawn(config());
    let base = fake.base_url();
    let c = client();
    let v: Value = c
        .post(format!("{base}/_fake/clock"))
        .json(&serde_json::json!({"advance_secs": 3600}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["now"].as_f64(), Some(common::NOW + 3600.0));
    assert_eq!(v["mode"], "fixed");
    let v: Value = c
        .post(format!("{base}/_fake/clock"))
        .json(&serde_json::json!({"now": 1_700_100_000}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["now"].as_f64(), Some(1_700_100_000.0));
    let t: Value = c
        .get(format!("{base}/_fake/truth"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(t["now"].as_f64(), Some(1_700_100_000.0));
    assert_eq!(
        c.post(format!("{base}/_fake/clock"))
            .json(&serde_json::json!({"later": 1}))
            .send()
            .await
            .expect("send")
            .status(),
        400
    );
}

/// A user-owned account: `GET /users/{login}` says `User` (an org says `Organization`), its
/// `/orgs/…` endpoints and Copilot reports are 404, `org:` finds none of its items while
/// `user:` finds them, and its repositories list the same from `/users/{login}/repos` and
/// (the token's own account) `/user/repos`, paginated like every listing.
#[tokio::test]
async fn user_owned_accounts_behave_like_github_users() {
    let fake = spawn(FakeConfig {
        user_owners: 1,
        repos: 8,
        ..config()
    });
    let (base, c) = (fake.base_url(), client());
    let org = fake.org_names()[0].clone();
    let user = fake.user_owner_names()[0].clone();
    assert_eq!(
        fake.org_names().last(),
        Some(&user),
        "users come after the orgs"
    );
    let account = |login: String| {
        let (c, base) = (c.clone(), base.clone());
        async move {
            let v: serde_json::Value = get(&c, &format!("{base}/users/{login}"))
                .await
                .json()
                .await
                .expect("json");
            v["type"].as_str().unwrap_or_default().to_string()
        }
    };
    assert_eq!(account(org.clone()).await, "Organization");
    assert_eq!(account(user.clone()).await, "User");
    assert_eq!(
        get(&c, &format!("{base}/users/nobody-here")).await.status(),
        404
    );
    for path in [
        format!("/orgs/{user}/repos"),
        format!("/orgs/{user}/copilot/billing/seats"),
        format!("/orgs/{user}/copilot/metrics/reports/organization-28-day/latest"),
    ] {
        assert_eq!(
            get(&c, &format!("{base}{path}")).await.status(),
            404,
            "{path}"
        );
    }
    let count = |q: String| {
        let (c, base) = (c.clone(), base.clone());
        async move {
            let v: serde_json::Value = get(&c, &format!("{base}/search/issues?q={q}"))
                .await
                .json()
                .await
                .expect("json");
            v["total_count"].as_u64().unwrap_or_default()
        }
    };
    assert_eq!(
        count(format!("org:{user}")).await,
        0,
        "org: names organizations only"
    );
    assert!(count(format!("user:{user}")).await > 0);
    assert!(
        count(format!("user:{org}")).await > 0,
        "user: names any account"
    );
    let names = |url: String| {
        let c = c.clone();
        async move {
            let r = get(&c, &url).await;
            assert_eq!(r.status(), 200, "{url}");
            let link = header(&r, "link");
            let v: serde_json::Value = r.json().await.expect("json");
            let names: Vec<String> = v
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r["name"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            (names, link)
        }
    };
    let (public, link) = names(format!("{base}/users/{user}/repos?per_page=5")).await;
    assert_eq!(public.len(), 5);
    assert!(link.is_some_and(|l| l.contains("rel=\"next\"")));
    let (own, _) = names(format!("{base}/user/repos?affiliation=owner&per_page=5")).await;
    assert_eq!(own, public, "the token's own account, sorted by full name");
    let owner: serde_json::Value = get(&c, &format!("{base}/user"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(owner["login"], user.as_str());
}
