//! Lines of code off the critical path: activity is served while GitHub still computes the
//! contributor stats (202), and the LOC series appear as soon as it answers — within the same
//! scrape cycle, not one scrape interval later (the interval here is one hour).

mod scrape_support;

use std::time::Duration;

use scrape_support::{
    clear_faults, diff, env_for, fake, http_get, inject, truth, Exporter, Metrics,
};

const DEADLINE: Duration = Duration::from_secs(90);

fn is_loc(metric: &str) -> bool {
    metric.starts_with("gh_activity_loc_")
}

/// Polls `/metrics` until `check` passes or the deadline; panics with `what` and the last state.
fn wait_metrics(
    exporter: &Exporter,
    what: &str,
    mut check: impl FnMut(&Metrics) -> Result<(), String>,
) -> Metrics {
    let until = std::time::Instant::now() + DEADLINE;
    loop {
        let m = exporter.metrics();
        match check(&m) {
            Ok(()) => return m,
            Err(last) => assert!(
                std::time::Instant::now() < until,
                "timed out waiting for {what}: {last}"
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn healthz_waiting(exporter: &Exporter, org: &str) -> Option<u64> {
    let (_, body) = http_get(exporter.addr, "/healthz")?;
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    json["scrapes"][org]["loc_stats_waiting_repositories"].as_u64()
}

/// While every `stats/contributors` call answers 202, activity series equal the truth and no
/// LOC series is served; the repositories are counted as waiting (metric and `/healthz`), and
/// each LOC round asks again. Once GitHub answers, LOC series equal the truth after the same
/// single cycle (no second cycle ran: the interval is 1 h), and nothing waits any more.
#[test]
fn loc_series_follow_githubs_answer_without_another_cycle() {
    let fake = fake(1, 10, 8, |c| {
        c.secondary.burst_max = 0;
        c.stats_compute_calls = 0;
    });
    let org = fake.org_names()[0].clone();
    inject(
        &fake,
        r#"{"path_regex": "/stats/contributors$", "status": 202}"#,
    );
    let env = env_for(&fake, &[("GITHUB_STATS_GITHUB__SCRAPE_INTERVAL", "1h")]);
    let exporter = Exporter::start(fake.clone(), env);

    // Activity first: everything but LOC equals the truth at the served instant, while the
    // fake keeps answering 202 (served: at least two rounds over every repository).
    let mut repos = 0;
    let served = wait_metrics(&exporter, "activity while stats compute", |m| {
        let at = m.window_end(&org).ok_or("no cycle served")?;
        let expected: std::collections::BTreeMap<_, _> = truth(&fake, &org, at)
            .into_iter()
            .filter(|((metric, _, _), _)| !is_loc(metric))
            .collect();
        repos = expected
            .keys()
            .map(|(_, r, _)| r.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let problems = diff(&m.activity(&org), &expected);
        if !problems.is_empty() {
            return Err(format!(
                "{} differences, first {:?}",
                problems.len(),
                problems.first()
            ));
        }
        let accepted = fake.requests().by_status.get("202").copied().unwrap_or(0);
        if accepted < 2 * repos as u64 {
            return Err(format!("{accepted} answers of 202 so far"));
        }
        Ok(())
    });
    let window_end = served.window_end(&org).expect("window end");
    assert!(repos > 0, "the fake's truth has activity");
    assert!(
        served
            .activity(&org)
            .keys()
            .all(|(metric, _, _)| !is_loc(metric)),
        "no LOC series while GitHub computes"
    );
    let waiting = served
        .get(
            "gh_exporter_loc_stats_waiting_repositories",
            &[("org", &org)],
        )
        .expect("waiting gauge served");
    assert!(
        waiting >= 1.0,
        "repositories counted as waiting ({waiting})"
    );
    let health_waiting = healthz_waiting(&exporter, &org).expect("/healthz scrapes entry");
    assert!(
        health_waiting >= 1,
        "/healthz says how many wait ({health_waiting})"
    );

    // GitHub answers: LOC appears for the same cycle.
    clear_faults(&fake);
    let done = wait_metrics(&exporter, "LOC equal to the truth", |m| {
        let at = m.window_end(&org).ok_or("no cycle served")?;
        let problems = diff(&m.activity(&org), &truth(&fake, &org, at));
        if problems.is_empty() {
            Ok(())
        } else {
            let scrapes = exporter
                .get("/healthz")
                .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(&body).ok())
                .map(|json| json["scrapes"].to_string())
                .unwrap_or_default();
            let requests = fake.requests();
            Err(format!(
                "{} differences, first {:?}; /healthz scrapes {scrapes}; fake requests by status {:?}, by endpoint {:?}",
                problems.len(),
                problems.first(),
                requests.by_status,
                requests.by_endpoint,
            ))
        }
    });
    assert!(
        done.activity(&org)
            .keys()
            .any(|(metric, _, _)| is_loc(metric)),
        "LOC series served"
    );
    // The interval is 1 h and the wait above is bounded by DEADLINE: LOC did not wait for
    // another scrape interval. (A cycle a backfill job asks for may have run meanwhile — the
    // fake's large repositories can hand a capped LOC fallback week to backfill — so the
    // window may have moved, but never by an interval.)
    let moved = done.window_end(&org).unwrap_or(0.0) - window_end;
    assert!(
        (0.0..DEADLINE.as_secs_f64() + 5.0).contains(&moved),
        "no interval-driven cycle: window moved by {moved} s"
    );
    assert_eq!(
        done.get(
            "gh_exporter_loc_stats_waiting_repositories",
            &[("org", &org)]
        ),
        Some(0.0)
    );
    assert_eq!(healthz_waiting(&exporter, &org), Some(0));
    exporter.stop();
}
