//! Copilot usage metrics over HTTP: report link responses and their several signed download
//! files (schema, splitting, pretty-printed values, expiry, malformed values, `Authorization`
//! counting), 204/400 of the 1-day reports, seats pagination and `Date`, 403/404 knobs, faults,
//! the enterprise's own installation, and `GET /_fake/copilot/truth` against the files.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use fake_github::{AppAuth, FakeConfig};
use serde_json::{json, Value};

/// Day numbers at `NOW` (2023-11-14): today, the 28-day report's end, the latest 1-day report.
const TODAY: i64 = 19_675;
const END: i64 = TODAY - 2;
const LATEST: i64 = TODAY - 1;

fn day(d: i64) -> String {
    fake_github::timefmt::iso(d * 86_400)[..10].to_string()
}

async fn links(c: &reqwest::Client, url: &str) -> Value {
    let r = get(c, url).await;
    assert_eq!(r.status(), 200, "GET {url}");
    r.json().await.expect("a link response")
}

/// Downloads a link without any `Authorization` header.
async fn download(c: &reqwest::Client, link: &str) -> Vec<u8> {
    let r = c.get(link).send().await.expect("download reaches the fake");
    assert_eq!(r.status(), 200, "GET {link}");
    r.bytes().await.expect("body").to_vec()
}

async fn download_all(c: &reqwest::Client, resp: &Value) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for l in resp["download_links"].as_array().expect("download_links") {
        out.push(download(c, l.as_str().expect("a link")).await);
    }
    out
}

/// Whitespace-separated JSON values of a file (fails on anything else).
fn values(bytes: &[u8]) -> Vec<Value> {
    serde_json::Deserializer::from_slice(bytes)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .expect("a stream of JSON values")
}

/// NDJSON rows: (objects, lines that are not a JSON object).
fn ndjson(bytes: &[u8]) -> (Vec<Value>, usize) {
    let mut rows = Vec::new();
    let mut bad = 0;
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice::<Value>(line) {
            Ok(v) if v.is_object() => rows.push(v),
            _ => bad += 1,
        }
    }
    (rows, bad)
}

fn org_url(base: &str, org: &str, rest: &str) -> String {
    format!("{base}/orgs/{org}/copilot/metrics/reports/{rest}")
}

const COUNTERS: [&str; 6] = [
    "code_generation_activity_count",
    "code_acceptance_activity_count",
    "loc_suggested_to_add_sum",
    "loc_suggested_to_delete_sum",
    "loc_added_sum",
    "loc_deleted_sum",
];

/// The org 28-day report: several files, each `{report_start_day, report_end_day, day_totals}`,
/// one pretty-printed over several lines, together the 28 days in order with GitHub's nested
/// schema and internal fields; the last day equals the 1-day report of that day.
#[tokio::test]
async fn org_28_day_report_is_split_nested_and_consistent() {
    let fake = spawn(config());
    let (base, c) = (fake.base_url(), client());
    let org = &fake.org_names()[0];
    let resp = links(&c, &org_url(&base, org, "organization-28-day/latest")).await;
    assert_eq!(resp["report_end_day"], day(END));
    assert_eq!(resp["report_start_day"], day(END - 27));
    let files = download_all(&c, &resp).await;
    assert!(files.len() >= 2, "{} files", files.len());
    assert!(
        files.iter().any(|f| {
            let v = values(f);
            v.len() == 1 && f.iter().filter(|b| **b == b'\n').count() > 10
        }),
        "one file holds a value pretty-printed over many lines"
    );
    let mut days = Vec::new();
    for f in &files {
        for v in values(f) {
            assert_eq!(v["report_end_day"], day(END));
            assert!(v["organization_id"].is_string() && v["created_at"].is_string());
            for rec in v["day_totals"].as_array().expect("day_totals") {
                days.push(rec["day"].as_str().expect("day").to_string());
                for key in [
                    "totals_by_ide",
                    "totals_by_feature",
                    "totals_by_language_feature",
                    "totals_by_language_model",
                    "totals_by_model_feature",
                ] {
                    assert!(rec[key].is_array(), "{key}");
                }
                assert!(rec["pull_requests"]["total_created"].is_u64());
                assert!(rec["etl_id"].is_string() && rec["day_partition"].is_string());
                assert!(rec["daily_active_users"].is_u64());
                assert!(rec["chat_panel_agent_mode"].is_u64());
                assert!(rec["code_generation_activity_count"].is_u64());
            }
        }
    }
    let want: Vec<String> = (END - 27..=END).map(day).collect();
    assert_eq!(days, want, "28 days, in order, over all files");

    let last = values(files.last().expect("files"))
        .pop()
        .and_then(|v| v["day_totals"].as_array().and_then(|a| a.last().cloned()))
        .expect("last day");
    let one = links(
        &c,
        &org_url(&base, org, &format!("organization-1-day?day={}", day(END))),
    )
    .await;
    assert_eq!(one["report_day"], day(END));
    let one_files = download_all(&c, &one).await;
    let rec = values(&one_files[0]).pop().expect("one day record");
    assert_eq!(
        rec, last,
        "the 1-day record equals the 28-day one of that day"
    );
}

