//! Each injectable fault kind: status, delay, malformed body, truncated body, endless body,
//! endless pagination, a `next` link to a foreign origin, connection reset, counted and cleared.

mod common;

use common::*;
use serde_json::{json, Value};

async fn add_fault(c: &reqwest::Client, base: &str, fault: Value) {
    let r = c
        .post(format!("{base}/_fake/faults"))
        .json(&fault)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201, "fault accepted: {fault}");
}

/// A status fault answers with that status `count` times, then the real answer returns; faults
/// never consume budget.
#[tokio::test]
async fn status_fault_fires_count_times() {
    let fake = spawn(config());
    let (base, c) = (fake.base_url(), client());
    let org = fake.org_names()[0].clone();
    add_fault(&c, &base, json!({"path_regex": "^/orgs/[^/]+/repos$", "status": 503, "count": 2, "delay_ms": 0, "body": null, "reset_connection": false})).await;
    for _ in 0..2 {
        let r = get(&c, &format!("{base}/api/v3/orgs/{org}/repos")).await;
        assert_eq!(r.status(), 503);
        let body: Value = r.json().await.expect("json error body");
        assert_eq!(body["message"], "Service Unavailable");
    }
    let r = get(&c, &format!("{base}/orgs/{org}/repos")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-ratelimit-used").as_deref(), Some("1"));
    assert_eq!(fake.requests().by_status.get("503"), Some(&2));
}

/// A malformed body is a complete response that is not JSON; a truncated one is cut short.
#[tokio::test]
async fn body_faults_break_the_json() {
    let fake = spawn(config());
    let (base, c) = (fake.base_url(), client());
    let org = fake.org_names()[0].clone();
    let url = format!("{base}/orgs/{org}/repos?per_page=5");
    let full = get(&c, &url).await.text().await.expect("body");
    add_fault(
        &c,
        &base,
        json!({"path_regex": "/repos$", "count": 1, "body": "malformed"}),
    )
    .await;
    let r = get(&c, &url).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("body");
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "malformed: {text}"
    );
    add_fault(
        &c,
        &base,
        json!({"path_regex": "/repos$", "count": 1, "body": "truncated"}),
    )
    .await;
    let text = get(&c, &url)
        .await
        .text()
        .await
        .expect("a complete HTTP body");
    assert_eq!(text, full[..full.len() / 2]);
    assert!(serde_json::from_str::<Value>(&text).is_err());
    assert_eq!(
        get(&c, &url).await.text().await.expect("body"),
        full,
        "faults used up"
    );
}

/// An endless body keeps streaming past any size (read here up to 8 MiB); endless pagination
/// always has a next page, past the real last one; both are counted as served.
#[tokio::test]
async fn endless_faults_never_end() {
    let fake = spawn(config());
    let (base, c) = (fake.base_url(), client());
    let org = fake.org_names()[0].clone();
    add_fault(
        &c,
        &base,
        json!({"path_regex": "^/orgs/[^/]+/repos$", "count": 1, "body": "endless"}),
    )
    .await;
    let mut r = get(&c, &format!("{base}/orgs/{org}/repos")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.content_length(), None, "chunked, no length");
    let mut read = 0usize;
    while read < 8 << 20 {
        let chunk = r.chunk().await.expect("chunk").expect("the body goes on");
        read += chunk.len();
    }
    drop(r);
    add_fault(
        &c,
        &base,
        json!({"path_regex": "^/orgs/[^/]+/repos$", "count": 3, "body": "endless_pages"}),
    )
    .await;
    let mut url = format!("{base}/orgs/{org}/repos?per_page=100");
    for page in 1..=3 {
        let r = get(&c, &url).await;
        assert_eq!(r.status(), 200);
        let link = header(&r, "link");
        url = next_link(link.as_deref()).expect("a next page, always");
        assert!(url.contains(&format!("page={}", page + 1)), "{url}");
    }
    let served = fake.faults_served();
    assert_eq!(served.get("endless"), Some(&1));
    assert_eq!(served.get("endless_pages"), Some(&3));
}

const FOREIGN: &str = "http://foreign-origin.invalid:9";

/// The parts of a `Link` header other than `rel="next"`.
fn other_rels(link: &str) -> Vec<&str> {
    link.split(", ")
        .filter(|p| !p.ends_with("; rel=\"next\""))
        .collect()
}

