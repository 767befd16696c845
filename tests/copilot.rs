//! Copilot usage metrics end to end: the exporter (in-process `run_with`, on the fake's clock)
//! against the fake GitHub's Copilot report API, compared with `/_fake/copilot/truth` for the
//! same `copilot.*` settings — every `gh_copilot_*` series, no extra one. The default test
//! also serves several files per report, an expired download link, a 204 day and malformed
//! values, and checks that no download carried the GitHub token and that the activity series
//! still equal their truth.

mod common;
mod redis_common;
mod scrape_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_github::copilot::truth::Settings;
use fake_github::{AppAuth, FakeGithub};
use scrape_support::*;

type Series = BTreeMap<(String, Vec<(String, String)>), f64>;

/// The served `gh_copilot_*` series.
fn served(m: &Metrics) -> Series {
    m.0.iter()
        .filter(|((name, _), _)| name.starts_with("gh_copilot_"))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// The truth for the settings given as query pairs.
fn truth(fake: &FakeGithub, query: &[(&str, &str)]) -> Series {
    let query: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let settings = Settings::from_query(&query).expect("truth settings");
    fake.copilot_truth(&settings)
        .series
        .into_iter()
        .map(|s| ((s.metric, s.labels.into_iter().collect()), s.value))
        .collect()
}

/// Waits until the served `gh_copilot_*` series equal the truth; fails with the differences.
fn assert_copilot_truth(exporter: &Exporter, fake: &FakeGithub, query: &[(&str, &str)]) -> Metrics {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let m = exporter.metrics();
        let expected = truth(fake, query);
        let problems = diff(&served(&m), &expected);
        if problems.is_empty() {
            assert!(!expected.is_empty(), "the truth has series");
            return m;
        }
        assert!(
            Instant::now() < until,
            "gh_copilot_* never equalled the truth for {query:?}: {} differences, first: {:#?}",
            problems.len(),
            &problems[..problems.len().min(20)]
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `copilot.*` settings as environment variables, plus Copilot on.
fn copilot_env(fake: &FakeGithub, settings: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut extra: Vec<(String, String)> =
        vec![("GITHUB_STATS_COPILOT__ENABLED".into(), "true".into())];
    for (k, v) in settings {
        extra.push((
            format!("GITHUB_STATS_COPILOT__{}", k.to_ascii_uppercase()),
            v.to_string(),
        ));
    }
    let extra: Vec<(&str, &str)> = extra
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env_for(fake, &extra)
}

fn knobs(fake: &FakeGithub, body: &str) {
    let answer = http_send(fake.addr(), "POST", "/_fake/copilot", Some(body));
    assert_eq!(
        answer.as_ref().map(|a| a.0),
        Some(200),
        "knobs accepted: {answer:?}"
    );
}

fn small_fake() -> Arc<FakeGithub> {
    fake(2, 4, 12, |c| c.secondary.burst_max = 0)
}

/// Default settings: every `gh_copilot_*` series equals the truth, through three files per
/// report, one expired link, a 204 day and malformed values; no download carried the token;
/// activity series are untouched.
#[test]
fn copilot_series_equal_truth_with_default_settings() {
    let fake = small_fake();
    knobs(
        &fake,
        r#"{"files_per_report": 3, "expire_next_links": 1, "malformed": true}"#,
    );
    let exporter = Exporter::start(fake.clone(), copilot_env(&fake, &[]));
    let m = assert_copilot_truth(&exporter, &fake, &[]);

    let requests = fake.requests();
    eprintln!("fake requests: {requests:?}");
    assert_eq!(
        requests.download_requests_with_authorization, 0,
        "no download link ever saw the GitHub token"
    );
    let orgs = fake.org_names();
    // Three files per 28-day report, per org, plus the expired one asked again.
    let by_report = &requests.download_requests_by_report;
    assert!(
        by_report.get("organization-28-day").copied().unwrap_or(0) > 3 * orgs.len() as u64,
        "every file of every report downloaded, and the expired link re-issued: {by_report:?}"
    );
    let state = http_send(fake.addr(), "GET", "/_fake/copilot", None).expect("knobs");
    assert!(
        state.1.contains("\"expire_next_links\":0"),
        "the expired link was served: {}",
        state.1
    );
    // The probes stop at the first 204: one 200 (T-1) and one 204 (T) per org.
    assert_eq!(
        requests_to(
            &fake,
            "GET /orgs/{org}/copilot/metrics/reports/organization-1-day"
        ),
        2 * orgs.len() as u64,
        "1-day probes: {:?}",
        requests.by_endpoint
    );
    assert!(
        requests.by_status.get("204").copied().unwrap_or(0) >= orgs.len() as u64,
        "a 204 day was served: {:?}",
        requests.by_status
    );
    // The malformed value was skipped and counted, never fatal.
    for org in &orgs {
        assert!(
            m.get(
                "gh_exporter_copilot_records_skipped_total",
                &[
                    ("scope", "organization"),
                    ("org", org),
                    ("report", "organization-28-day"),
                    ("reason", "malformed"),
                ],
            )
            .is_some_and(|v| v >= 1.0),
            "malformed values of {org} counted"
        );
        assert!(
            m.get(
                "gh_exporter_github_requests_total",
                &[
                    ("org", org),
                    (
                        "endpoint",
                        "/orgs/{org}/copilot/metrics/reports/organization-28-day/latest",
                    ),
                    ("status_class", "2xx"),
                ],
            )
            .is_some_and(|v| v >= 1.0),
            "Copilot calls of {org} in the request counter"
        );
        assert!(
            m.get(
                "gh_exporter_copilot_runs_total",
                &[
                    ("scope", "organization"),
                    ("org", org),
                    ("result", "success")
                ],
            )
            .is_some_and(|v| v >= 1.0),
            "a successful run of {org}"
        );
        assert!(
            m.get(
                "gh_exporter_copilot_report_staleness_seconds",
                &[
                    ("scope", "organization"),
                    ("org", org),
                    ("report", "organization-1-day"),
                ],
            )
            .is_some(),
            "staleness of {org}"
        );
    }
    // The org's activity series are still exact (their own store partition).
    assert_matches_truth(&exporter, &fake, fake.now());
    exporter.stop();
}

/// Every breakdown, users by login, the label and user caps, the day label, no seats and no
/// pull requests.
#[test]
fn copilot_breakdowns_users_caps_and_day_label_equal_truth() {
    let fake = small_fake();
    let settings = [
        ("include_breakdown_ide", "true"),
        ("include_breakdown_feature", "true"),
        ("include_breakdown_language", "true"),
        ("include_breakdown_model", "true"),
        ("include_org_users_28d", "true"),
        ("include_pull_request_activity", "false"),
        ("include_seats", "false"),
        ("max_label_values", "2"),
        ("max_users_per_report", "5"),
        ("emit_day_label", "true"),
    ];
    knobs(&fake, r#"{"malformed": true}"#);
    let exporter = Exporter::start(fake.clone(), copilot_env(&fake, &settings));
    let m = assert_copilot_truth(&exporter, &fake, &settings);
    assert!(served(&m)
        .keys()
        .any(|(_, l)| l.iter().any(|(k, v)| k == "language" && v == "other")));
    assert!(!served(&m).keys().any(|(n, _)| n == "gh_copilot_seats"));
    let copilot = served(&m);
    for org in fake.org_names() {
        let users: std::collections::BTreeSet<&str> = copilot
            .keys()
            .filter(|(n, l)| {
                n == "gh_copilot_user_loc_added_sum"
                    && l.iter().any(|(k, v)| k == "org" && *v == org)
            })
            .flat_map(|(_, l)| {
                l.iter()
                    .filter(|(k, _)| k == "user")
                    .map(|(_, v)| v.as_str())
            })
            .collect();
        assert_eq!(users.len(), 5, "user cap of {org}: {users:?}");
    }
    assert!(
        m.sum(
            "gh_exporter_copilot_records_skipped_total",
            &[("report", "users-28-day"), ("reason", "malformed")]
        ) >= 1.0
    );
    assert!(
        m.sum(
            "gh_exporter_copilot_records_skipped_total",
            &[("report", "users-28-day"), ("reason", "user_cap")]
        ) >= 1.0
    );
    exporter.stop();
}

/// The user label modes id, hashed (salted) and none.
#[test]
fn copilot_user_label_modes_equal_truth() {
    for mode in [
        vec![("user_label_mode", "id")],
        vec![
            ("user_label_mode", "hashed"),
            ("user_label_salt", "pepper-1"),
        ],
        vec![("user_label_mode", "none")],
    ] {
        let fake = fake(1, 3, 8, |c| c.secondary.burst_max = 0);
        let mut settings = vec![("include_org_users_28d", "true")];
        settings.extend(mode.iter().copied());
        let exporter = Exporter::start(fake.clone(), copilot_env(&fake, &settings));
        let m = assert_copilot_truth(&exporter, &fake, &settings);
        if mode[0].1 == "hashed" {
            let body = exporter.get("/metrics").map(|r| r.1).unwrap_or_default();
            assert!(!body.contains("pepper-1"), "the salt never appears");
        }
        if mode[0].1 == "none" {
            assert!(served(&m)
                .keys()
                .all(|(_, l)| l.iter().all(|(k, _)| k != "user")));
        }
        exporter.stop();
    }
}

/// 403 on one org and 404 on the other: each is a visible `copilot.<org>` component state
/// with the reason, and neither serves a `gh_copilot_*` series (no zeros); activity goes on.
#[test]
fn copilot_403_and_404_are_visible_states_without_series() {
    let fake = small_fake();
    let orgs = fake.org_names();
    knobs(
        &fake,
        &format!(
            r#"{{"org_status": {{"{}": 403, "{}": 404}}}}"#,
            orgs[0], orgs[1]
        ),
    );
    let exporter = Exporter::start(fake.clone(), copilot_env(&fake, &[]));
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let health = exporter.get("/healthz").map(|r| r.1).unwrap_or_default();
        let seen = health.contains(&format!("copilot.{}", orgs[0]))
            && health.contains("403")
            && health.contains(&format!("copilot.{}", orgs[1]))
            && health.contains("404");
        if seen {
            break;
        }
        assert!(
            Instant::now() < until,
            "healthz never showed both: {health}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_matches_truth(&exporter, &fake, fake.now());
    let m = exporter.metrics();
    assert!(
        served(&m).is_empty(),
        "no gh_copilot_* series: {:?}",
        served(&m)
    );
    assert!(truth(&fake, &[]).is_empty());
    assert!(m.sum("gh_exporter_copilot_runs_total", &[("result", "error")]) >= 2.0);
    exporter.stop();
}

fn testdata(name: &str) -> String {
    format!("{}/fake-github/testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The enterprise scope on its own App credentials: enterprise 28-day and users reports equal
/// the truth beside the orgs' series (which use the token).
#[test]
fn copilot_enterprise_scope_equals_truth() {
    const ENTERPRISE_APP: u64 = 5151;
    let public = std::fs::read_to_string(testdata("app_public_key.pem")).expect("test key");
    let fake = fake(2, 3, 8, |c| {
        c.secondary.burst_max = 0;
        c.enterprise_app = Some(AppAuth {
            app_id: ENTERPRISE_APP,
            public_key_pem: public,
        });
    });
    let settings = [
        ("include_enterprise_28d", "true"),
        ("include_enterprise_users_28d", "true"),
    ];
    let mut env = copilot_env(&fake, &settings);
    for (k, v) in [
        (
            "GITHUB_STATS_COPILOT__ENTERPRISE__ENABLED",
            "true".to_string(),
        ),
        (
            "GITHUB_STATS_COPILOT__ENTERPRISE__SLUG",
            fake.enterprise_slug(),
        ),
        (
            "GITHUB_STATS_COPILOT__ENTERPRISE__APP_ID",
            ENTERPRISE_APP.to_string(),
        ),
        (
            "GITHUB_STATS_COPILOT__ENTERPRISE__INSTALLATION_ID",
            fake.enterprise_installation_id().to_string(),
        ),
        (
            "GITHUB_STATS_COPILOT__ENTERPRISE__PRIVATE_KEY_PATH",
            testdata("app_private_key.pem"),
        ),
    ] {
        env.push((k.to_string(), v));
    }
    let exporter = Exporter::start(fake.clone(), env);
    let m = assert_copilot_truth(&exporter, &fake, &settings);
    let slug = fake.enterprise_slug();
    assert!(
        served(&m)
            .keys()
            .any(|(n, l)| n == "gh_copilot_active_users"
                && l.contains(&("scope".to_string(), "enterprise".to_string()))
                && l.contains(&("org".to_string(), slug.clone()))),
        "enterprise series served"
    );
    assert!(!served(&m).keys().any(|(n, l)| n == "gh_copilot_seats"
        && l.contains(&("scope".to_string(), "enterprise".to_string()))));
    exporter.stop();
}

/// On the Redis store the Copilot series live in their own partition (`<org>/copilot`): both
/// they and the org's activity series equal their truth.
#[test]
fn copilot_series_equal_truth_on_the_redis_store() {
    let namespace = redis_common::unique_namespace("copilot");
    let _cleanup = redis_common::Cleanup {
        url: redis_common::SHARED_REDIS.to_string(),
        namespace: namespace.clone(),
    };
    let fake = small_fake();
    let mut env = copilot_env(&fake, &[("include_org_users_28d", "true")]);
    env.push((
        "GITHUB_STATS_STORE__REDIS_URL".into(),
        redis_common::SHARED_REDIS.into(),
    ));
    env.push(("GITHUB_STATS_STORE__NAMESPACE".into(), namespace.clone()));
    env.push((
        "GITHUB_STATS_STORE__METRIC_REFRESH_INTERVAL".into(),
        "1s".into(),
    ));
    let exporter = Exporter::start(fake.clone(), env);
    assert_copilot_truth(&exporter, &fake, &[("include_org_users_28d", "true")]);
    assert_matches_truth(&exporter, &fake, fake.now());
    exporter.stop();
}

/// A Copilot source for `org` of `fake` (token credential), as the actor runs it.
fn source(
    fake: &FakeGithub,
    org: &str,
    refresh_if_unchanged: bool,
) -> github_stats_exporter::copilot::fetch::Source {
    use github_stats_exporter::copilot::download::download_client;
    use github_stats_exporter::copilot::fetch::{RunSettings, Source};
    use github_stats_exporter::github::auth::Credential;
    use github_stats_exporter::github::client::{Client, RetrySettings};
    use github_stats_exporter::github::governor::{Governor, RateLimitSettings};
    use gse_actors::copilot::mapping::{MapSettings, Scope};
    let http = github_stats_exporter::github::http_client(Duration::from_secs(10), "test")
        .expect("http client");
    let base = url::Url::parse(&format!("{}/", fake.base_url())).expect("base url");
    let client = Client::new(
        http,
        base,
        org.to_string(),
        Arc::new(Credential::Token(secrecy::SecretString::from("fake-token"))),
        Arc::new(Governor::new(RateLimitSettings {
            min_remaining_threshold: 5,
            min_reset_buffer: Duration::from_secs(1),
            secondary_limit_backoff: Duration::from_secs(1),
            requests_per_minute: 0,
        })),
        RetrySettings {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            jitter: false,
        },
    );
    Source {
        scope: Scope {
            scope: "organization",
            org: org.to_string(),
        },
        github: Arc::new(client),
        download: download_client(Duration::from_secs(10), "test").expect("download client"),
        settings: Arc::new(RunSettings {
            map: MapSettings::default(),
            include_28d: true,
            include_users: true,
            include_seats: true,
            max_records: 0,
            max_users: 0,
            refresh_if_unchanged,
            max_value_bytes: 1 << 20,
            max_row_bytes: 1 << 20,
        }),
    }
}

fn downloads(fake: &FakeGithub, report: &str) -> u64 {
    fake.requests()
        .download_requests_by_report
        .get(report)
        .copied()
        .unwrap_or(0)
}

/// A report whose `report_end_day` did not move is not downloaded again (its series stay; the
/// 1-day probes still run) unless `refresh_if_report_unchanged`.
#[test]
fn an_unchanged_report_is_not_downloaded_again_unless_asked() {
    let fake = fake(1, 2, 6, |c| c.secondary.burst_max = 0);
    let org = fake.org_names()[0].clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for refresh in [false, true] {
        let source = source(&fake, &org, refresh);
        let first = runtime.block_on(source.run(Default::default(), fake.now()));
        assert!(first.problems.is_empty(), "{:?}", first.problems);
        const PROBE: &str = "GET /orgs/{org}/copilot/metrics/reports/organization-1-day";
        let (org28, users, probes) = (
            downloads(&fake, "organization-28-day"),
            downloads(&fake, "users-28-day"),
            requests_to(&fake, PROBE),
        );
        let second = runtime.block_on(source.run(first.memory.clone(), fake.now()));
        assert!(second.problems.is_empty(), "{:?}", second.problems);
        let again = |before: u64, report: &str| downloads(&fake, report) > before;
        assert_eq!(again(org28, "organization-28-day"), refresh);
        assert_eq!(again(users, "users-28-day"), refresh);
        assert!(requests_to(&fake, PROBE) > probes, "the 1-day probe runs");
        let series = |out: &gse_actors::copilot::run::RunOutput| {
            let mut all: Vec<String> = [&out.memory.org, &out.memory.users, &out.memory.seats]
                .into_iter()
                .flatten()
                .flat_map(|p| p.samples.iter().map(|s| format!("{s:?}")))
                .collect();
            all.sort();
            all
        };
        assert!(!series(&first).is_empty());
        assert_eq!(
            series(&first),
            series(&second),
            "the same series are served"
        );
    }
}

/// The real binary against the fake, the truth read over the fake's HTTP API: with three files
/// per report, an expired link and malformed values, `/metrics` serves exactly
/// `GET /_fake/copilot/truth`, and no download carried the token.
#[test]
fn binary_serves_exactly_the_copilot_truth() {
    let fake = small_fake();
    knobs(
        &fake,
        r#"{"files_per_report": 3, "expire_next_links": 2, "malformed": true}"#,
    );
    let base = format!("{}/", fake.base_url());
    let orgs = fake.org_names().join(",");
    let mut running = common::Running::start(&[
        ("GITHUB_STATS_GITHUB__API_BASE_URL", &base),
        ("GITHUB_STATS_GITHUB__TOKEN", "fake-token"),
        ("GITHUB_STATS_GITHUB__ORGS", &orgs),
        ("GITHUB_STATS_RATE_LIMIT__REQUESTS_PER_MINUTE", "6000"),
        ("GITHUB_STATS_COPILOT__ENABLED", "true"),
        ("GITHUB_STATS_COPILOT__INCLUDE_ORG_USERS_28D", "true"),
    ]);
    let truth_over_http = || -> Series {
        let (status, body) = http_get(
            fake.addr(),
            "/_fake/copilot/truth?include_org_users_28d=true",
        )
        .expect("truth answers");
        assert_eq!(status, 200, "{body}");
        let truth: serde_json::Value = serde_json::from_str(&body).expect("truth is JSON");
        truth["series"]
            .as_array()
            .expect("series")
            .iter()
            .map(|s| {
                let labels = s["labels"]
                    .as_object()
                    .expect("labels")
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect::<Vec<_>>();
                let mut labels = labels;
                labels.sort();
                (
                    (s["metric"].as_str().unwrap_or_default().to_string(), labels),
                    s["value"].as_f64().unwrap_or(-1.0),
                )
            })
            .collect()
    };
    let mut last = Vec::new();
    running.wait_until("gh_copilot_* equal the truth", |r| {
        let body = r.get("/metrics").map(|x| x.text()).unwrap_or_default();
        let expected = truth_over_http();
        last = diff(&served(&Metrics::parse(&body)), &expected);
        !expected.is_empty() && last.is_empty()
    });
    assert_eq!(fake.requests().download_requests_with_authorization, 0);
    let status = running.terminate(Duration::from_secs(15));
    assert!(status.success(), "clean exit: {status}");
}

/// Flags off and partial breakdowns: without the 28-day report only users and seats are
/// served; language and model alone give `language_model` and nothing with `feature`.
#[test]
fn copilot_flag_combinations_equal_truth() {
    for settings in [
        vec![
            ("include_org_28d", "false"),
            ("include_org_users_28d", "true"),
        ],
        vec![
            ("include_breakdown_language", "true"),
            ("include_breakdown_model", "true"),
            ("max_label_values", "1"),
        ],
        vec![("include_breakdown_feature", "true")],
    ] {
        let fake = fake(1, 3, 8, |c| c.secondary.burst_max = 0);
        let exporter = Exporter::start(fake.clone(), copilot_env(&fake, &settings));
        let m = assert_copilot_truth(&exporter, &fake, &settings);
        let breakdowns: std::collections::BTreeSet<String> = served(&m)
            .keys()
            .flat_map(|(_, l)| {
                l.iter()
                    .filter(|(k, _)| k == "breakdown")
                    .map(|(_, v)| v.clone())
            })
            .collect();
        let expected: &[&str] = match settings[0].0 {
            "include_org_28d" => &[],
            "include_breakdown_language" => &["language_model", "total"],
            _ => &["feature", "total"],
        };
        assert_eq!(
            breakdowns.iter().map(String::as_str).collect::<Vec<_>>(),
            expected,
            "{settings:?}"
        );
        exporter.stop();
    }
}

/// The Copilot endpoints one run of the default settings asks about an org (the 28-day
/// report, the 1-day probes, the seats).
const COPILOT_RUN_ENDPOINTS: [&str; 3] = [
    "GET /orgs/{org}/copilot/metrics/reports/organization-28-day/latest",
    "GET /orgs/{org}/copilot/metrics/reports/organization-1-day",
    "GET /orgs/{org}/copilot/billing/seats",
];

/// The identity in `github-stats-exporter/<version> (<identity>)`.
fn identity_of(user_agent: &str) -> String {
    user_agent
        .rsplit_once('(')
        .map(|(_, rest)| rest.trim_end_matches(')').to_string())
        .unwrap_or_else(|| user_agent.to_string())
}

/// The fake's log of Copilot requests (`/orgs/{org}/copilot/…`): (at, org, endpoint, identity),
/// in arrival order.
fn copilot_requests(fake: &FakeGithub) -> Vec<(f64, String, String, String)> {
    fake.org_requests()
        .into_iter()
        .filter(|r| r.endpoint.contains("/copilot/"))
        .map(|r| (r.at, r.org, r.endpoint, identity_of(&r.user_agent)))
        .collect()
}

/// The orgs a replica holds the lease of and runs, from `/healthz` (`owned_orgs`) and from
/// `gh_exporter_org_lease_held{org} 1` on `/metrics/replica`; `None` while the two disagree
/// or the replica does not answer.
fn lease_holdings(exporter: &Exporter) -> Option<std::collections::BTreeSet<String>> {
    let (_, body) = exporter.get("/healthz")?;
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    let owned: std::collections::BTreeSet<String> = json["owned_orgs"]
        .as_array()?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let held: std::collections::BTreeSet<String> = replica_metrics(exporter)
        .0
        .iter()
        .filter(|((name, _), value)| name == "gh_exporter_org_lease_held" && **value == 1.0)
        .filter_map(|((_, labels), _)| {
            labels
                .iter()
                .find(|(k, _)| k == "org")
                .map(|(_, v)| v.clone())
        })
        .collect();
    (owned == held).then_some(owned)
}

/// Polls `check` every 100 ms; fails after a minute.
fn wait(what: &str, mut check: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < until, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Per-org mode on Redis leases, two replicas: each org's Copilot run happens on the replica
/// holding that org's lease and never on the other, its fenced batch lands in the shared store,
/// and both replicas serve exactly the truth.
///
/// Replica A starts alone and takes every org's lease; once it served the truth, B joins and
/// the balanced assignment hands B some orgs (3 orgs, 2 replicas: each gets at least one).
/// The fake logs which replica (its `User-Agent`) asked which org's Copilot endpoints:
/// - an org A keeps was never asked about by B, and A asked for every Copilot report;
/// - an org B took over was asked about by B after B started, for every Copilot report, and A
///   never asked about it once B had (A stops its actor before it releases the lease, and B
///   acquires it only then).
///
/// Fails if Copilot runs for every configured org on every replica (B asks about A's orgs), if
/// it runs only on the global leader or is not started when an org's lease is acquired (B never
/// asks about its orgs), or if an ex-holder keeps running an org's Copilot after the hand-over.
#[test]
fn copilot_runs_under_each_orgs_lease_in_per_org_mode() {
    use std::collections::BTreeSet;

    let namespace = redis_common::unique_namespace("copilot-per-org");
    let _cleanup = redis_common::Cleanup {
        url: redis_common::SHARED_REDIS.to_string(),
        namespace: namespace.clone(),
    };
    let fake = fake(3, 3, 8, |c| c.secondary.burst_max = 0);
    let orgs: BTreeSet<String> = fake.org_names().into_iter().collect();
    let replica = |identity: &str| {
        let mut env = copilot_env(&fake, &[]);
        for (k, v) in [
            ("GITHUB_STATS_STORE__REDIS_URL", redis_common::SHARED_REDIS),
            ("GITHUB_STATS_STORE__NAMESPACE", namespace.as_str()),
            ("GITHUB_STATS_STORE__METRIC_REFRESH_INTERVAL", "1s"),
            ("GITHUB_STATS_LEADER_ELECTION__ENABLED", "true"),
            ("GITHUB_STATS_LEADER_ELECTION__MODE", "per_org"),
            ("GITHUB_STATS_LEADER_ELECTION__LEASE_DURATION", "3s"),
            ("GITHUB_STATS_LEADER_ELECTION__RENEW_DEADLINE", "2s"),
            ("GITHUB_STATS_LEADER_ELECTION__RETRY_PERIOD", "500ms"),
            ("GITHUB_STATS_LEADER_ELECTION__REBALANCE_DELAY", "2s"),
            ("GITHUB_STATS_LEADER_ELECTION__IDENTITY", identity),
            ("GITHUB_STATS_BACKFILL__ENABLED", "false"),
        ] {
            env.push((k.to_string(), v.to_string()));
        }
        Exporter::start(fake.clone(), env)
    };
    // Which endpoints of `COPILOT_RUN_ENDPOINTS` `who` asked about `org` at or after `since`.
    let asked = |who: &str, org: &str, since: f64| -> BTreeSet<String> {
        copilot_requests(&fake)
            .into_iter()
            .filter(|(at, o, _, id)| *at >= since && o == org && id == who)
            .map(|(_, _, endpoint, _)| endpoint)
            .collect()
    };
    let whole_run: BTreeSet<String> = COPILOT_RUN_ENDPOINTS
        .iter()
        .map(|e| e.to_string())
        .collect();

    // A alone: it holds every org and runs every org's Copilot.
    let a = replica("copilot-a");
    wait("A alone holds every org's lease", || {
        lease_holdings(&a).as_ref() == Some(&orgs)
    });
    assert_copilot_truth(&a, &fake, &[]);
    for org in &orgs {
        let by_a = asked("copilot-a", org, 0.0);
        assert!(
            by_a.is_superset(&whole_run),
            "A ran {org}'s Copilot: {by_a:?}"
        );
    }

    // B joins: the assignment moves some orgs to B, whose Copilot actors run them.
    let b_started = fake.now();
    let b = replica("copilot-b");
    let mut split = (BTreeSet::new(), BTreeSet::new());
    wait(
        "A and B split the orgs and each ran its orgs' Copilot",
        || {
            let (Some(held_a), Some(held_b)) = (lease_holdings(&a), lease_holdings(&b)) else {
                return false;
            };
            let settled = !held_a.is_empty()
                && !held_b.is_empty()
                && held_a.is_disjoint(&held_b)
                && held_a.union(&held_b).cloned().collect::<BTreeSet<_>>() == orgs
                && held_b
                    .iter()
                    .all(|org| asked("copilot-b", org, b_started).is_superset(&whole_run));
            split = (held_a, held_b);
            settled
        },
    );
    assert_copilot_truth(&a, &fake, &[]);
    assert_copilot_truth(&b, &fake, &[]);
    let (held_a, held_b) = split;
    assert_eq!(
        (lease_holdings(&a), lease_holdings(&b)),
        (Some(held_a.clone()), Some(held_b.clone())),
        "the leases stayed where they settled"
    );

    let log = copilot_requests(&fake);
    let mut per_client: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (_, org, _, who) in &log {
        *per_client.entry((org.as_str(), who.as_str())).or_default() += 1;
    }
    eprintln!("A holds {held_a:?}, B holds {held_b:?}; Copilot requests per (org, client): {per_client:?}");
    for (_, org, endpoint, who) in &log {
        assert!(
            who == "copilot-a" || who == "copilot-b",
            "{endpoint} for {org} by an unknown client {who:?}"
        );
    }
    for org in &held_a {
        let by_b: Vec<_> = log
            .iter()
            .filter(|(_, o, _, who)| o == org && who == "copilot-b")
            .collect();
        assert!(
            by_b.is_empty(),
            "B never held {org}'s lease but asked its Copilot endpoints: {by_b:#?}"
        );
    }
    for org in &held_b {
        let first_by_b = log
            .iter()
            .filter(|(at, o, _, who)| o == org && who == "copilot-b" && *at >= b_started)
            .map(|(at, ..)| *at)
            .fold(f64::INFINITY, f64::min);
        let late_by_a: Vec<_> = log
            .iter()
            .filter(|(at, o, _, who)| o == org && who == "copilot-a" && *at >= first_by_b)
            .collect();
        assert!(
            late_by_a.is_empty(),
            "A asked {org}'s Copilot endpoints after B took its lease over (B first at {first_by_b}): {late_by_a:#?}"
        );
    }
    b.stop();
    a.stop();
}
