//! User-owned accounts end to end: an org and user accounts configured side by side in
//! `github.orgs`, against a fake whose world has both, every `gh_activity_*` series equal to
//! the truth for all of them — with a token (GraphQL, then REST alone) and with a GitHub App.
//! The fake's counters and org log show which path each owner took: one `GET /users/{owner}`
//! per owner, the user's repositories from the user endpoints (`/user/repos` for the token's
//! own account, `/users/{user}/repos` for another user, `/installation/repositories` for an
//! App), no `/orgs/{user}/…` call once the owner is known, and its search named `user:`.
//! Copilot is skipped for a user account with a visible state; an owner GitHub does not know
//! is a named error in `/healthz`.

mod scrape_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_github::{AppAuth, FakeGithub};
use scrape_support::*;

const APP_ID: u64 = 4242;

fn testdata(name: &str) -> String {
    format!("{}/fake-github/testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// One org and `users` user-owned accounts, 10 repositories each.
fn world(users: usize, tweak: impl FnOnce(&mut fake_github::FakeConfig)) -> Arc<FakeGithub> {
    fake(1, 10, 8, |c| {
        c.user_owners = users;
        c.secondary.burst_max = 0;
        tweak(c);
    })
}

/// The org log's entries about `owner`, oldest first: (endpoint).
fn logged(fake: &FakeGithub, owner: &str) -> Vec<String> {
    fake.org_requests()
        .into_iter()
        .filter(|r| r.org.eq_ignore_ascii_case(owner))
        .map(|r| r.endpoint)
        .collect()
}

/// Waits until `/healthz` satisfies `check`; returns its JSON.
fn wait_health(
    exporter: &Exporter,
    what: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let body = exporter.get("/healthz").map(|r| r.1).unwrap_or_default();
        let health: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if check(&health) {
            return health;
        }
        assert!(Instant::now() < until, "{what}; /healthz: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// With a token: the org and two user accounts equal the truth through GraphQL, as the clock
/// moves. The token's own account is listed with `/user/repos`, the other user's with
/// `/users/{user}/repos`, the org with `/orgs/{org}/repos`; each owner's type is asked once;
/// no `/orgs/{user}/…` call is ever made; the users' searches went through GraphQL naming
/// them (`user:` — `org:` finds nothing for a user, so equality proves the qualifier).
#[test]
fn user_owners_equal_truth_with_a_token_over_graphql() {
    let fake = world(2, |_| {});
    let users = fake.user_owner_names();
    let org = fake.org_names()[0].clone();
    assert_eq!(users.len(), 2);
    let exporter = Exporter::start(fake.clone(), env_for(&fake, &[]));
    assert_matches_truth(&exporter, &fake, fake.now());
    fake.advance_clock(6.0 * 3600.0);
    assert_matches_truth(&exporter, &fake, fake.now());

    assert_eq!(
        requests_to(&fake, "GET /users/{username}"),
        3,
        "one lookup per owner"
    );
    assert_eq!(
        requests_to(&fake, "GET /user"),
        2,
        "whose token: asked once per user account"
    );
    assert!(
        requests_to(&fake, "GET /user/repos") >= 2,
        "the token's own account"
    );
    assert!(
        requests_to(&fake, "GET /users/{username}/repos") >= 2,
        "the other user"
    );
    assert!(requests_to(&fake, "GET /orgs/{org}/repos") >= 2, "the org");
    assert!(requests_to(&fake, "POST /graphql") >= 3, "GraphQL answered");
    assert_eq!(
        requests_to(&fake, "GET /search/issues"),
        0,
        "no REST search needed"
    );
    for user in &users {
        let log = logged(&fake, user);
        assert_eq!(
            log.first().map(String::as_str),
            Some("GET /users/{username}"),
            "{user}: the type is asked first: {log:?}"
        );
        assert!(
            !log.iter().any(|e| e.starts_with("GET /orgs/")),
            "{user}: no org endpoint: {log:?}"
        );
        assert!(
            log.iter().any(|e| e == "POST /graphql"),
            "{user}: its search and commits went through GraphQL: {log:?}"
        );
    }
    assert!(logged(&fake, &users[1]).contains(&"GET /users/{username}/repos".to_string()));
    let org_log = logged(&fake, &org);
    assert!(
        org_log.contains(&"GET /orgs/{org}/repos".to_string()),
        "{org_log:?}"
    );
    exporter.stop();
}

/// GraphQL not served (404): REST's `search/issues` with `user:` is just as exact.
#[test]
fn user_owner_equals_truth_over_rest_alone() {
    let fake = world(1, |_| {});
    inject(&fake, r#"{"path_regex": "^/graphql$", "status": 404}"#);
    let exporter = Exporter::start(fake.clone(), env_for(&fake, &[]));
    assert_matches_truth(&exporter, &fake, fake.now());
    fake.advance_clock(6.0 * 3600.0);
    assert_matches_truth(&exporter, &fake, fake.now());
    let served = fake.faults_served();
    assert!(
        served.get("status").copied().unwrap_or(0) >= 1,
        "the 404 was served: {served:?}"
    );
    assert!(
        requests_to(&fake, "GET /search/issues") >= 4,
        "REST search answered"
    );
    assert!(
        requests_to(&fake, "POST /graphql") <= 2,
        "GraphQL off after its 404"
    );
    let user = &fake.user_owner_names()[0];
    assert!(!logged(&fake, user)
        .iter()
        .any(|e| e.starts_with("GET /orgs/")));
    exporter.stop();
}

/// With a GitHub App and no installation id: the user account's installation is found with
/// `GET /users/{user}/installation` (after the org endpoint's one 404, while its type is not
/// known yet), its repositories come from `GET /installation/repositories`, and every series
/// equals the truth for the org and the user.
#[test]
fn user_owner_equals_truth_with_a_github_app() {
    let public = std::fs::read_to_string(testdata("app_public_key.pem")).expect("test key");
    let fake = world(1, |c| {
        c.app = Some(AppAuth {
            app_id: APP_ID,
            public_key_pem: public,
        });
        c.token = String::new();
    });
    let user = fake.user_owner_names()[0].clone();
    let mut env = env_for(
        &fake,
        &[
            ("GITHUB_STATS_GITHUB__APP_ID", &APP_ID.to_string()),
            (
                "GITHUB_STATS_GITHUB__PRIVATE_KEY_PATH",
                &testdata("app_private_key.pem"),
            ),
        ],
    );
    env.retain(|(k, _)| k != "GITHUB_STATS_GITHUB__TOKEN");
    let exporter = Exporter::start(fake.clone(), env);
    // The fake checks App JWTs on its own clock: it is not moved here (the exporter signs on
    // the real one); a second fresh cycle is compared instead.
    assert_matches_truth(&exporter, &fake, fake.now());
    assert_matches_truth(&exporter, &fake, fake.now());

    assert_eq!(requests_to(&fake, "GET /users/{username}/installation"), 1);
    assert_eq!(
        requests_to(&fake, "GET /orgs/{org}/installation"),
        2,
        "org, and the user's 404"
    );
    assert_eq!(
        requests_to(&fake, "GET /users/{username}"),
        2,
        "one lookup per owner"
    );
    assert_eq!(
        requests_to(&fake, "GET /user"),
        0,
        "an App has no own account"
    );
    assert!(requests_to(&fake, "GET /installation/repositories") >= 2);
    assert!(
        requests_to(&fake, "GET /orgs/{org}/repos") >= 2,
        "the org keeps its listing"
    );
    let log = logged(&fake, &user);
    let typed = log
        .iter()
        .position(|e| e == "GET /users/{username}")
        .unwrap_or_else(|| panic!("the type was asked: {log:?}"));
    assert_eq!(
        log[..typed],
        [
            "GET /orgs/{org}/installation".to_string(),
            "GET /users/{username}/installation".to_string()
        ],
        "installation discovery, then the type: {log:?}"
    );
    assert!(
        !log[typed..].iter().any(|e| e.starts_with("GET /orgs/")),
        "no org endpoint once the type is known: {log:?}"
    );
    exporter.stop();
}

/// Copilot on: the user account's component says `skipped` with the reason, no Copilot
/// endpoint is asked for it, the run counts as `skipped`, the replica stays ready and
/// healthy; the org's Copilot series are served as usual.
#[test]
fn copilot_is_skipped_for_a_user_owner() {
    let fake = world(1, |_| {});
    let org = fake.org_names()[0].clone();
    let user = fake.user_owner_names()[0].clone();
    let exporter = Exporter::start(
        fake.clone(),
        env_for(&fake, &[("GITHUB_STATS_COPILOT__ENABLED", "true")]),
    );
    let health = wait_health(
        &exporter,
        "copilot skipped for the user, up for the org",
        |h| {
            let c = &h["components"];
            c[format!("copilot.{user}")]["status"] == "skipped"
                && c[format!("copilot.{org}")]["status"] == "up"
        },
    );
    let component = &health["components"][format!("copilot.{user}")];
    assert_eq!(
        component["detail"],
        "skipped: owner is a user account; Copilot usage reports exist for organizations and enterprises only"
    );
    assert_eq!(component["ok"], true);
    assert_eq!(health["ready"], true);
    assert_eq!(health["mode"], "healthy", "{health}");
    assert_eq!(exporter.get("/readyz").map(|r| r.0), Some(200));
    let m = wait_for(
        &exporter,
        "the skipped run is counted",
        Duration::from_secs(30),
        |m| {
            m.get(
                "gh_exporter_copilot_runs_total",
                &[
                    ("org", user.as_str()),
                    ("result", "skipped"),
                    ("scope", "organization"),
                ],
            )
            .is_some_and(|v| v >= 1.0)
        },
    );
    assert!(
        m.0.keys()
            .any(|(name, labels)| name == "gh_copilot_active_users"
                && labels.iter().any(|(k, v)| k == "org" && *v == org)),
        "the org's Copilot series are served"
    );
    assert!(
        !m.0.keys()
            .any(|(name, labels)| name.starts_with("gh_copilot_")
                && labels.iter().any(|(k, v)| k == "org" && *v == user)),
        "no Copilot series for the user"
    );
    let log = logged(&fake, &user);
    assert!(
        !log.iter().any(|e| e.contains("copilot")),
        "no Copilot request for the user: {log:?}"
    );
    assert!(logged(&fake, &org).iter().any(|e| e.contains("/copilot/")));
    assert_matches_truth(&exporter, &fake, fake.now());
    exporter.stop();
}

/// An owner GitHub does not know: its scrape fails with an error naming it in `/healthz`,
/// while the configured org is scraped as usual.
#[test]
fn an_owner_that_does_not_exist_is_a_named_error() {
    let fake = fake(1, 6, 6, |c| c.secondary.burst_max = 0);
    let org = fake.org_names()[0].clone();
    let orgs = format!("{org},no-such-owner");
    let exporter = Exporter::start(
        fake.clone(),
        env_for(&fake, &[("GITHUB_STATS_GITHUB__ORGS", &orgs)]),
    );
    let health = wait_health(&exporter, "the missing owner's error", |h| {
        h["scrapes"]["no-such-owner"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("does not exist"))
    });
    let error = health["scrapes"]["no-such-owner"]["last_error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.contains("owner no-such-owner does not exist on GitHub")
            && error.contains("GET /users/no-such-owner answered 404"),
        "{error}"
    );
    assert!(
        !logged(&fake, "no-such-owner")
            .iter()
            .any(|e| e.starts_with("GET /orgs/")),
        "no org endpoint is tried for an owner GitHub does not know"
    );
    let m = wait_for(&exporter, "the org's cycle", Duration::from_secs(60), |m| {
        m.window_end(&org).is_some()
    });
    let at = m.window_end(&org).unwrap_or_default();
    let problems = diff(&m.activity(&org), &truth(&fake, &org, at));
    assert!(
        push_race_only(&problems) || problems.is_empty(),
        "{problems:?}"
    );
    exporter.stop();
}
