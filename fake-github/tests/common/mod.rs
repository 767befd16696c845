//! Helpers shared by the integration tests: start a fake on a free port with a fixed clock, and
//! a small HTTP client that follows GitHub's `Link` pagination.
#![allow(dead_code)] // Each test binary uses a different subset.

use fake_github::{Clock, FakeConfig, FakeGithub};
use serde_json::Value;

/// 2023-11-14T22:13:20.5Z, a Tuesday: mid-week, so the latest complete week is the one before.
pub const NOW: f64 = 1_700_000_000.5;
pub const TOKEN: &str = "test-token";

pub fn config() -> FakeConfig {
    FakeConfig {
        seed: 7,
        orgs: 2,
        repos: 10,
        users: 8,
        token: TOKEN.to_string(),
        rate_limit: 1_000_000,
        clock: Clock::Fixed(NOW),
        ..FakeConfig::default()
    }
}

pub fn spawn(config: FakeConfig) -> FakeGithub {
    FakeGithub::spawn(config).expect("the fake starts on a free port")
}

/// A plain-HTTP client. In a workspace build reqwest's features are unified with the exporter's
/// (`rustls-no-provider`), so a crypto provider must be installed even for plain HTTP.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .build()
        .expect("a plain HTTP client builds")
}

/// GET with the PAT.
pub async fn get(c: &reqwest::Client, url: &str) -> reqwest::Response {
    c.get(url)
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .expect("request reaches the fake")
}

pub fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(link: Option<&str>) -> Option<String> {
    link?.split(", ").find_map(|part| {
        let (url, rel) = part.split_once("; ")?;
        (rel == "rel=\"next\"").then(|| {
            url.trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// Every item of a paginated array endpoint, following `Link: rel="next"`.
pub async fn get_all(c: &reqwest::Client, url: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(url.to_string());
    while let Some(u) = next {
        let r = get(c, &u).await;
        assert_eq!(r.status(), 200, "GET {u}");
        next = next_link(header(&r, "link").as_deref());
        let page: Vec<Value> = r.json().await.expect("a JSON array");
        out.extend(page);
    }
    out
}

/// The first repository of the first org with the given predicate on `/_fake/info` order.
pub async fn repos_of(c: &reqwest::Client, base: &str, org: &str) -> Vec<Value> {
    get_all(c, &format!("{base}/orgs/{org}/repos?per_page=100")).await
}