/// `users-28-day` is NDJSON over at least 3 files: one row per (user, day), nested blocks, the
/// report range on every row; `users-1-day` holds exactly that day's rows.
#[tokio::test]
async fn users_reports_are_ndjson_one_row_per_user_per_day() {
    let fake = spawn(config());
    let (base, c) = (fake.base_url(), client());
    let org = &fake.org_names()[0];
    let resp = links(&c, &org_url(&base, org, "users-28-day/latest")).await;
    let files = download_all(&c, &resp).await;
    assert!(files.len() >= 3);
    let mut seen = BTreeSet::new();
    let mut rows = Vec::new();
    for f in &files {
        let (r, bad) = ndjson(f);
        assert_eq!(bad, 0);
        assert!(!r.is_empty(), "every file has rows");
        rows.extend(r);
    }
    for r in &rows {
        assert_eq!(r["report_end_day"], day(END));
        let key = (
            r["user_login"].as_str().expect("login").to_string(),
            r["day"].as_str().expect("day").to_string(),
        );
        assert!(seen.insert(key.clone()), "duplicate row {key:?}");
        assert!(r["user_id"].is_u64() && r["totals_by_ide"].is_array());
        assert!(r["ai_adoption_phase"]["phase_number"].is_u64());
        assert!(r["totals_by_ide"][0]["last_known_ide_version"].is_string());
    }
    let users: BTreeSet<_> = seen.iter().map(|k| k.0.clone()).collect();
    assert!(users.len() >= 3, "{users:?}");
    assert!(seen.len() > users.len(), "users have several days");

    let one = links(
        &c,
        &org_url(&base, org, &format!("users-1-day?day={}", day(END))),
    )
    .await;
    let mut day_rows = Vec::new();
    for f in download_all(&c, &one).await {
        day_rows.extend(ndjson(&f).0);
    }
    let from_28: Vec<&Value> = rows.iter().filter(|r| r["day"] == day(END)).collect();
    assert_eq!(day_rows.len(), from_28.len());
    for (a, b) in day_rows.iter().zip(from_28) {
        assert_eq!(a["user_login"], b["user_login"]);
        assert_eq!(a["totals_by_feature"], b["totals_by_feature"]);
        assert!(a.get("report_end_day").is_none());
    }
}

/// 1-day reports: 200 up to yesterday, 204 from today on, 400 without a valid `day` (the Go
/// version's `?date=` too).
#[tokio::test]
async fn one_day_reports_answer_204_from_today_and_400_without_day() {
    let fake = spawn(config());
    let (base, c) = (fake.base_url(), client());
    let org = &fake.org_names()[0];
    for rep in ["organization-1-day", "users-1-day"] {
        let status = |q: String| {
            let (c, url) = (c.clone(), org_url(&base, org, &format!("{rep}{q}")));
            async move { get(&c, &url).await.status().as_u16() }
        };
        assert_eq!(status(format!("?day={}", day(LATEST))).await, 200);
        assert_eq!(status(format!("?day={}", day(END - 27))).await, 200);
        assert_eq!(status(format!("?day={}", day(TODAY))).await, 204);
        assert_eq!(status(format!("?day={}", day(TODAY + 1))).await, 204);
        assert_eq!(status(String::new()).await, 400);
        assert_eq!(status(format!("?date={}", day(LATEST))).await, 400);
        assert_eq!(status("?day=2023-11-1".to_string()).await, 400);
    }
    let ghes = format!(
        "{base}/api/v3/orgs/{org}/copilot/metrics/reports/users-1-day?day={}",
        day(LATEST)
    );
    assert_eq!(get(&c, &ghes).await.status(), 200, "GHES prefix");
    let r = get(
        &c,
        &org_url(&base, org, &format!("users-1-day?day={}", day(TODAY))),
    )
    .await;
    assert_eq!(r.bytes().await.expect("body").len(), 0);
}

/// Links are signed and live 5 minutes of fake time: a changed signature or an expired link is
/// 403 with Azure's XML error; downloads use no budget and count `Authorization` headers.
#[tokio::test]
async fn download_links_are_signed_expire_and_count_authorization() {
    let fake = spawn(config());
    let (base, c) = (fake.base_url(), client());
    let org = &fake.org_names()[0];
    let resp = links(&c, &org_url(&base, org, "users-28-day/latest")).await;
    let link = resp["download_links"][0]
        .as_str()
        .expect("link")
        .to_string();
    let before = fake.requests();

    let tampered = link.replace("parts=3", "parts=1");
    let r = c.get(&tampered).send().await.expect("send");
    assert_eq!(r.status(), 403);
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/xml")
    );
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("<Code>AuthenticationFailed</Code>"));

    let r = c
        .get(&link)
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "served even with a token");
    let counts = fake.requests();
    assert_eq!(counts.download_requests, before.download_requests + 2);
    assert_eq!(
        counts.download_requests_with_authorization,
        before.download_requests_with_authorization + 1
    );
    assert_eq!(
        counts.download_requests_by_report.get("users-28-day"),
        Some(&2)
    );
    assert_eq!(counts.budget_consumed, before.budget_consumed, "no budget");

    fake.advance_clock(300.0);
    download(&c, &link).await;
    fake.advance_clock(1.0);
    let r = c.get(&link).send().await.expect("send");
    assert_eq!(r.status(), 403, "expired");
    let body = r.text().await.expect("body");
    assert!(body.contains("AuthenticationFailed") && body.contains("Signed expiry time"));
    let fresh = links(&c, &org_url(&base, org, "users-28-day/latest")).await;
    download(&c, fresh["download_links"][0].as_str().expect("link")).await;
}

async fn knobs(c: &reqwest::Client, base: &str, body: Value) -> Value {
    let r = c
        .post(format!("{base}/_fake/copilot"))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "knobs {body}");
    r.json().await.expect("knob state")
}