/// A foreign-next-link fault serves the real page with `rel="next"` moved to another origin
/// (same path and query; `prev`, `last`, `first` untouched), adds one on the only page (GHES
/// prefix kept), leaves non-200 answers alone, and is counted as served.
#[tokio::test]
async fn foreign_next_link_points_to_another_origin() {
    let fake = spawn(config());
    let (base, c) = (fake.base_url(), client());
    let org = fake.org_names()[0].clone();
    let repos: Vec<String> = repos_of(&c, &base, &org)
        .await
        .iter()
        .map(|r| r["name"].as_str().expect("name").to_string())
        .collect();
    // A repository whose commits take at least 3 pages of 2, and an empty one (409).
    let mut paged = None;
    let mut empty = None;
    for repo in &repos {
        let r = get(&c, &format!("{base}/repos/{org}/{repo}/commits?per_page=2")).await;
        match r.status().as_u16() {
            409 => empty = empty.or(Some(repo.clone())),
            200 if header(&r, "link").is_some_and(|l| !l.contains("page=2>; rel=\"last\"")) => {
                paged = paged.or(Some(repo.clone()))
            }
            _ => {}
        }
    }
    let (repo, empty) = (
        paged.expect("a repository with commits"),
        empty.expect("an empty repository"),
    );
    let path = format!("/repos/{org}/{repo}/commits");
    let url = format!("{base}{path}?per_page=2&page=2");

    let r = get(&c, &url).await;
    assert_eq!(r.status(), 200);
    let real_link = header(&r, "link").expect("a Link header");
    let real_body = r.text().await.expect("body");
    assert_eq!(
        next_link(Some(&real_link)),
        Some(format!("{base}{path}?per_page=2&page=3")),
        "without the fault the next page is on the fake"
    );

    add_fault(
        &c,
        &base,
        json!({"path_regex": "^/repos/[^/]+/[^/]+/commits$", "count": 1, "body": "foreign_next_link"}),
    )
    .await;
    let r = get(&c, &url).await;
    assert_eq!(r.status(), 200);
    let link = header(&r, "link").expect("a Link header");
    assert_eq!(r.text().await.expect("body"), real_body, "the real page");
    assert_eq!(
        next_link(Some(&link)),
        Some(format!("{FOREIGN}{path}?per_page=2&page=3"))
    );
    assert_eq!(other_rels(&link), other_rels(&real_link));
    let rels: Vec<&str> = link
        .split(", ")
        .filter_map(|p| p.split_once("; "))
        .map(|(_, r)| r)
        .collect();
    assert_eq!(
        rels,
        [
            "rel=\"prev\"",
            "rel=\"next\"",
            "rel=\"last\"",
            "rel=\"first\""
        ]
    );
    assert_eq!(fake.faults_served().get("foreign_next_link"), Some(&1));
    assert_eq!(
        header(&get(&c, &url).await, "link").as_deref(),
        Some(real_link.as_str()),
        "fault used up: the real Link again"
    );

    // The only page (no Link at all normally) gets a foreign next page, under /api/v3 too.
    let only = format!("/api/v3/orgs/{org}/repos?per_page=100");
    assert_eq!(
        header(&get(&c, &format!("{base}{only}")).await, "link"),
        None
    );
    add_fault(
        &c,
        &base,
        json!({"path_regex": "^/orgs/[^/]+/repos$|/commits$", "count": 3, "body": "foreign_next_link"}),
    )
    .await;
    let r = get(&c, &format!("{base}{only}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "link"),
        Some(format!("<{FOREIGN}{only}&page=2>; rel=\"next\""))
    );
    // The last page gets one too, to the page after it, between `prev` and `first`.
    let last: usize = real_link
        .split(", ")
        .find_map(|p| p.strip_suffix(">; rel=\"last\""))
        .and_then(|u| u.rsplit_once("page="))
        .and_then(|(_, n)| n.parse().ok())
        .expect("the last page number");
    let r = get(&c, &format!("{base}{path}?per_page=2&page={last}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "link"),
        Some(format!(
            "<{base}{path}?per_page=2&page={}>; rel=\"prev\", <{FOREIGN}{path}?per_page=2&page={}>; rel=\"next\", <{base}{path}?per_page=2&page=1>; rel=\"first\"",
            last - 1,
            last + 1
        ))
    );
    // A non-200 answer is left alone.
    let r = get(&c, &format!("{base}/repos/{org}/{empty}/commits")).await;
    assert_eq!(r.status(), 409);
    assert_eq!(header(&r, "link"), None);
    assert_eq!(fake.faults_served().get("foreign_next_link"), Some(&4));
}

/// A reset fault drops the connection without a response: the client sees a transport error.
#[tokio::test]
async fn reset_fault_breaks_the_connection() {
    let fake = spawn(config());
    let (base, c) = (fake.base_url(), client());
    add_fault(
        &c,
        &base,
        json!({"path_regex": "^/meta$", "count": 1, "reset_connection": true}),
    )
    .await;
    let err = c.get(format!("{base}/meta")).send().await;
    assert!(err.is_err(), "expected a transport error, got {err:?}");
    assert_eq!(
        c.get(format!("{base}/meta"))
            .send()
            .await
            .expect("next request works")
            .status(),
        200
    );
}

/// A delay-only fault delays the real answer; unlimited faults last until cleared.
#[tokio::test]
async fn delay_fault_delays_and_clear_removes_faults() {
    let fake = spawn(config());
    let (base, c) = (fake.base_url(), client());
    add_fault(&c, &base, json!({"path_regex": "^/meta$", "delay_ms": 300})).await;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        assert_eq!(
            c.get(format!("{base}/meta"))
                .send()
                .await
                .expect("send")
                .status(),
            200
        );
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(300),
            "delayed"
        );
    }
    let listed: Vec<Value> = c
        .get(format!("{base}/_fake/faults"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        c.delete(format!("{base}/_fake/faults"))
            .send()
            .await
            .expect("send")
            .status(),
        204
    );
    let listed: Vec<Value> = c
        .get(format!("{base}/_fake/faults"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert!(listed.is_empty());
    let r = c
        .post(format!("{base}/_fake/faults"))
        .json(&json!({"path_regex": "(", "status": 500}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400, "invalid regex refused");
}
