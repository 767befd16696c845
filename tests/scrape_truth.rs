//! End-to-end correctness: the exporter's `gh_activity_*` series equal the fake GitHub's truth
//! at each org's window end, with no extra series — after the first cycle, and after the fake's
//! clock advances so that events both arrive and leave the window; through GraphQL, and over
//! REST alone.

mod scrape_support;

use scrape_support::*;

/// Every activity series equals the truth after the first cycle and after 6 h and 20 h advances.
#[test]
fn activity_series_equal_truth_as_the_clock_advances() {
    let fake = fake(3, 30, 20, |c| c.secondary.burst_max = 0);
    let exporter = Exporter::start(fake.clone(), env_for(&fake, &[]));
    let start = fake.now();
    assert_matches_truth(&exporter, &fake, start);
    for hours in [6.0, 20.0] {
        fake.advance_clock(hours * 3600.0);
        let after = fake.now();
        assert_matches_truth(&exporter, &fake, after);
    }
    // Exact through the economical path: GraphQL answered the org search (reviews and
    // comments included) and most commit listings; REST search and per-PR reviews were not
    // needed.
    let requests = fake.requests();
    eprintln!("fake requests: {requests:?}");
    assert!(requests_to(&fake, "POST /graphql") >= 3, "GraphQL was used");
    assert_eq!(requests_to(&fake, "GET /search/issues"), 0);
    assert_eq!(
        requests_to(
            &fake,
            "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews"
        ),
        0
    );
    assert_eq!(
        requests_to(&fake, "GET /repos/{owner}/{repo}/issues/comments"),
        0
    );
    exporter.stop();
}

/// The same with GraphQL unavailable (404, like an old GHES): REST alone is just as exact.
#[test]
fn activity_series_equal_truth_over_rest_alone() {
    let fake = fake(2, 30, 20, |c| c.secondary.burst_max = 0);
    inject(&fake, r#"{"path_regex": "^/graphql$", "status": 404}"#);
    let exporter = Exporter::start(fake.clone(), env_for(&fake, &[]));
    assert_matches_truth(&exporter, &fake, fake.now());
    fake.advance_clock(6.0 * 3600.0);
    assert_matches_truth(&exporter, &fake, fake.now());
    assert!(
        requests_to(&fake, "GET /search/issues") >= 2,
        "REST search answered"
    );
    assert!(
        requests_to(&fake, "POST /graphql") <= 2,
        "a 404 turns GraphQL off for good (one call per org)"
    );
    exporter.stop();
}