/// `expire_links_of_day` expires every link of that day's reports, however often they are
/// asked again, and no other day's; expired links issued are counted; `""` clears it.
#[tokio::test]
async fn knob_expires_every_link_of_one_day() {
    let fake = spawn(config());
    let (base, c) = (fake.base_url(), client());
    let org = &fake.org_names()[0];
    let state = knobs(&c, &base, json!({"expire_links_of_day": day(LATEST)})).await;
    assert_eq!(state["expire_links_of_day"], day(LATEST));
    let status_of = |url: String| {
        let c = c.clone();
        async move {
            let resp = links(&c, &url).await;
            let link = resp["download_links"][0]
                .as_str()
                .expect("a link")
                .to_string();
            c.get(link).send().await.expect("send").status().as_u16()
        }
    };
    let latest = org_url(
        &base,
        org,
        &format!("organization-1-day?day={}", day(LATEST)),
    );
    let end = org_url(&base, org, &format!("organization-1-day?day={}", day(END)));
    for _ in 0..3 {
        assert_eq!(
            status_of(latest.clone()).await,
            403,
            "every new link expired"
        );
    }
    assert_eq!(status_of(end.clone()).await, 200, "another day is served");
    let state = knobs(&c, &base, json!({"expire_links_of_day": ""})).await;
    assert_eq!(state["expired_links_issued"], 3);
    assert_eq!(state["expire_links_of_day"], Value::Null);
    assert_eq!(status_of(latest).await, 200, "cleared");
}

