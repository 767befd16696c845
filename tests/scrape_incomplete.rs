//! A listing cut short is never a complete number. A reverse proxy in front of GitHub (or GHES)
//! that does not rewrite `Link` headers points `rel="next"` at another origin; the exporter
//! never follows it (the token must not leave), and nothing computed from the part it did read
//! is served as exact: the LOC of a repository whose fallback commit listing was cut short is
//! not served and is marked incomplete, the failure goes to backfill, and once the listing
//! reads to its end again the values equal the truth.

mod scrape_support;

use std::time::Duration;

use scrape_support::{
    clear_faults, diff, env_for, fake, inject, push_race_only, requests_to, truth, wait_for,
    wait_for_backfill_requests, wait_for_truth, Exporter,
};

const DEADLINE: Duration = Duration::from_secs(60);

fn is_loc(metric: &str) -> bool {
    metric.starts_with("gh_activity_loc_")
}

/// The fake's large repository is in the commit fallback (stats report zero lines); its
/// commit listing answers with a `next` link to another origin. While that lasts, no LOC
/// value of that repository is served and `gh_exporter_loc_fallback_incomplete` is 1 at every
/// sample; every other repository's LOC equals the truth; the failure is handed to backfill.
/// Once the proxy is fixed, the repository's LOC equals the truth.
#[test]
fn a_commit_listing_cut_short_is_never_served_as_exact() {
    let fake = fake(1, 10, 8, |c| {
        c.secondary.burst_max = 0;
        c.stats_compute_calls = 0;
    });
    let org = fake.org_names()[0].clone();
    let repo = fake
        .large_repos(&org)
        .into_iter()
        .next()
        .expect("the fake has a large repository");
    let path = format!("^/repos/{org}/{repo}/commits$").replace('.', "\\.");
    inject(
        &fake,
        &format!(r#"{{"path_regex": "{path}", "body": "foreign_next_link"}}"#),
    );
    let exporter = Exporter::start(fake.clone(), env_for(&fake, &[]));
    let labels = [("org", org.as_str()), ("repo", repo.as_str())];

    // The fallback asked for the week's commits and was answered with a foreign next link,
    // at least twice (a later round retried), through REST.
    let served = |kind: &str| fake.faults_served().get(kind).copied().unwrap_or(0);
    let mut samples = 0;
    wait_for(&exporter, "the cut listing retried", DEADLINE, |m| {
        let in_fallback = m.get(
            "gh_exporter_loc_source_mode",
            &[("mode", "sampled_commit_stats"), labels[0], labels[1]],
        ) == Some(1.0);
        if in_fallback {
            // At every sample: nothing of the repository's LOC is served as exact.
            samples += 1;
            let loc: Vec<_> = m
                .activity(&org)
                .into_iter()
                .filter(|((metric, r, _), _)| is_loc(metric) && *r == repo)
                .collect();
            assert!(loc.is_empty(), "LOC served from a cut listing: {loc:?}");
            assert_eq!(
                m.get("gh_exporter_loc_fallback_incomplete", &labels),
                Some(1.0),
                "the repository is marked incomplete"
            );
        }
        in_fallback && served("foreign_next_link") >= 2
    });
    assert!(samples >= 1, "the fallback state was sampled");
    assert!(
        requests_to(&fake, "GET /repos/{owner}/{repo}/commits") >= 2,
        "the LOC fallback listed commits over REST"
    );
    assert!(
        wait_for_backfill_requests(&exporter, "fallback_list_commits_failed", 1.0) >= 1.0,
        "the failed listing went to backfill"
    );
    // Every other repository's LOC equals the truth meanwhile.
    let m = exporter.metrics();
    let at = m.window_end(&org).expect("a cycle was served");
    let others = |series: std::collections::BTreeMap<(String, String, String), f64>| {
        series
            .into_iter()
            .filter(|((metric, r, _), _)| is_loc(metric) && *r != repo)
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let expected = others(truth(&fake, &org, at));
    assert!(!expected.is_empty(), "other repositories have LOC");
    let problems = diff(&others(m.activity(&org)), &expected);
    // (A push landing between the cycle's `now` and its listing may be counted early: see
    // `push_race_only`; the final comparison below is exact.)
    assert!(
        problems.is_empty() || push_race_only(&problems),
        "{problems:#?}"
    );

    // The proxy is fixed: the next round reads the listing to its end.
    clear_faults(&fake);
    let m = wait_for_truth(&exporter, &fake, fake.now(), DEADLINE);
    assert!(
        m.activity(&org)
            .keys()
            .any(|(metric, r, _)| is_loc(metric) && *r == repo),
        "the repository's LOC is served once complete"
    );
    assert_eq!(
        m.get("gh_exporter_loc_fallback_incomplete", &labels),
        Some(0.0)
    );
    exporter.stop();
}

/// The same for activity: over REST (GraphQL answers 404, like an old GHES), one repository's
/// commit listing answers with a `next` link to another origin. While that lasts the
/// repository is marked `gh_exporter_activity_incomplete 1` at every sample, the failure goes
/// to backfill, and every other repository equals the truth; once the listing reads to its end,
/// everything equals the truth and nothing is marked incomplete.
#[test]
fn an_activity_listing_cut_short_is_marked_incomplete() {
    let fake = fake(1, 10, 8, |c| {
        c.secondary.burst_max = 0;
        c.stats_compute_calls = 0;
    });
    let org = fake.org_names()[0].clone();
    let large = fake.large_repos(&org);
    let repo = truth(&fake, &org, fake.now())
        .into_iter()
        .find(|((metric, r, _), v)| {
            metric == "gh_activity_commits_24h" && *v > 0.0 && !large.contains(r)
        })
        .map(|((_, r, _), _)| r)
        .expect("a repository with commits in the window");
    inject(&fake, r#"{"path_regex": "^/graphql$", "status": 404}"#);
    let path = format!("^/repos/{org}/{repo}/commits$").replace('.', "\\.");
    inject(
        &fake,
        &format!(r#"{{"path_regex": "{path}", "body": "foreign_next_link"}}"#),
    );
    let exporter = Exporter::start(fake.clone(), env_for(&fake, &[]));
    let labels = [("org", org.as_str()), ("repo", repo.as_str())];
    let served = |kind: &str| fake.faults_served().get(kind).copied().unwrap_or(0);

    let m = wait_for(
        &exporter,
        "two cycles over the cut listing",
        DEADLINE,
        |m| {
            if let Some(flag) = m.get("gh_exporter_activity_incomplete", &labels) {
                assert_eq!(
                    flag, 1.0,
                    "the repository is marked incomplete at every sample"
                );
            }
            m.get("gh_exporter_activity_incomplete", &labels).is_some()
                && served("foreign_next_link") >= 2
        },
    );
    assert!(
        requests_to(&fake, "GET /repos/{owner}/{repo}/commits") >= 2,
        "commits were listed over REST"
    );
    assert!(
        wait_for_backfill_requests(&exporter, "activity_commits_failed", 1.0) >= 1.0,
        "the failed listing went to backfill"
    );
    // Every other repository is complete and equals the truth.
    let at = m.window_end(&org).expect("a cycle was served");
    let not_repo = |series: std::collections::BTreeMap<(String, String, String), f64>| {
        series
            .into_iter()
            .filter(|((_, r, _), _)| *r != repo)
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let problems = diff(
        &not_repo(m.activity(&org)),
        &not_repo(truth(&fake, &org, at)),
    );
    assert!(
        problems.is_empty() || push_race_only(&problems),
        "{problems:#?}"
    );
    let marked: Vec<_> =
        m.0.iter()
            .filter(|((name, labels), v)| {
                name == "gh_exporter_activity_incomplete"
                    && **v == 1.0
                    && !labels.iter().any(|(k, v)| k == "repo" && *v == repo)
            })
            .collect();
    assert!(
        marked.is_empty(),
        "only the cut repository is marked: {marked:?}"
    );

    clear_faults(&fake);
    inject(&fake, r#"{"path_regex": "^/graphql$", "status": 404}"#);
    let m = wait_for_truth(&exporter, &fake, fake.now(), DEADLINE);
    let m = wait_for(&exporter, "the repository complete again", DEADLINE, |n| {
        n.get("gh_exporter_activity_incomplete", &labels) == Some(0.0)
            && n.window_end(&org) >= m.window_end(&org)
    });
    assert_eq!(m.get("gh_exporter_activity_incomplete", &labels), Some(0.0));
    exporter.stop();
}
