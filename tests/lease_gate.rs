//! No GitHub call on behalf of an org without a live lease, at the client: a client of an
//! elected replica refuses calls outside any lease scope; under a lapsed or ended lease nothing
//! is sent; a listing whose lease lapses while a page is in flight is cancelled at the lapse
//! and its next page is never asked for. The fake's request counters show what reached it.

mod scrape_support;

use std::time::Duration;

use github_stats_exporter::github::client::{Client, ResponseLimits};
use github_stats_exporter::github::wire;
use gse_actors::election::validity::{under_lease, Lapsed, Validity};
use gse_actors::scrape::port::ApiErrorKind;
use scrape_support::*;

const ENDPOINT: &str = "GET /orgs/{org}/repos";

fn client(fake: &fake_github::FakeGithub, org: &str) -> Client {
    github_client(fake, org, ResponseLimits::default()).with_lease_required(true)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Lists the org's repositories, one per page.
async fn list(c: &Client, org: &str) -> Result<usize, gse_actors::scrape::port::ApiError> {
    let url = c
        .url(&format!("orgs/{org}/repos"), &[("per_page", "1")])
        .expect("url");
    let mut n = 0;
    c.paginate::<Vec<wire::Repo>>(ENDPOINT, url, "core", |page| {
        n += page.len();
        true
    })
    .await
    .map(|()| n)
}

#[test]
fn no_request_leaves_without_a_live_lease() {
    let fake = fake(1, 3, 5, |c| c.secondary.burst_max = 0);
    let org = fake.org_names()[0].clone();
    let c = client(&fake, &org);
    let rt = runtime();

    // Outside any lease scope (an elected replica): refused, nothing sent.
    let error = rt
        .block_on(list(&c, &org))
        .expect_err("refused outside a lease");
    assert_eq!(error.kind, ApiErrorKind::LeaseLapsed, "{error}");
    assert_eq!(requests_to(&fake, ENDPOINT), 0);

    // Under an ended lease: nothing starts.
    let ended = Validity::until(tokio::time::Instant::now() + Duration::from_secs(60));
    ended.end();
    let out = rt.block_on(under_lease(Some(ended), list(&c, &org)));
    assert_eq!(out.err(), Some(Lapsed));
    assert_eq!(requests_to(&fake, ENDPOINT), 0);

    // Under a live lease: the whole listing, one repository per page.
    let live = Validity::until(tokio::time::Instant::now() + Duration::from_secs(60));
    let listed = rt
        .block_on(under_lease(Some(live), list(&c, &org)))
        .expect("not lapsed")
        .expect("listed");
    let pages = requests_to(&fake, ENDPOINT);
    assert!(
        listed >= 2 && pages >= 2,
        "{listed} repositories in {pages} pages"
    );

    // The lease lapses while the first page is held 2 s by the fake: the listing is dropped at
    // the lapse (after ~300 ms, not 2 s) and its second page is never asked for.
    inject(
        &fake,
        r#"{"path_regex": "^/orgs/[^/]+/repos$", "delay_ms": 2000, "count": 1}"#,
    );
    let short = Validity::until(tokio::time::Instant::now() + Duration::from_millis(300));
    let started = std::time::Instant::now();
    let out = rt.block_on(under_lease(Some(short), list(&c, &org)));
    let took = started.elapsed();
    assert_eq!(out.err(), Some(Lapsed));
    assert!(
        took < Duration::from_millis(1900),
        "cancelled at the lapse, took {took:?}"
    );
    assert_eq!(
        fake.faults_served().get("delay"),
        Some(&1),
        "the page was held"
    );
    // The listing's future is gone (dropped at the lapse): once the held request is counted,
    // nothing else of it can ever reach the fake.
    wait_until_counted(&fake, pages + 1);
    assert_eq!(
        requests_to(&fake, ENDPOINT),
        pages + 1,
        "only the held first page reached the fake"
    );
}

/// Waits (≤ 5 s) until the fake has counted `n` repository listings.
fn wait_until_counted(fake: &fake_github::FakeGithub, n: u64) {
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while requests_to(fake, ENDPOINT) < n {
        assert!(
            std::time::Instant::now() < until,
            "the held request was counted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