/// `expire_next_links` makes exactly the next N links expired; `files_per_report` sets the
/// number of files; `malformed` adds a broken NDJSON line, an unknown-shaped line and a
/// wrong-shaped org value without losing any real row; `DELETE` resets.
#[tokio::test]
async fn knobs_expire_links_split_files_and_insert_malformed_values() {
    let fake = spawn(config());
    let (base, c) = (fake.base_url(), client());
    let org = &fake.org_names()[0];
    let users_url = org_url(&base, org, "users-28-day/latest");
    let clean: Vec<Value> = {
        let mut v = Vec::new();
        for f in download_all(&c, &links(&c, &users_url).await).await {
            v.extend(ndjson(&f).0);
        }
        v
    };

    knobs(
        &c,
        &base,
        json!({"expire_next_links": 2, "files_per_report": 5}),
    )
    .await;
    let resp = links(&c, &users_url).await;
    let ls: Vec<&str> = resp["download_links"]
        .as_array()
        .expect("links")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(ls.len(), 5);
    for (i, l) in ls.iter().enumerate() {
        let status = c.get(*l).send().await.expect("send").status();
        assert_eq!(status, if i < 2 { 403 } else { 200 }, "link {i}");
    }

    let state = knobs(&c, &base, json!({"malformed": true, "files_per_report": 3})).await;
    assert_eq!(state["malformed"], true);
    let mut rows = Vec::new();
    let mut bad = 0;
    for f in download_all(&c, &links(&c, &users_url).await).await {
        let (r, b) = ndjson(&f);
        rows.extend(r);
        bad += b;
    }
    assert_eq!(bad, 2, "one broken line and one array");
    assert_eq!(rows, clean, "every real row still there");

    let org28 = links(&c, &org_url(&base, org, "organization-28-day/latest")).await;
    let mut shapes = 0;
    let mut days = 0;
    for f in download_all(&c, &org28).await {
        for v in values(&f) {
            match v["day_totals"].as_array() {
                Some(a) => days += a.len(),
                None => shapes += 1,
            }
        }
    }
    assert_eq!((shapes, days), (1, 28));

    let r = c
        .delete(format!("{base}/_fake/copilot"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 204);
    let state: Value = c
        .get(format!("{base}/_fake/copilot"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(state["malformed"], false);
    assert_eq!(state["files_per_report"], 3);
    let r = c
        .post(format!("{base}/_fake/copilot"))
        .json(&json!({"files_per_report": 0}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
}

/// Seats: `{total_seats, seats}` over `Link` pages of at most 100, a `Date` header with the fake
/// clock, plan types business/enterprise/null, and `last_activity_at` ≥ 12 h away from the
/// 7/30/90-day boundaries; the truth's seat buckets equal counting the pages.
#[tokio::test]
async fn seats_paginate_with_fake_clock_date_and_match_the_truth() {
    let fake = spawn(FakeConfig {
        users: 30,
        ..config()
    });
    let (base, c) = (fake.base_url(), client());
    let org = &fake.org_names()[0];
    let mut next = Some(format!(
        "{base}/orgs/{org}/copilot/billing/seats?per_page=7"
    ));
    let mut seats = Vec::new();
    let mut pages = 0;
    let mut total = 0;
    while let Some(u) = next {
        let r = get(&c, &u).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            header(&r, "date").as_deref(),
            Some("Tue, 14 Nov 2023 22:13:20 GMT")
        );
        next = next_link(header(&r, "link").as_deref());
        let body: Value = r.json().await.expect("json");
        total = body["total_seats"].as_u64().expect("total_seats");
        let page = body["seats"].as_array().expect("seats").clone();
        assert!(page.len() <= 7);
        seats.extend(page);
        pages += 1;
    }
    assert_eq!(seats.len() as u64, total);
    assert!(pages >= 3, "{pages} pages");
    let mut counts: BTreeMap<(String, &str), u64> = BTreeMap::new();
    let mut nulls = 0;
    for s in &seats {
        assert!(s["assignee"]["login"].is_string() && s["created_at"].is_string());
        let plan = match &s["plan_type"] {
            Value::Null => "unknown".to_string(),
            Value::String(p) => {
                assert!(
                    ["business", "enterprise", "unknown"].contains(&p.as_str()),
                    "{p}"
                );
                p.clone()
            }
            other => panic!("plan_type {other}"),
        };
        let bucket = match s["last_activity_at"].as_str() {
            None => {
                nulls += 1;
                "none"
            }
            Some(t) => {
                let at = fake_github::timefmt::parse_iso(t).expect("time");
                let age = NOW.floor() - at;
                for b in [7.0, 30.0, 90.0] {
                    assert!(
                        (age - b * 86_400.0).abs() >= 12.0 * 3600.0,
                        "{t} near {b} d"
                    );
                }
                match age / 86_400.0 {
                    a if a <= 7.0 => "0-7d",
                    a if a <= 30.0 => "8-30d",
                    a if a <= 90.0 => "31-90d",
                    _ => "none",
                }
            }
        };
        *counts.entry((plan, bucket)).or_default() += 1;
    }
    assert!(nulls > 0, "some seats were never active");
    assert!(
        counts.keys().any(|(p, _)| p == "unknown"),
        "some seats have no plan type"
    );

    let truth: Value = c
        .get(format!("{base}/_fake/copilot/truth"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let mut from_truth: BTreeMap<(String, &str), u64> = BTreeMap::new();
    let mut plans = BTreeSet::new();
    for s in truth["series"].as_array().expect("series") {
        if s["metric"] == "gh_copilot_seats" && s["labels"]["org"] == org.as_str() {
            let plan = s["labels"]["plan_type"].as_str().expect("plan").to_string();
            plans.insert(plan.clone());
            let act = ["0-7d", "8-30d", "31-90d", "none"]
                .into_iter()
                .find(|a| s["labels"]["activity"] == *a)
                .expect("activity");
            let v = s["value"].as_f64().expect("value") as u64;
            if v > 0 {
                from_truth.insert((plan, act), v);
            }
        }
    }
    assert_eq!(from_truth, counts);
    let seen: BTreeSet<String> = counts.keys().map(|k| k.0.clone()).collect();
    assert_eq!(plans, seen, "all four buckets for every plan seen");
}

type Key = (String, BTreeMap<String, String>);

fn key(metric: &str, labels: &[(&str, &str)]) -> Key {
    (
        metric.to_string(),
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

async fn truth(c: &reqwest::Client, base: &str, query: &str) -> BTreeMap<Key, f64> {
    let r = c
        .get(format!("{base}/_fake/copilot/truth?{query}"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "truth?{query}");
    let body: Value = r.json().await.expect("json");
    body["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|s| {
            let labels = s["labels"]
                .as_object()
                .expect("labels")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("label").to_string()))
                .collect();
            (
                (s["metric"].as_str().expect("metric").to_string(), labels),
                s["value"].as_f64().expect("value"),
            )
        })
        .collect()
}

/// What docs/copilot-metrics.md says a day record yields with the default settings (read
/// here independently of the fake's truth code).
fn expected_from_record(org: &str, rec: &Value, out: &mut BTreeMap<Key, f64>) {
    let base = [("scope", "organization"), ("org", org)];
    let mut put = |metric: &str, extra: &[(&str, &str)], v: &Value| {
        if let Some(x) = v.as_f64() {
            let mut l = base.to_vec();
            l.extend_from_slice(extra);
            out.insert(key(metric, &l), x);
        }
    };
    for (field, window, surface) in [
        ("daily_active_users", "1d", "all"),
        ("weekly_active_users", "7d", "all"),
        ("monthly_active_users", "28d", "all"),
        ("monthly_active_chat_users", "28d", "chat"),
        ("monthly_active_agent_users", "28d", "agent"),
        ("daily_active_cli_users", "1d", "cli"),
        (
            "daily_active_copilot_cloud_agent_users",
            "1d",
            "cloud_agent",
        ),
        (
            "weekly_active_copilot_cloud_agent_users",
            "7d",
            "cloud_agent",
        ),
        (
            "monthly_active_copilot_cloud_agent_users",
            "28d",
            "cloud_agent",
        ),
        (
            "daily_active_copilot_code_review_users",
            "1d",
            "code_review_active",
        ),
        (
            "weekly_active_copilot_code_review_users",
            "7d",
            "code_review_active",
        ),
        (
            "monthly_active_copilot_code_review_users",
            "28d",
            "code_review_active",
        ),
        (
            "daily_passive_copilot_code_review_users",
            "1d",
            "code_review_passive",
        ),
        (
            "weekly_passive_copilot_code_review_users",
            "7d",
            "code_review_passive",
        ),
        (
            "monthly_passive_copilot_code_review_users",
            "28d",
            "code_review_passive",
        ),
        ("daily_active_copilot_app_users", "1d", "copilot_app"),
    ] {
        put(
            "gh_copilot_active_users",
            &[("window", window), ("surface", surface)],
            &rec[field],
        );
    }
    let total = [
        ("breakdown", "total"),
        ("ide", ""),
        ("feature", ""),
        ("language", ""),
        ("model", ""),
    ];
    for c in COUNTERS.iter().chain(&["user_initiated_interaction_count"]) {
        put(&format!("gh_copilot_usage_{c}"), &total, &rec[c]);
    }
    for mode in ["agent", "ask", "edit", "plan", "custom", "unknown"] {
        put(
            "gh_copilot_chat_panel_interactions",
            &[("mode", mode)],
            &rec[format!("chat_panel_{mode}_mode")],
        );
    }
    for (k, v) in rec["pull_requests"].as_object().expect("pull_requests") {
        if let Some(kind) = k.strip_prefix("total_") {
            put("gh_copilot_pull_requests", &[("kind", kind)], v);
        }
    }
    for (field, kind) in [
        ("median_minutes_to_merge", "all"),
        (
            "median_minutes_to_merge_copilot_authored",
            "copilot_authored",
        ),
        (
            "median_minutes_to_merge_copilot_reviewed",
            "copilot_reviewed",
        ),
    ] {
        put(
            "gh_copilot_pull_requests_median_minutes_to_merge",
            &[("kind", kind)],
            &rec["pull_requests"][field],
        );
    }
    let cli = &rec["totals_by_cli"];
    put("gh_copilot_cli_sessions", &[], &cli["session_count"]);
    put("gh_copilot_cli_requests", &[], &cli["request_count"]);
    put("gh_copilot_cli_prompts", &[], &cli["prompt_count"]);
    put(
        "gh_copilot_cli_tokens",
        &[("kind", "prompt")],
        &cli["token_usage"]["prompt_tokens_sum"],
    );
    put(
        "gh_copilot_cli_tokens",
        &[("kind", "output")],
        &cli["token_usage"]["output_tokens_sum"],
    );
    for (report, d) in [("organization-28-day", END), ("organization-1-day", LATEST)] {
        let mut l = base.to_vec();
        l.push(("report", report));
        out.insert(
            key("gh_copilot_report_day_timestamp_seconds", &l),
            (d * 86_400) as f64,
        );
    }
}

/// With the default settings the truth of every org is exactly what its latest 1-day file
/// (yesterday) yields, plus seats; an org set to 403/404 has no series and answers so on every
/// Copilot endpoint until the knobs are reset.
#[tokio::test]
async fn default_truth_equals_the_latest_one_day_file_and_knobs_hide_orgs() {
    let fake = spawn(config());
    let (base, c) = (fake.base_url(), client());
    let orgs = fake.org_names();
    let all = truth(&c, &base, "").await;
    for org in &orgs {
        let one = links(
            &c,
            &org_url(
                &base,
                org,
                &format!("organization-1-day?day={}", day(LATEST)),
            ),
        )
        .await;
        let rec = values(&download_all(&c, &one).await[0])
            .pop()
            .expect("record");
        let mut want = BTreeMap::new();
        expected_from_record(org, &rec, &mut want);
        let got: BTreeMap<Key, f64> = all
            .iter()
            .filter(|((m, l), _)| l["org"] == *org && m != "gh_copilot_seats")
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        assert_eq!(got, want, "org {org}");
        assert!(rec["pull_requests"]["total_created"].as_u64() > Some(0));
    }
    assert!(
        all.keys().all(|(_, l)| l["scope"] == "organization"),
        "no enterprise by default"
    );

    knobs(
        &c,
        &base,
        json!({"org_status": {orgs[0].clone(): 403, orgs[1].clone(): 404}}),
    )
    .await;
    for (org, status) in [(&orgs[0], 403), (&orgs[1], 404)] {
        for url in [
            org_url(&base, org, "organization-28-day/latest"),
            org_url(&base, org, "users-28-day/latest"),
            org_url(
                &base,
                org,
                &format!("organization-1-day?day={}", day(LATEST)),
            ),
            format!("{base}/orgs/{org}/copilot/billing/seats"),
        ] {
            assert_eq!(get(&c, &url).await.status(), status, "{url}");
        }
    }
    assert!(truth(&c, &base, "").await.is_empty());
    knobs(&c, &base, json!({"org_status": {orgs[0].clone(): 200}})).await;
    let t = truth(&c, &base, "").await;
    assert!(!t.is_empty() && t.keys().all(|(_, l)| l["org"] == orgs[0]));
}

fn sum_by(t: &BTreeMap<Key, f64>, metric: &str, breakdown: &str) -> f64 {
    t.iter()
        .filter(|((m, l), _)| m == metric && l["breakdown"] == breakdown)
        .map(|(_, v)| v)
        .sum()
}

/// With every breakdown on, each breakdown adds up to the total (capped or not); the cap keeps
/// `max_label_values` names per dimension plus `other`; the world has more than 50 languages.
#[tokio::test]
async fn breakdowns_add_up_to_the_total_and_the_cap_folds_into_other() {
    let fake = spawn(FakeConfig {
        users: 40,
        ..config()
    });
    let (base, c) = (fake.base_url(), client());
    let all = "include_breakdown_ide=true&include_breakdown_feature=true&include_breakdown_language=true&include_breakdown_model=true";
    let uncapped = truth(&c, &base, &format!("{all}&max_label_values=0")).await;
    let capped = truth(&c, &base, &format!("{all}&max_label_values=3")).await;
    for t in [&uncapped, &capped] {
        for counter in COUNTERS {
            let metric = format!("gh_copilot_usage_{counter}");
            let total = sum_by(t, &metric, "total");
            assert!(total > 0.0);
            for b in [
                "ide",
                "feature",
                "language_feature",
                "language_model",
                "model_feature",
            ] {
                assert_eq!(sum_by(t, &metric, b), total, "{metric} by {b}");
            }
        }
        let metric = "gh_copilot_usage_user_initiated_interaction_count";
        let total = sum_by(t, metric, "total");
        for b in ["ide", "feature", "model_feature"] {
            assert_eq!(sum_by(t, metric, b), total, "{metric} by {b}");
        }
        assert_eq!(sum_by(t, metric, "language_model"), 0.0, "no such series");
    }
    let names = |t: &BTreeMap<Key, f64>, label: &str| -> BTreeSet<String> {
        t.keys()
            .filter(|(_, l)| l.get("org") == Some(&fake.org_names()[0]))
            .filter_map(|(_, l)| l.get(label).cloned())
            .filter(|v| !v.is_empty())
            .collect()
    };
    for label in ["language", "model", "feature"] {
        let capped_names = names(&capped, label);
        assert!(names(&uncapped, label).len() > 4, "{label}");
        assert_eq!(capped_names.len(), 4, "{label}: {capped_names:?}");
        assert!(capped_names.contains("other"));
    }
    let languages = names(&uncapped, "language").len();
    assert!(
        languages > 50,
        "{languages} languages in the first org's latest day"
    );
    let r = c
        .get(format!(
            "{base}/_fake/copilot/truth?include_breakdown_ide=yes"
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let r = c
        .get(format!("{base}/_fake/copilot/truth?user_label_mode=hashed"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400, "hashed needs a salt");
}

/// Per-user truth equals each user's latest row of the downloaded users-28-day files, in every
/// label mode; `max_users_per_report` keeps the first N users in file order; `emit_day_label`
/// labels with the row's day.
#[tokio::test]
async fn user_truth_equals_latest_rows_in_every_label_mode() {
    let fake = spawn(config());
    let (base, c) = (fake.base_url(), client());
    let org = &fake.org_names()[0];
    let mut rows = Vec::new();
    for f in download_all(
        &c,
        &links(&c, &org_url(&base, org, "users-28-day/latest")).await,
    )
    .await
    {
        rows.extend(ndjson(&f).0);
    }
    let mut order: Vec<String> = Vec::new();
    let mut latest: BTreeMap<String, Value> = BTreeMap::new();
    for r in rows {
        let login = r["user_login"].as_str().expect("login").to_string();
        if !order.contains(&login) {
            order.push(login.clone());
        }
        let newer = latest
            .get(&login)
            .is_none_or(|p| p["day"].as_str() <= r["day"].as_str());
        if newer {
            latest.insert(login, r);
        }
    }
    let salt = "pepper";
    for mode in ["login", "id", "hashed", "none"] {
        let t = truth(
            &c,
            &base,
            &format!("include_org_users_28d=true&user_label_mode={mode}&user_label_salt={salt}"),
        )
        .await;
        let mut want: BTreeMap<Key, f64> = BTreeMap::new();
        for (login, r) in &latest {
            let user = match mode {
                "login" => Some(login.clone()),
                "id" => Some(r["user_id"].as_u64().expect("id").to_string()),
                "hashed" => Some(fake_github::copilot::truth::hashed_user(salt, login)),
                _ => None,
            };
            let mut l = vec![("scope", "organization"), ("org", org.as_str())];
            if let Some(u) = &user {
                l.push(("user", u));
            }
            for cnt in COUNTERS.iter().chain(&["user_initiated_interaction_count"]) {
                *want
                    .entry(key(&format!("gh_copilot_user_{cnt}"), &l))
                    .or_default() += r[cnt].as_f64().expect("counter");
            }
            let d = fake_github::timefmt::parse_iso(r["day"].as_str().expect("day")).expect("day");
            let e = want
                .entry(key("gh_copilot_user_last_active_day_timestamp_seconds", &l))
                .or_default();
            *e = e.max(d);
        }
        let got: BTreeMap<Key, f64> = t
            .into_iter()
            .filter(|((m, l), _)| m.starts_with("gh_copilot_user_") && l["org"] == *org)
            .collect();
        assert_eq!(got, want, "mode {mode}");
    }
    // Known answer: `printf pepperalice | sha256sum | cut -c1-16`.
    assert_eq!(
        fake_github::copilot::truth::hashed_user(salt, "alice"),
        "b1b68da447843a65"
    );

    let t = truth(
        &c,
        &base,
        "include_org_users_28d=true&max_users_per_report=2&emit_day_label=true",
    )
    .await;
    let users: BTreeSet<String> = t
        .keys()
        .filter(|(m, l)| m == "gh_copilot_user_loc_added_sum" && l["org"] == *org)
        .map(|(_, l)| {
            assert_eq!(l["day"], latest[&l["user"]]["day"].as_str().expect("day"));
            l["user"].clone()
        })
        .collect();
    assert_eq!(users, order[..2].iter().cloned().collect());
    assert!(t.contains_key(&key(
        "gh_copilot_report_day_timestamp_seconds",
        &[
            ("scope", "organization"),
            ("org", org),
            ("report", "users-28-day"),
            ("day", &day(END))
        ]
    )));
}

/// Faults apply to report, seats and download routes.
#[tokio::test]
async fn faults_apply_to_copilot_routes_and_downloads() {
    let fake = spawn(config());
    let (base, c) = (fake.base_url(), client());
    let org = &fake.org_names()[0];
    let url = org_url(&base, org, "users-28-day/latest");
    let resp = links(&c, &url).await;
    let link = resp["download_links"][0]
        .as_str()
        .expect("link")
        .to_string();
    for (regex, status) in [
        ("^/_blob/copilot/", 503),
        ("/copilot/billing/seats$", 502),
        ("/copilot/metrics/reports/users-28-day/latest$", 500),
    ] {
        let r = c
            .post(format!("{base}/_fake/faults"))
            .json(&json!({"path_regex": regex, "status": status, "count": 1}))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 201);
    }
    assert_eq!(c.get(&link).send().await.expect("send").status(), 503);
    let streamed = download(&c, &link).await;
    assert!(!streamed.is_empty());
    // A fault that only delays makes the fake build the file in memory: same bytes.
    let r = c
        .post(format!("{base}/_fake/faults"))
        .json(&json!({"path_regex": "^/_blob/copilot/", "delay_ms": 1, "count": 1}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    assert_eq!(download(&c, &link).await, streamed);
    assert_eq!(fake.faults_served().get("delay"), Some(&1));
    let seats = format!("{base}/orgs/{org}/copilot/billing/seats");
    assert_eq!(get(&c, &seats).await.status(), 502);
    assert_eq!(get(&c, &url).await.status(), 500);
    assert_eq!(get(&c, &url).await.status(), 200);
}

const ENT_APP: u64 = 5151;
const ORG_APP: u64 = 4242;

fn jwt(key_pem: &str, iss: u64, now: f64) -> String {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    let key = EncodingKey::from_rsa_pem(key_pem.as_bytes()).expect("test key parses");
    encode(
        &Header::new(Algorithm::RS256),
        &json!({"iss": iss, "iat": now as i64 - 30, "exp": now as i64 + 500}),
        &key,
    )
    .expect("signs")
}

async fn token(c: &reqwest::Client, base: &str, installation: u64, jwt: &str) -> Option<String> {
    let r = c
        .post(format!(
            "{base}/app/installations/{installation}/access_tokens"
        ))
        .header("authorization", format!("Bearer {jwt}"))
        .send()
        .await
        .expect("send");
    if r.status() != 201 {
        return None;
    }
    let body: Value = r.json().await.expect("json");
    body["token"].as_str().map(str::to_string)
}

/// The enterprise has its own App and installation: only that App's JWT gets its token, which
/// reads only enterprise reports (and org tokens only their org); its reports count every seat
/// holder of every org once.
#[tokio::test]
async fn enterprise_reports_use_their_own_installation_and_dedupe_users() {
    let fake = spawn(FakeConfig {
        app: Some(AppAuth {
            app_id: ORG_APP,
            public_key_pem: include_str!("../testdata/app_public_key.pem").to_string(),
        }),
        enterprise_app: Some(AppAuth {
            app_id: ENT_APP,
            public_key_pem: include_str!("../testdata/enterprise_app_public_key.pem").to_string(),
        }),
        users: 10,
        ..config()
    });
    let (base, c) = (fake.base_url(), client());
    let orgs = fake.org_names();
    let slug = fake.enterprise_slug();
    let ent_inst = fake.enterprise_installation_id();
    let info: Value = c
        .get(format!("{base}/_fake/info"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(info["enterprise"]["installation_id"], ent_inst);
    assert_eq!(info["enterprise"]["app_id"], ENT_APP);
    let now = fake.now();
    let ent_jwt = jwt(
        include_str!("../testdata/enterprise_app_private_key.pem"),
        ENT_APP,
        now,
    );
    let org_jwt = jwt(
        include_str!("../testdata/app_private_key.pem"),
        ORG_APP,
        now,
    );
    let org_inst = fake.installation_id(&orgs[0]).expect("installation");
    assert!(token(&c, &base, ent_inst, &org_jwt).await.is_none());
    assert!(token(&c, &base, org_inst, &ent_jwt).await.is_none());
    let ent_token = token(&c, &base, ent_inst, &ent_jwt)
        .await
        .expect("enterprise token");
    let org_token = token(&c, &base, org_inst, &org_jwt)
        .await
        .expect("org token");

    let ent = |rest: &str| format!("{base}/enterprises/{slug}/copilot/metrics/reports/{rest}");
    let with = |t: &str, url: String| {
        let (c, t) = (c.clone(), t.to_string());
        async move {
            c.get(url)
                .header("authorization", format!("token {t}"))
                .send()
                .await
                .expect("send")
        }
    };
    assert_eq!(
        with(&ent_token, ent("enterprise-28-day/latest"))
            .await
            .status(),
        200
    );
    assert_eq!(
        with(&org_token, ent("enterprise-28-day/latest"))
            .await
            .status(),
        404
    );
    assert_eq!(
        with(
            &ent_token,
            org_url(&base, &orgs[0], "organization-28-day/latest")
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        with(
            &org_token,
            org_url(&base, &orgs[0], "organization-28-day/latest")
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        with(
            &org_token,
            org_url(&base, &orgs[1], "organization-28-day/latest")
        )
        .await
        .status(),
        404
    );
    let r = with(
        &ent_token,
        ent(&format!("enterprise-1-day?day={}", day(TODAY))),
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        get(
            &c,
            &format!("{base}/enterprises/nope/copilot/metrics/reports/enterprise-28-day/latest")
        )
        .await
        .status(),
        404
    );

    // Users: every (user, day) once, and the union of the orgs' users.
    let mut ent_rows = BTreeSet::new();
    let r: Value = with(&ent_token, ent("users-28-day/latest"))
        .await
        .json()
        .await
        .expect("json");
    for f in download_all(&c, &r).await {
        for row in ndjson(&f).0 {
            assert!(row.get("organization_id").is_none());
            let k = (row["user_login"].to_string(), row["day"].to_string());
            assert!(ent_rows.insert(k), "deduplicated");
        }
    }
    let mut org_rows = BTreeSet::new();
    for org in &orgs {
        let r = links(&c, &org_url(&base, org, "users-28-day/latest")).await;
        for f in download_all(&c, &r).await {
            for row in ndjson(&f).0 {
                org_rows.insert((row["user_login"].to_string(), row["day"].to_string()));
            }
        }
    }
    assert_eq!(ent_rows, org_rows);

    // The enterprise truth: the latest enterprise-1-day record.
    let t = truth(
        &c,
        &base,
        "include_enterprise_28d=true&include_seats=false&include_org_28d=false",
    )
    .await;
    let r: Value = with(
        &ent_token,
        ent(&format!("enterprise-1-day?day={}", day(LATEST))),
    )
    .await
    .json()
    .await
    .expect("json");
    let rec = values(&download_all(&c, &r).await[0])
        .pop()
        .expect("record");
    let total = key(
        "gh_copilot_usage_code_generation_activity_count",
        &[
            ("scope", "enterprise"),
            ("org", &slug),
            ("breakdown", "total"),
            ("ide", ""),
            ("feature", ""),
            ("language", ""),
            ("model", ""),
        ],
    );
    assert_eq!(
        t.get(&total).copied(),
        rec["code_generation_activity_count"].as_f64()
    );
    assert!(t.keys().all(|(_, l)| l["scope"] == "enterprise"));
    assert!(t.contains_key(&key(
        "gh_copilot_report_day_timestamp_seconds",
        &[
            ("scope", "enterprise"),
            ("org", &slug),
            ("report", "enterprise-1-day")
        ]
    )));
}

/// Each flag gates its families: no org reports without `include_org_28d`, no pull-request
/// families without `include_pull_request_activity`, no seats without `include_seats`;
/// `emit_day_label` labels every report family with its day and never seats; the enterprise
/// set to 403 disappears from the truth and answers 403.
#[tokio::test]
async fn flags_gate_families_and_day_labels_skip_seats() {
    let fake = spawn(config());
    let (base, c) = (fake.base_url(), client());
    let metrics =
        |t: &BTreeMap<Key, f64>| -> BTreeSet<String> { t.keys().map(|(m, _)| m.clone()).collect() };
    let default = truth(&c, &base, "").await;
    assert!(metrics(&default).contains("gh_copilot_pull_requests"));
    assert!(metrics(&default).contains("gh_copilot_seats"));
    assert!(!metrics(&default)
        .iter()
        .any(|m| m.starts_with("gh_copilot_user_")));

    let no_reports = truth(&c, &base, "include_org_28d=false").await;
    assert_eq!(
        metrics(&no_reports),
        BTreeSet::from(["gh_copilot_seats".to_string()])
    );
    let no_pr = truth(
        &c,
        &base,
        "include_pull_request_activity=false&include_seats=false",
    )
    .await;
    assert!(!metrics(&no_pr)
        .iter()
        .any(|m| m.contains("pull_requests") || m == "gh_copilot_seats"));
    assert!(metrics(&no_pr).contains("gh_copilot_active_users"));

    let dated = truth(&c, &base, "emit_day_label=true&include_org_users_28d=true").await;
    for (m, l) in dated.keys() {
        assert_eq!(m != "gh_copilot_seats", l.contains_key("day"), "{m} {l:?}");
    }
    let active_days: BTreeSet<&String> = dated
        .keys()
        .filter(|(m, _)| m == "gh_copilot_active_users")
        .map(|(_, l)| &l["day"])
        .collect();
    assert_eq!(active_days, BTreeSet::from([&day(LATEST)]));

    let slug = fake.enterprise_slug();
    let ent = truth(
        &c,
        &base,
        "include_enterprise_28d=true&include_org_28d=false&include_seats=false",
    )
    .await;
    assert!(!ent.is_empty());
    knobs(&c, &base, json!({"enterprise_status": 403})).await;
    let url = format!("{base}/enterprises/{slug}/copilot/metrics/reports/enterprise-28-day/latest");
    assert_eq!(get(&c, &url).await.status(), 403);
    let ent = truth(
        &c,
        &base,
        "include_enterprise_28d=true&include_org_28d=false&include_seats=false",
    )
    .await;
    assert!(ent.is_empty());
    knobs(&c, &base, json!({"enterprise_status": 200})).await;
    assert_eq!(get(&c, &url).await.status(), 200);

    // `at` moves the truth's instant: a day later every report day is a day later.
    let org = &fake.org_names()[0];
    let report_day = |t: &BTreeMap<Key, f64>, report: &str| {
        t.get(&key(
            "gh_copilot_report_day_timestamp_seconds",
            &[("scope", "organization"), ("org", org), ("report", report)],
        ))
        .copied()
    };
    let later = truth(&c, &base, &format!("at={}", NOW + 86_400.0)).await;
    assert_eq!(
        report_day(&default, "organization-28-day"),
        Some((END * 86_400) as f64)
    );
    assert_eq!(
        report_day(&later, "organization-28-day"),
        Some(((END + 1) * 86_400) as f64)
    );
    assert_eq!(
        report_day(&later, "organization-1-day"),
        Some(((LATEST + 1) * 86_400) as f64)
    );

    // The in-process knob setter is the same state as the HTTP one.
    let state = fake
        .copilot_knobs(fake_github::copilot::knobs::KnobChange {
            malformed: Some(true),
            ..Default::default()
        })
        .expect("valid knobs");
    assert!(state.malformed);
    let seen: Value = c
        .get(format!("{base}/_fake/copilot"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(seen["malformed"], true);
}
