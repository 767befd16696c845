//! End-to-end correctness: the exporter's `gh_activity_*` series equal the fake GitHub's truth
//! at each org's window end, with no extra series — after the first cycle, and after the fake's
//! clock advances so that events both arrive and leave the window.

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
    let requests = fake.requests();
    eprintln!("fake requests: {requests:?}");
    exporter.stop();
}
