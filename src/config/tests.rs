//! Behaviour of the whole loader, case by case through one `check` helper: layers, env forms,
//! inheritance, durations, `_file` secrets, redaction, pending features, unknown keys and the
//! validation rules; plus drift tests for `config/default.toml` and `config/example.env`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::ExposeSecret;

use super::errors::Problems;
use super::*;

/// Credentials and one org, so a case only states what it is about. `HOSTNAME` pins identity.
const BASE_ENV: &[(&str, &str)] = &[
    ("GITHUB_STATS_GITHUB__ORGS", "acme"),
    ("GITHUB_STATS_GITHUB__TOKEN", "t0ken"),
    ("HOSTNAME", "test-host"),
];

/// (case name, env patch, wanted (key, reason fragment) problems).
type EnvCase<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [(&'a str, &'a str)]);
/// Like [`EnvCase`] with env values built at run time (temp file paths).
type OwnedEnvCase<'a> = (&'a str, Vec<(&'a str, String)>, Vec<(&'a str, &'a str)>);

/// Value that removes a base variable in a case.
const UNSET: &str = "<unset>";

/// A config file written to a temp dir; the dir lives as long as the value.
struct TempFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn write_file(name: &str, content: &str) -> TempFile {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, content).expect("write temp file");
    TempFile { _dir: dir, path }
}

fn env_with(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = BASE_ENV
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (name, value) in extra {
        env.retain(|(k, _)| k != name);
        if *value != UNSET {
            env.push((name.to_string(), value.to_string()));
        }
    }
    env
}

/// Loads `file` (name, content) and the base env patched by `env`. With `want` empty the load
/// must succeed and the config is returned; otherwise the problem keys must be exactly those
/// of `want`, each reason containing its fragment.
fn check(
    case: &str,
    file: Option<(&str, &str)>,
    env: &[(&str, &str)],
    want: &[(&str, &str)],
) -> Option<Config> {
    let temp = file.map(|(name, content)| write_file(name, content));
    let result = load_from(temp.as_ref().map(|t| t.path.as_path()), env_with(env));
    match (result, want.is_empty()) {
        (Ok(config), true) => Some(config),
        (Ok(_), false) => panic!("{case}: loaded, but wanted problems {want:?}"),
        (Err(errors), true) => panic!("{case}: unexpected problems:\n{errors}"),
        (Err(errors), false) => {
            let mut got: Vec<&str> = errors.problems.iter().map(|p| p.key.as_str()).collect();
            let mut wanted: Vec<&str> = want.iter().map(|(k, _)| *k).collect();
            got.sort_unstable();
            wanted.sort_unstable();
            assert_eq!(got, wanted, "{case}: problem keys differ; all:\n{errors}");
            for (key, fragment) in want {
                let problem = errors.problems.iter().find(|p| p.key == *key);
                let reason = problem.map(|p| p.reason.as_str()).unwrap_or_default();
                assert!(
                    reason.contains(fragment),
                    "{case}: reason for {key} is `{reason}`, wanted `{fragment}`"
                );
            }
            None
        }
    }
}

/// Layers and typed reading (with each key's own constraint) but neither the cross-key rules
/// nor the pending-feature rule, to inspect keys whose feature is pending.
fn extract_only(file: Option<(&str, &str)>, env: &[(&str, &str)]) -> (Config, Vec<ConfigProblem>) {
    let temp = file.map(|(name, content)| write_file(name, content));
    let env = env_with(env);
    let mut problems = Problems::default();
    let tree = layers::merge(temp.as_ref().map(|t| t.path.as_path()), &env, &mut problems)
        .expect("layers merge");
    let config = extract::extract(&tree, &env, &mut problems);
    (config, problems.0)
}

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Built-in defaults are config/default.toml's values, with orgs inheriting `github.scrape_interval`.
#[test]
fn defaults_match_the_spec() {
    let c = check("defaults", None, &[], &[]).expect("loads");
    assert_eq!(c.server.listen_addr.to_string(), "0.0.0.0:8080");
    assert_eq!(c.server.log_level, LogLevel::Info);
    assert_eq!(c.server.log_format, LogFormat::Json);
    assert_eq!(c.server.shutdown_timeout, Duration::from_secs(15));
    assert_eq!(c.github.api_base_url.as_str(), "https://api.github.com/");
    assert_eq!(c.github.request_timeout, Duration::from_secs(20));
    assert_eq!(c.github.unhealthy_failure_threshold, 6);
    assert_eq!(c.github.unhealthy_cooldown, Duration::from_secs(120));
    assert_eq!(c.github.recover_success_threshold, 3);
    assert_eq!(c.github.scrape_interval, Duration::from_secs(300));
    assert!(!c.github.exclude_bots);
    let org = &c.github.orgs[0];
    assert_eq!(org.org, "acme");
    assert_eq!(org.scrape_interval, Duration::from_secs(300));
    assert_eq!(
        org.repo_allowlist,
        vec![glob::Pattern::new("*").expect("glob")]
    );
    assert!(org.repo_denylist.is_empty());
    assert_eq!(org.per_org_concurrency, 4);
    assert!(!org.include_archived && org.include_forks);
    assert_eq!(c.rate_limit.min_remaining_threshold, 200);
    assert_eq!(
        c.rate_limit.secondary_limit_backoff,
        Duration::from_secs(60)
    );
    assert_eq!(c.retry.max_attempts, 5);
    assert!(c.retry.jitter);
    assert_eq!(c.loc.large_repo_cooldown, Duration::from_secs(7 * 86400));
    let minutes = |m: u64| Duration::from_secs(m * 60);
    assert_eq!(
        c.backfill.requeue_delays,
        vec![minutes(1), minutes(5), minutes(30), minutes(120)]
    );
    assert_eq!(c.backfill.prefetch, 2);
    assert!(c.amqp.url.is_none());
    assert_eq!(c.amqp.queue, "gh.backfill.jobs");
    assert!(c.store.redis_url.is_none());
    assert_eq!(c.store.redis_mode, RedisMode::Standalone);
    assert_eq!(c.store.retention, Duration::from_secs(30 * 86400));
    assert_eq!(c.store.metric_refresh_interval, Duration::from_secs(30));
    assert_eq!(c.store.max_series_budget, 1_000_000);
    assert!(!c.leader_election.enabled);
    assert_eq!(c.leader_election.static_role, StaticRole::Leader);
    assert_eq!(c.leader_election.identity, "test-host");
    assert_eq!(c.leader_election.lease_name, "github-stats-exporter-leader");
    assert_eq!(c.leader_election.backend, ElectionBackend::Redis);
    assert_eq!(c.leader_election.lease_duration, Duration::from_secs(15));
    assert_eq!(c.leader_election.renew_deadline, Duration::from_secs(10));
    assert_eq!(c.leader_election.retry_period, Duration::from_secs(2));
    assert_eq!(c.leader_election.mode, ElectionMode::Single);
    assert_eq!(c.leader_election.rebalance_delay, Duration::from_secs(10));
    assert_eq!(c.leader_election.max_orgs_per_replica, 0);
    assert!(!c.copilot.enabled && c.copilot.include_org_28d);
    assert_eq!(c.copilot.user_label_mode, UserLabelMode::Login);
    assert!(c.copilot.include_seats && c.copilot.user_label_salt.is_none());
    assert_eq!(c.copilot.max_label_values, 50);
}

/// A TOML file sets values and may list orgs as names or as tables.
#[test]
fn toml_file_sets_values() {
    let file = r#"
[server]
listen_addr = "127.0.0.1:9000"
log_format = "text"
[github]
orgs = ["alpha", { org = "beta", scrape_interval = "1m" }]
api_base_url = "https://ghe.example.com/api/v3"
"#;
    let env = [("GITHUB_STATS_GITHUB__ORGS", UNSET)];
    let c = check("toml", Some(("c.toml", file)), &env, &[]).expect("loads");
    assert_eq!(c.server.listen_addr.to_string(), "127.0.0.1:9000");
    assert_eq!(c.server.log_format, LogFormat::Text);
    let names: Vec<&str> = c.github.orgs.iter().map(|o| o.org.as_str()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert_eq!(c.github.orgs[1].scrape_interval, Duration::from_secs(60));
    // The trailing slash keeps `/api/v3` when the client joins paths onto it.
    assert_eq!(
        c.github.api_base_url.join("meta").expect("join").as_str(),
        "https://ghe.example.com/api/v3/meta"
    );
}

/// A YAML file (`.yaml` or `.yml`) sets values the same way.
#[test]
fn yaml_file_sets_values() {
    let file = "server:\n  log_level: debug\ngithub:\n  scrape_interval: 10m\n  orgs:\n    - alpha\n    - org: beta\n      scrape_interval: 2m\n";
    let env = [("GITHUB_STATS_GITHUB__ORGS", UNSET)];
    for name in ["c.yaml", "c.yml"] {
        let c = check(name, Some((name, file)), &env, &[]).expect("loads");
        assert_eq!(c.server.log_level, LogLevel::Debug);
        assert_eq!(c.github.orgs[0].scrape_interval, Duration::from_secs(600));
        assert_eq!(c.github.orgs[1].scrape_interval, Duration::from_secs(120));
    }
}

/// Environment variables win over the file, key by key.
#[test]
fn env_overrides_file() {
    let file = "[server]\nlisten_addr = \"127.0.0.1:9000\"\nlog_level = \"debug\"\n";
    let env = [("GITHUB_STATS_SERVER__LISTEN_ADDR", "127.0.0.1:9100")];
    let c = check("env over file", Some(("c.toml", file)), &env, &[]).expect("loads");
    assert_eq!(c.server.listen_addr.to_string(), "127.0.0.1:9100");
    assert_eq!(c.server.log_level, LogLevel::Debug);
}

/// The org list, delay lists, sentinel addresses and per-org glob lists all take the
/// comma-separated env form; blanks around items and empty items are dropped.
#[test]
fn env_lists_are_comma_separated() {
    let env = [
        ("GITHUB_STATS_GITHUB__ORGS", " org-a, org-b ,"),
        ("GITHUB_STATS_BACKFILL__REQUEUE_DELAYS", "1m,5m"),
        (
            "GITHUB_STATS_STORE__REDIS_SENTINEL_ADDRS",
            "s1:26379,s2:26379",
        ),
        ("GITHUB_STATS_GITHUB__ORGS__1__REPO_ALLOWLIST", "api-*,web"),
        ("GITHUB_STATS_GITHUB__ORGS__1__REPO_DENYLIST", "*-archive"),
    ];
    let (c, problems) = extract_only(None, &env);
    assert!(problems.is_empty(), "{problems:?}");
    let names: Vec<&str> = c.github.orgs.iter().map(|o| o.org.as_str()).collect();
    assert_eq!(names, ["org-a", "org-b"]);
    let minutes = |m: u64| Duration::from_secs(m * 60);
    assert_eq!(c.backfill.requeue_delays, vec![minutes(1), minutes(5)]);
    assert_eq!(c.store.redis_sentinel_addrs, ["s1:26379", "s2:26379"]);
    let allow: Vec<&str> = c.github.orgs[1]
        .repo_allowlist
        .iter()
        .map(|p| p.as_str())
        .collect();
    assert_eq!(allow, ["api-*", "web"]);
    assert_eq!(c.github.orgs[1].repo_denylist[0].as_str(), "*-archive");
    assert_eq!(c.github.orgs[0].repo_allowlist[0].as_str(), "*");
}

/// `GITHUB_STATS_GITHUB__ORGS__<i>__<KEY>` patches the i-th org of the file's list when the env
/// does not replace the list, keeping the org's name and other fields.
#[test]
fn env_patches_org_entries_of_the_file() {
    let file = "[github]\norgs = [\"alpha\", { org = \"beta\", scrape_interval = \"1m\" }]\n";
    let env = [
        ("GITHUB_STATS_GITHUB__ORGS", UNSET),
        ("GITHUB_STATS_GITHUB__ORGS__0__SCRAPE_INTERVAL", "3m"),
        ("GITHUB_STATS_GITHUB__ORGS__1__INCLUDE_FORKS", "false"),
    ];
    let (c, problems) = extract_only(Some(("c.toml", file)), &env);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(c.github.orgs[0].org, "alpha");
    assert_eq!(c.github.orgs[0].scrape_interval, Duration::from_secs(180));
    assert_eq!(c.github.orgs[1].org, "beta");
    assert_eq!(c.github.orgs[1].scrape_interval, Duration::from_secs(60));
    assert!(!c.github.orgs[1].include_forks);
}

/// Orgs inherit `github.scrape_interval` unless they set their own, from file or env.
#[test]
fn orgs_inherit_the_top_level_scrape_interval() {
    let env = [
        ("GITHUB_STATS_GITHUB__ORGS", "a,b,c"),
        ("GITHUB_STATS_GITHUB__SCRAPE_INTERVAL", "10m"),
        ("GITHUB_STATS_GITHUB__ORGS__1__SCRAPE_INTERVAL", "90s"),
    ];
    let c = check("inherit", None, &env, &[]).expect("loads");
    let intervals: Vec<u64> = c
        .github
        .orgs
        .iter()
        .map(|o| o.scrape_interval.as_secs())
        .collect();
    assert_eq!(intervals, [600, 90, 600]);
}

/// Durations accept humantime forms; a bad one names the key, the value and the forms.
#[test]
fn durations_accept_humantime_forms() {
    let cases = [
        ("500ms", Duration::from_millis(500)),
        ("30s", Duration::from_secs(30)),
        ("5m", Duration::from_secs(300)),
        ("2h", Duration::from_secs(7200)),
        ("7d", Duration::from_secs(7 * 86400)),
        ("1h 30m", Duration::from_secs(5400)),
    ];
    for (text, want) in cases {
        // A key whose range (0 to 7 days) holds every case.
        let env = [("GITHUB_STATS_BACKFILL__DEDUP_TTL", text)];
        let (c, problems) = extract_only(None, &env);
        assert!(problems.is_empty(), "{text}: {problems:?}");
        assert_eq!(c.backfill.dedup_ttl, want, "{text}");
    }
    let env = [("GITHUB_STATS_SERVER__SHUTDOWN_TIMEOUT", "5 parsecs")];
    let reason = "not a duration";
    check(
        "bad duration",
        None,
        &env,
        &[("server.shutdown_timeout", reason)],
    );
    let errors = load_from(None, env_with(&env)).expect_err("bad duration");
    let problem = &errors.problems[0];
    assert_eq!(problem.value, "5 parsecs");
    assert!(
        problem.reason.contains("500ms, 30s, 5m, 2h, 7d"),
        "{problem}"
    );
    assert!(
        problem
            .reason
            .contains("GITHUB_STATS_SERVER__SHUTDOWN_TIMEOUT"),
        "{problem}"
    );
    let file = "[server]\nshutdown_timeout = 15\n";
    let want = [("server.shutdown_timeout", "needs a unit")];
    check("unitless duration", Some(("c.toml", file)), &[], &want);
}

/// `_FILE` variants read a secret from a file (trimmed); both forms at once, an unreadable file
/// and an empty file are errors.
#[test]
fn secrets_can_come_from_files() {
    let secret = write_file("token", "  ghp_from_file\n");
    let path = secret.path.to_string_lossy().to_string();
    let env = [
        ("GITHUB_STATS_GITHUB__TOKEN", UNSET),
        ("GITHUB_STATS_GITHUB__TOKEN_FILE", path.as_str()),
    ];
    let c = check("token file", None, &env, &[]).expect("loads");
    let token = c.github.token.as_ref().expect("token set");
    assert_eq!(token.expose_secret(), "ghp_from_file");

    let both = [("GITHUB_STATS_GITHUB__TOKEN_FILE", path.as_str())];
    check("both set", None, &both, &[("github.token", "set only one")]);

    let missing = [
        ("GITHUB_STATS_GITHUB__TOKEN", UNSET),
        ("GITHUB_STATS_GITHUB__TOKEN_FILE", "/nonexistent/token"),
    ];
    // No second, derived "no credentials" complaint: the file problem says it all.
    let want = [("github.token_file", "cannot read secret file")];
    check("unreadable", None, &missing, &want);

    let empty = write_file("empty", "\n");
    let empty_path = empty.path.to_string_lossy().to_string();
    let env = [
        ("GITHUB_STATS_GITHUB__TOKEN", UNSET),
        ("GITHUB_STATS_GITHUB__TOKEN_FILE", empty_path.as_str()),
    ];
    check("empty", None, &env, &[("github.token_file", "empty")]);

    let url = write_file("url", "redis://:pw@cache:6379/0\n");
    let url_path = url.path.to_string_lossy().to_string();
    let env = [("GITHUB_STATS_STORE__REDIS_URL_FILE", url_path.as_str())];
    let (c, problems) = extract_only(None, &env);
    assert!(problems.is_empty(), "{problems:?}");
    let redis = c.store.redis_url.expect("redis url");
    assert_eq!(redis.expose_secret(), "redis://:pw@cache:6379/0");
}

/// The issue's example: a bad listen address and an empty org list are both reported.
#[test]
fn every_problem_is_reported_at_once() {
    let env = [
        ("GITHUB_STATS_SERVER__LISTEN_ADDR", "nonsense"),
        ("GITHUB_STATS_GITHUB__ORGS", ""),
    ];
    let want = [
        ("server.listen_addr", "not a socket address"),
        ("github.orgs", "at least one org"),
    ];
    check("issue example", None, &env, &want);
    let errors = load_from(None, env_with(&env)).expect_err("invalid");
    let text = errors.to_string();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.contains("server.listen_addr=nonsense: not a socket address"),
        "{text}"
    );
}

/// Neither `Debug` of a config nor problem messages show a token, a secret file's content or
/// a URL password.
#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let env = [
        ("GITHUB_STATS_GITHUB__TOKEN", "ghp_supersecret"),
        (
            "GITHUB_STATS_STORE__REDIS_URL",
            "redis://user:hunter2@cache:6379/0",
        ),
        (
            "GITHUB_STATS_AMQP__URL",
            "amqp://guest:rabbitpw@mq:5672/%2f",
        ),
    ];
    let (c, _) = extract_only(None, &env);
    let debug = format!("{c:?}");
    for secret in ["ghp_supersecret", "hunter2", "rabbitpw"] {
        assert!(!debug.contains(secret), "Debug shows {secret}: {debug}");
    }
    assert!(
        debug.contains("redis://user:REDACTED@cache:6379/0"),
        "{debug}"
    );

    let bad = [
        (
            "GITHUB_STATS_STORE__REDIS_URL",
            "http://user:hunter2@cache:6379",
        ),
        ("GITHUB_STATS_AMQP__URL", "amqp://guest:rabbitpw@"),
        ("GITHUB_STATS_GITHUB__TOKN", "ghp_typo_secret"),
        ("GITHUB_STATS_GITHUB__APP_ID", "12"),
    ];
    let errors = load_from(None, env_with(&bad)).expect_err("invalid");
    let text = errors.to_string();
    for secret in ["hunter2", "rabbitpw", "ghp_typo_secret", "t0ken"] {
        assert!(!text.contains(secret), "errors show {secret}: {text}");
    }

    let file = "[github]\ntoken = \"ghp_unterminated\n";
    let temp = write_file("c.toml", file);
    let errors = load_from(Some(&temp.path), env_with(&[])).expect_err("parse error");
    let text = errors.to_string();
    assert!(text.contains("cannot parse config file"), "{text}");
    assert!(!text.contains("ghp_unterminated"), "{text}");
}

/// Keys whose feature is not built yet are rejected when set to anything but their default,
/// naming the feature; the default itself (in any spelling) is accepted.
#[test]
fn pending_features_reject_non_default_values() {
    let cases: &[EnvCase] = &[
        (
            "leader election keys are not pending",
            &[
                ("GITHUB_STATS_STORE__REDIS_URL", "redis://cache:6379"),
                ("GITHUB_STATS_LEADER_ELECTION__ENABLED", "true"),
                ("GITHUB_STATS_LEADER_ELECTION__BACKEND", "redis"),
                ("GITHUB_STATS_LEADER_ELECTION__LEASE_NAME", "other-lease"),
                ("GITHUB_STATS_LEADER_ELECTION__LEASE_DURATION", "20s"),
                ("GITHUB_STATS_LEADER_ELECTION__RENEW_DEADLINE", "12s"),
                ("GITHUB_STATS_LEADER_ELECTION__RETRY_PERIOD", "3s"),
                ("GITHUB_STATS_LEADER_ELECTION__IDENTITY", "pod-0"),
                ("GITHUB_STATS_LEADER_ELECTION__MODE", "per_org"),
                ("GITHUB_STATS_LEADER_ELECTION__REBALANCE_DELAY", "30s"),
                ("GITHUB_STATS_LEADER_ELECTION__MAX_ORGS_PER_REPLICA", "5"),
            ],
            &[],
        ),
        (
            "copilot keys are not pending",
            &[
                ("GITHUB_STATS_COPILOT__ENABLED", "true"),
                ("GITHUB_STATS_COPILOT__INCLUDE_SEATS", "false"),
                ("GITHUB_STATS_COPILOT__MAX_LABEL_VALUES", "10"),
                ("GITHUB_STATS_COPILOT__USER_LABEL_MODE", "hashed"),
                ("GITHUB_STATS_COPILOT__USER_LABEL_SALT", "pepper"),
            ],
            &[],
        ),
        (
            "scraper keys are not pending",
            &[
                ("GITHUB_STATS_GITHUB__ORGS__0__PER_ORG_CONCURRENCY", "8"),
                ("GITHUB_STATS_GITHUB__EXCLUDE_BOTS", "true"),
                ("GITHUB_STATS_RATE_LIMIT__MIN_REMAINING_THRESHOLD", "50"),
                ("GITHUB_STATS_RETRY__MAX_ATTEMPTS", "3"),
                ("GITHUB_STATS_LOC__REFRESH_INTERVAL", "12h"),
                ("GITHUB_STATS_GITHUB__UNHEALTHY_COOLDOWN", "5m"),
            ],
            &[],
        ),
        (
            "defaults in other spellings",
            &[
                ("GITHUB_STATS_BACKFILL__REQUEUE_DELAYS", "60s,300s,30m,120m"),
                ("GITHUB_STATS_RETRY__JITTER", "yes"),
                ("GITHUB_STATS_LEADER_ELECTION__STATIC_ROLE", "leader"),
                ("GITHUB_STATS_GITHUB__ORGS__0__REPO_ALLOWLIST", "*"),
            ],
            &[],
        ),
        (
            "foundation keys are not pending",
            &[
                ("GITHUB_STATS_STORE__METRIC_REFRESH_INTERVAL", "10s"),
                ("GITHUB_STATS_GITHUB__REQUEST_TIMEOUT", "5s"),
                ("GITHUB_STATS_GITHUB__API_BASE_URL", "http://127.0.0.1:9"),
            ],
            &[],
        ),
    ];
    for (case, env, want) in cases {
        check(case, None, env, want);
    }
    let file = "[[github.orgs]]\norg = \"acme\"\nrepo_allowlist = [\"api-*\"]\n";
    let env = [("GITHUB_STATS_GITHUB__ORGS", UNSET)];
    let config = check("org allowlist in file", Some(("c.toml", file)), &env, &[]);
    let allow = config.map(|c| c.github.orgs[0].repo_allowlist.clone());
    assert_eq!(allow.map(|a| a.len()), Some(1));
}

/// Unknown keys in the file (top level, nested, in an org) and unknown `GITHUB_STATS_*`
/// variables are errors naming the key; the env one suggests the nearest variable.
#[test]
fn unknown_keys_are_rejected() {
    let file = "[server]\nlisten_adr = \"0.0.0.0:1\"\n[metrics]\ntopology = \"x\"\n[github]\norgs = [{ org = \"a\", tokn = \"x\" }]\n";
    let env = [("GITHUB_STATS_GITHUB__ORGS", UNSET)];
    let want = [
        ("server.listen_adr", "unknown key"),
        ("metrics", "unknown key"),
        ("github.orgs[0].tokn", "unknown key"),
    ];
    check("file", Some(("c.toml", file)), &env, &want);

    let env = [("GITHUB_STATS_SERVER__LISTEN_ADR", "0.0.0.0:1")];
    let want = [(
        "GITHUB_STATS_SERVER__LISTEN_ADR",
        "did you mean GITHUB_STATS_SERVER__LISTEN_ADDR?",
    )];
    check("env", None, &env, &want);
    let env = [("GITHUB_STATS_INITIAL_ROLE", "follower")];
    check(
        "go-era variable",
        None,
        &env,
        &[(
            "GITHUB_STATS_INITIAL_ROLE",
            "GITHUB_STATS_LEADER_ELECTION__STATIC_ROLE=follower (or leader), the key \
             `leader_election.static_role`",
        )],
    );
    let env = [("GITHUB_STATS_GITHUB__ORGS__0__NAME", "x")];
    check(
        "org env",
        None,
        &env,
        &[("GITHUB_STATS_GITHUB__ORGS__0__NAME", "unknown")],
    );
}

/// Each validation rule catches its mistake, naming the key.
#[test]
fn validation_rules_name_the_key() {
    let cases: &[EnvCase] = &[
        (
            "enums",
            &[
                ("GITHUB_STATS_SERVER__LOG_LEVEL", "verbose"),
                ("GITHUB_STATS_SERVER__LOG_FORMAT", "xml"),
                ("GITHUB_STATS_STORE__REDIS_MODE", "cluster"),
                ("GITHUB_STATS_COPILOT__USER_LABEL_MODE", "email"),
            ],
            &[
                (
                    "server.log_level",
                    "expected one of trace|debug|info|warn|error",
                ),
                ("server.log_format", "json|text"),
                ("store.redis_mode", "standalone|sentinel"),
                ("copilot.user_label_mode", "login|id|hashed|none"),
            ],
        ),
        (
            "zero and absurd intervals",
            &[
                ("GITHUB_STATS_SERVER__SHUTDOWN_TIMEOUT", "0s"),
                ("GITHUB_STATS_GITHUB__SCRAPE_INTERVAL", "30d"),
                ("GITHUB_STATS_STORE__METRIC_REFRESH_INTERVAL", "0s"),
            ],
            &[
                ("server.shutdown_timeout", "must be between 1s and 10m"),
                ("github.scrape_interval", "must be between 1s and 1day"),
                ("store.metric_refresh_interval", "must be between"),
            ],
        ),
        (
            "backfill queue and buffer sizes",
            &[
                ("GITHUB_STATS_BACKFILL__MEMORY_QUEUE_CAPACITY", "0"),
                ("GITHUB_STATS_BACKFILL__BUFFER_CAPACITY", "2000000"),
            ],
            &[
                (
                    "backfill.memory_queue_capacity",
                    "must be between 1 and 10000000",
                ),
                ("backfill.buffer_capacity", "must be between 1 and 1000000"),
            ],
        ),
        (
            "copilot hashed labels need a salt; label cap in range",
            &[
                ("GITHUB_STATS_COPILOT__USER_LABEL_MODE", "hashed"),
                ("GITHUB_STATS_COPILOT__MAX_LABEL_VALUES", "0"),
            ],
            &[
                (
                    "copilot.user_label_salt",
                    "required when copilot.user_label_mode=hashed",
                ),
                ("copilot.max_label_values", "must be between 1 and 10000"),
            ],
        ),
        (
            "copilot runs more often than the store forgets",
            &[
                ("GITHUB_STATS_COPILOT__ENABLED", "true"),
                ("GITHUB_STATS_COPILOT__SCRAPE_INTERVAL", "2h"),
                ("GITHUB_STATS_STORE__RETENTION", "1h"),
            ],
            &[(
                "copilot.scrape_interval",
                "must be shorter than store.retention",
            )],
        ),
        (
            "org override interval",
            &[("GITHUB_STATS_GITHUB__ORGS__0__SCRAPE_INTERVAL", "0s")],
            &[("github.orgs[0].scrape_interval", "must be between")],
        ),
        (
            "duplicate and bad org names",
            &[("GITHUB_STATS_GITHUB__ORGS", "acme,Acme,a/b")],
            &[
                ("github.orgs[1].org", "duplicate org"),
                ("github.orgs[2].org", "not a GitHub login"),
            ],
        ),
        (
            "org index past the list",
            &[("GITHUB_STATS_GITHUB__ORGS__1__SCRAPE_INTERVAL", "1m")],
            &[("github.orgs[1].org", "needs an `org` name")],
        ),
        (
            "no credentials",
            &[("GITHUB_STATS_GITHUB__TOKEN", UNSET)],
            &[("github.token", "no GitHub credentials")],
        ),
        (
            "app id without key",
            &[
                ("GITHUB_STATS_GITHUB__TOKEN", UNSET),
                ("GITHUB_STATS_GITHUB__APP_ID", "123"),
            ],
            &[("github.app_id", "needs github.private_key_path")],
        ),
        (
            "api base url",
            &[("GITHUB_STATS_GITHUB__API_BASE_URL", "ftp://example.com")],
            &[("github.api_base_url", "http or https")],
        ),
        (
            "numbers",
            &[
                ("GITHUB_STATS_BACKFILL__PREFETCH", "0"),
                ("GITHUB_STATS_BACKFILL__CONSUMER_COUNT", "-1"),
                ("GITHUB_STATS_RETRY__MAX_ATTEMPTS", "many"),
            ],
            &[
                ("backfill.prefetch", "must be between 1 and 1000"),
                ("backfill.consumer_count", "whole number"),
                ("retry.max_attempts", "whole number"),
            ],
        ),
        (
            "requeue delays unsorted",
            &[("GITHUB_STATS_BACKFILL__REQUEUE_DELAYS", "5m,1m")],
            &[("backfill.requeue_delays", "strictly increasing")],
        ),
        (
            "requeue delays empty",
            &[("GITHUB_STATS_BACKFILL__REQUEUE_DELAYS", "")],
            &[("backfill.requeue_delays", "at least one delay")],
        ),
        (
            "url schemes",
            &[
                ("GITHUB_STATS_STORE__REDIS_URL", "http://cache:6379"),
                ("GITHUB_STATS_AMQP__URL", "redis://mq"),
            ],
            &[
                ("store.redis_url", "redis|rediss|redis+unix|unix"),
                ("amqp.url", "amqp|amqps"),
            ],
        ),
        (
            "sentinel credentials in standalone mode",
            &[
                ("GITHUB_STATS_STORE__REDIS_URL", "redis://cache:6379"),
                ("GITHUB_STATS_STORE__REDIS_SENTINEL_USERNAME", "watcher"),
                ("GITHUB_STATS_STORE__REDIS_SENTINEL_PASSWORD", "s3cret"),
            ],
            &[
                (
                    "store.redis_sentinel_username",
                    "only used when store.redis_mode=sentinel",
                ),
                (
                    "store.redis_sentinel_password",
                    "only used when store.redis_mode=sentinel",
                ),
            ],
        ),
        (
            "sentinel user without password",
            &[
                ("GITHUB_STATS_STORE__REDIS_URL", "redis://cache:6379"),
                ("GITHUB_STATS_STORE__REDIS_MODE", "sentinel"),
                ("GITHUB_STATS_STORE__REDIS_SENTINEL_ADDRS", "s1:26379"),
                ("GITHUB_STATS_STORE__REDIS_MASTER_SET", "mymaster"),
                ("GITHUB_STATS_STORE__REDIS_SENTINEL_USERNAME", "watcher"),
            ],
            &[(
                "store.redis_sentinel_username",
                "needs store.redis_sentinel_password",
            )],
        ),
        (
            "sentinel without addrs",
            &[("GITHUB_STATS_STORE__REDIS_MODE", "sentinel")],
            &[
                (
                    "store.redis_sentinel_addrs",
                    "required when store.redis_mode=sentinel",
                ),
                (
                    "store.redis_master_set",
                    "required when store.redis_mode=sentinel",
                ),
            ],
        ),
        (
            "invalid glob",
            &[("GITHUB_STATS_GITHUB__ORGS__0__REPO_DENYLIST", "ok-*,[oops")],
            &[("github.orgs[0].repo_denylist[1]", "invalid glob pattern")],
        ),
        (
            "renew deadline not below lease",
            &[("GITHUB_STATS_LEADER_ELECTION__RENEW_DEADLINE", "15s")],
            &[(
                "leader_election.renew_deadline",
                "below leader_election.lease_duration",
            )],
        ),
        (
            "election needs redis",
            &[("GITHUB_STATS_LEADER_ELECTION__ENABLED", "true")],
            &[("leader_election.enabled", "needs store.redis_url")],
        ),
        (
            "booleans",
            &[("GITHUB_STATS_RETRY__JITTER", "maybe")],
            &[("retry.jitter", "expected true or false")],
        ),
    ];
    for (case, env, want) in cases {
        check(case, None, env, want);
    }
}

/// No `leader_election` key is pending any more: each one is read and checked for real.
#[test]
fn no_leader_election_key_is_pending() {
    for def in keys::KEYS {
        if def.path.starts_with("leader_election.") {
            assert_eq!(keys::pending_feature(def.path), None, "{}", def.path);
        }
    }
    assert_eq!(keys::pending_feature("copilot.enabled"), None);
}

/// With Redis configured, for the cases that elect.
const REDIS: (&str, &str) = ("GITHUB_STATS_STORE__REDIS_URL", "redis://cache:6379");
const ELECT: (&str, &str) = ("GITHUB_STATS_LEADER_ELECTION__ENABLED", "true");

/// The new keys in their env forms, read into the typed config.
#[test]
fn leader_election_env_forms() {
    let env = [
        REDIS,
        ELECT,
        ("GITHUB_STATS_LEADER_ELECTION__MODE", "per_org"),
        ("GITHUB_STATS_LEADER_ELECTION__MAX_ORGS_PER_REPLICA", "2"),
        ("GITHUB_STATS_LEADER_ELECTION__REBALANCE_DELAY", "3s"),
        ("GITHUB_STATS_LEADER_ELECTION__IDENTITY", "pod-1"),
        ("GITHUB_STATS_LEADER_ELECTION__LEASE_NAME", "gse:leader"),
    ];
    let c = check("env forms", None, &env, &[]).expect("loads");
    let l = &c.leader_election;
    assert!(l.enabled);
    assert_eq!(l.mode, ElectionMode::PerOrg);
    assert_eq!(l.max_orgs_per_replica, 2);
    assert_eq!(l.rebalance_delay, Duration::from_secs(3));
    assert_eq!(l.identity, "pod-1");
    assert_eq!(l.lease_name, "gse:leader");

    // Enum names are case-insensitive, like the other enums; the file form reads the same.
    let env = [
        REDIS,
        ELECT,
        ("GITHUB_STATS_LEADER_ELECTION__MODE", "PER_ORG"),
    ];
    let c = check("upper-case mode", None, &env, &[]).expect("loads");
    assert_eq!(c.leader_election.mode, ElectionMode::PerOrg);
    let file = "[leader_election]\nenabled = true\nmode = \"per_org\"\nmax_orgs_per_replica = 3\nrebalance_delay = \"4s\"\n";
    let c = check("toml", Some(("c.toml", file)), &[REDIS], &[]).expect("loads");
    assert_eq!(c.leader_election.max_orgs_per_replica, 3);
    assert_eq!(c.leader_election.rebalance_delay, Duration::from_secs(4));
}

/// The short timings the CI election tests use validate, in both modes.
#[test]
fn short_ci_election_timings_validate() {
    let timings = [
        REDIS,
        ELECT,
        ("GITHUB_STATS_LEADER_ELECTION__LEASE_DURATION", "3s"),
        ("GITHUB_STATS_LEADER_ELECTION__RENEW_DEADLINE", "2s"),
        ("GITHUB_STATS_LEADER_ELECTION__RETRY_PERIOD", "500ms"),
    ];
    let c = check("ci timings", None, &timings, &[]).expect("loads");
    assert_eq!(c.leader_election.lease_duration, Duration::from_secs(3));
    assert_eq!(c.leader_election.renew_deadline, Duration::from_secs(2));
    assert_eq!(c.leader_election.retry_period, Duration::from_millis(500));
    let mut per_org = timings.to_vec();
    per_org.push(("GITHUB_STATS_LEADER_ELECTION__MODE", "per_org"));
    per_org.push(("GITHUB_STATS_LEADER_ELECTION__REBALANCE_DELAY", "500ms"));
    let c = check("ci timings per org", None, &per_org, &[]).expect("loads");
    assert_eq!(
        c.leader_election.rebalance_delay,
        Duration::from_millis(500)
    );
}

/// Each leader-election rule: the accepted side loads, the rejected side names key and reason.
#[test]
fn leader_election_rules() {
    let accepted: &[(&str, &[(&str, &str)])] = &[
        (
            "per_org with election and a cap",
            &[
                REDIS,
                ELECT,
                ("GITHUB_STATS_LEADER_ELECTION__MODE", "per_org"),
                ("GITHUB_STATS_LEADER_ELECTION__MAX_ORGS_PER_REPLICA", "1"),
            ],
        ),
        (
            "follower with a shared store",
            &[
                REDIS,
                ("GITHUB_STATS_LEADER_ELECTION__STATIC_ROLE", "follower"),
            ],
        ),
        (
            "renew just above 1.2 × retry",
            &[
                ("GITHUB_STATS_LEADER_ELECTION__RENEW_DEADLINE", "2401ms"),
                ("GITHUB_STATS_LEADER_ELECTION__RETRY_PERIOD", "2s"),
            ],
        ),
        (
            "rebalance delay equal to retry period",
            &[("GITHUB_STATS_LEADER_ELECTION__REBALANCE_DELAY", "2s")],
        ),
        (
            "backend in another case",
            &[("GITHUB_STATS_LEADER_ELECTION__BACKEND", "Redis")],
        ),
        (
            "kubernetes backend in a namespace, fenced in Redis",
            &[
                REDIS,
                ELECT,
                ("GITHUB_STATS_LEADER_ELECTION__BACKEND", "kubernetes"),
                ("GITHUB_STATS_LEADER_ELECTION__NAMESPACE", "monitoring"),
            ],
        ),
        (
            "lease name with colons",
            &[(
                "GITHUB_STATS_LEADER_ELECTION__LEASE_NAME",
                "team:gse:leader",
            )],
        ),
    ];
    for (case, env) in accepted {
        check(case, None, env, &[]);
    }

    let rejected: &[EnvCase] = &[
        (
            "kubernetes backend without Redis for the fences",
            &[
                ("GITHUB_STATS_LEADER_ELECTION__ENABLED", "true"),
                ("GITHUB_STATS_LEADER_ELECTION__BACKEND", "kubernetes"),
            ],
            &[(
                "leader_election.enabled",
                "the kubernetes backend needs store.redis_url",
            )],
        ),
        (
            "kubernetes backend with a lease name that is not an object name",
            &[
                ("GITHUB_STATS_LEADER_ELECTION__BACKEND", "kubernetes"),
                ("GITHUB_STATS_LEADER_ELECTION__LEASE_NAME", "Team_Leader"),
            ],
            &[("leader_election.lease_name", "names Lease objects")],
        ),
        (
            "kubernetes backend with a lease of a fraction of a second",
            &[
                ("GITHUB_STATS_LEADER_ELECTION__BACKEND", "kubernetes"),
                ("GITHUB_STATS_LEADER_ELECTION__LEASE_DURATION", "15500ms"),
            ],
            &[(
                "leader_election.lease_duration",
                "a whole number of seconds",
            )],
        ),
        (
            "a namespace with the redis backend",
            &[("GITHUB_STATS_LEADER_ELECTION__NAMESPACE", "monitoring")],
            &[(
                "leader_election.namespace",
                "only applies to leader_election.backend=kubernetes",
            )],
        ),
        (
            "unknown backend",
            &[("GITHUB_STATS_LEADER_ELECTION__BACKEND", "etcd")],
            &[(
                "leader_election.backend",
                "expected one of redis|kubernetes",
            )],
        ),
        (
            "unknown mode",
            &[("GITHUB_STATS_LEADER_ELECTION__MODE", "sharded")],
            &[("leader_election.mode", "expected one of single|per_org")],
        ),
        (
            "per_org without election",
            &[REDIS, ("GITHUB_STATS_LEADER_ELECTION__MODE", "per_org")],
            &[("leader_election.mode", "needs leader_election.enabled=true")],
        ),
        (
            "follower without a shared store",
            &[("GITHUB_STATS_LEADER_ELECTION__STATIC_ROLE", "follower")],
            &[(
                "leader_election.static_role",
                "set store.redis_url (without it this replica would serve nothing)",
            )],
        ),
        (
            "static role under election",
            &[
                REDIS,
                ELECT,
                ("GITHUB_STATS_LEADER_ELECTION__STATIC_ROLE", "follower"),
            ],
            &[(
                "leader_election.static_role",
                "only applies when leader_election.enabled=false",
            )],
        ),
        (
            "election without redis",
            &[ELECT],
            &[("leader_election.enabled", "needs store.redis_url")],
        ),
        (
            "zero retry period",
            &[("GITHUB_STATS_LEADER_ELECTION__RETRY_PERIOD", "0s")],
            &[("leader_election.retry_period", "must be above 0")],
        ),
        (
            "zero renew deadline",
            &[("GITHUB_STATS_LEADER_ELECTION__RENEW_DEADLINE", "0s")],
            &[("leader_election.renew_deadline", "must be above 0")],
        ),
        (
            "renew deadline above the lease",
            &[
                ("GITHUB_STATS_LEADER_ELECTION__LEASE_DURATION", "3s"),
                ("GITHUB_STATS_LEADER_ELECTION__RENEW_DEADLINE", "5s"),
            ],
            &[(
                "leader_election.renew_deadline",
                "must be below leader_election.lease_duration (3s)",
            )],
        ),
        (
            "lease out of range",
            &[("GITHUB_STATS_LEADER_ELECTION__LEASE_DURATION", "0s")],
            &[(
                "leader_election.lease_duration",
                "must be between 1s and 10m",
            )],
        ),
        (
            "retry equal to renew",
            &[("GITHUB_STATS_LEADER_ELECTION__RETRY_PERIOD", "10s")],
            &[(
                "leader_election.retry_period",
                "renew_deadline (10s), which must exceed 1.2 × retry_period = 12s",
            )],
        ),
        (
            "renew exactly 1.2 × retry",
            &[
                ("GITHUB_STATS_LEADER_ELECTION__RENEW_DEADLINE", "2400ms"),
                ("GITHUB_STATS_LEADER_ELECTION__RETRY_PERIOD", "2s"),
            ],
            &[(
                "leader_election.retry_period",
                "must exceed 1.2 × retry_period",
            )],
        ),
        (
            "rebalance delay below retry period",
            &[("GITHUB_STATS_LEADER_ELECTION__REBALANCE_DELAY", "1s")],
            &[(
                "leader_election.rebalance_delay",
                "must be at least leader_election.retry_period (2s)",
            )],
        ),
        (
            "absurd rebalance delay",
            &[("GITHUB_STATS_LEADER_ELECTION__REBALANCE_DELAY", "2h")],
            &[(
                "leader_election.rebalance_delay",
                "must be between 0s and 1h",
            )],
        ),
        (
            "cap in single mode",
            &[("GITHUB_STATS_LEADER_ELECTION__MAX_ORGS_PER_REPLICA", "2")],
            &[(
                "leader_election.max_orgs_per_replica",
                "only applies when leader_election.mode=per_org",
            )],
        ),
        (
            "cap not a number",
            &[("GITHUB_STATS_LEADER_ELECTION__MAX_ORGS_PER_REPLICA", "-1")],
            &[("leader_election.max_orgs_per_replica", "whole number")],
        ),
        (
            "empty lease name",
            &[("GITHUB_STATS_LEADER_ELECTION__LEASE_NAME", "")],
            &[("leader_election.lease_name", "must not be empty")],
        ),
        (
            "lease name with whitespace",
            &[("GITHUB_STATS_LEADER_ELECTION__LEASE_NAME", "my lease")],
            &[("leader_election.lease_name", "must not contain whitespace")],
        ),
        (
            "blank identity",
            &[("GITHUB_STATS_LEADER_ELECTION__IDENTITY", "  ")],
            &[("leader_election.identity", "must not be empty")],
        ),
        (
            "every timing problem at once",
            &[
                ELECT,
                ("GITHUB_STATS_LEADER_ELECTION__RENEW_DEADLINE", "20s"),
                ("GITHUB_STATS_LEADER_ELECTION__RETRY_PERIOD", "20s"),
                ("GITHUB_STATS_LEADER_ELECTION__MODE", "per_org"),
            ],
            &[
                ("leader_election.enabled", "needs store.redis_url"),
                ("leader_election.renew_deadline", "below"),
                ("leader_election.retry_period", "1.2 × retry_period"),
                ("leader_election.rebalance_delay", "at least"),
            ],
        ),
    ];
    for (case, env, want) in rejected {
        check(case, None, env, want);
    }
}

/// The identity defaults to `HOSTNAME` (then `/etc/hostname`); an explicit one wins.
#[test]
fn identity_defaults_to_the_host_name() {
    let c = check("hostname", None, &[("HOSTNAME", "pod-7")], &[]).expect("loads");
    assert_eq!(c.leader_election.identity, "pod-7");
    let env = [
        ("HOSTNAME", "pod-7"),
        ("GITHUB_STATS_LEADER_ELECTION__IDENTITY", "replica-a"),
    ];
    let c = check("explicit", None, &env, &[]).expect("loads");
    assert_eq!(c.leader_election.identity, "replica-a");
}

/// TLS CA files: a readable PEM bundle of certificates, only with a TLS URL; the Sentinel
/// password is a secret (never shown, `_file` accepted).
#[test]
fn tls_ca_files_and_sentinel_password_are_checked() {
    let ca = write_file(
        "ca.pem",
        "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n",
    );
    let key = write_file(
        "key.pem",
        "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n",
    );
    let junk = write_file("junk.pem", "not a certificate");
    let path = |file: &TempFile| file.path.to_string_lossy().to_string();
    let (ca, key, junk) = (path(&ca), path(&key), path(&junk));
    let redis = |url: &str, ca: &str| {
        vec![
            ("GITHUB_STATS_STORE__REDIS_URL", url.to_string()),
            ("GITHUB_STATS_STORE__REDIS_TLS_CA_FILE", ca.to_string()),
        ]
    };
    let amqp = |url: &str, ca: &str| {
        vec![
            ("GITHUB_STATS_AMQP__URL", url.to_string()),
            ("GITHUB_STATS_AMQP__TLS_CA_FILE", ca.to_string()),
        ]
    };
    let cases: Vec<OwnedEnvCase> = vec![
        (
            "redis CA without TLS",
            redis("redis://cache:6379", &ca),
            vec![("store.redis_tls_ca_file", "only used with a rediss://")],
        ),
        (
            "redis CA unreadable",
            redis("rediss://cache:6379", "/nonexistent/ca.pem"),
            vec![("store.redis_tls_ca_file", "cannot read CA file")],
        ),
        (
            "redis CA not PEM",
            redis("rediss://cache:6379", &junk),
            vec![("store.redis_tls_ca_file", "no PEM CERTIFICATE")],
        ),
        (
            "redis CA holds a key",
            redis("rediss://cache:6379", &key),
            vec![("store.redis_tls_ca_file", "no PEM CERTIFICATE")],
        ),
        (
            "amqp CA without TLS",
            amqp("amqp://mq", &ca),
            vec![("amqp.tls_ca_file", "only used with an amqps://")],
        ),
        (
            "amqp CA unreadable",
            amqp("amqps://mq", "/nonexistent/ca.pem"),
            vec![("amqp.tls_ca_file", "cannot read CA file")],
        ),
    ];
    for (case, env, want) in cases {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        check(case, None, &env, &want);
    }

    let mut env = redis("rediss://cache:6379", &ca);
    env.extend(amqp("amqps://mq", &ca));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let config = check("TLS with CA files loads", None, &env, &[]).expect("loads");
    assert_eq!(
        config.store.redis_tls_ca_file.as_deref(),
        Some(Path::new(&ca))
    );
    assert_eq!(config.amqp.tls_ca_file.as_deref(), Some(Path::new(&ca)));

    let secret_file = write_file("sentinel-pass", "s3ntinel-pw\n");
    let secret_path = path(&secret_file);
    let sentinel = [
        ("GITHUB_STATS_STORE__REDIS_URL", "redis://cache:6379"),
        ("GITHUB_STATS_STORE__REDIS_MODE", "sentinel"),
        ("GITHUB_STATS_STORE__REDIS_SENTINEL_ADDRS", "s1:26379"),
        ("GITHUB_STATS_STORE__REDIS_MASTER_SET", "mymaster"),
        (
            "GITHUB_STATS_STORE__REDIS_SENTINEL_PASSWORD_FILE",
            secret_path.as_str(),
        ),
    ];
    let config = check("sentinel password from a file", None, &sentinel, &[]).expect("loads");
    let password = config.store.redis_sentinel_password.as_ref();
    assert_eq!(password.map(|p| p.expose_secret()), Some("s3ntinel-pw"));
    assert!(!format!("{config:?}").contains("s3ntinel-pw"));
}

/// App auth: the key file must be a readable PEM RSA key, token and App are exclusive.
#[test]
fn app_private_keys_are_checked() {
    let pkcs1 = write_file(
        "app.pem",
        "-----BEGIN RSA PRIVATE KEY-----\nMAMCAQA=\n-----END RSA PRIVATE KEY-----\n",
    );
    let ec = write_file(
        "ec.pem",
        "-----BEGIN EC PRIVATE KEY-----\nMAMCAQA=\n-----END EC PRIVATE KEY-----\n",
    );
    let garbage = write_file("junk.pem", "not a key");
    let key = |file: &TempFile| file.path.to_string_lossy().to_string();
    let (good, ec, junk) = (key(&pkcs1), key(&ec), key(&garbage));
    let app = |path: &str| {
        vec![
            ("GITHUB_STATS_GITHUB__TOKEN", UNSET.to_string()),
            ("GITHUB_STATS_GITHUB__APP_ID", "42".to_string()),
            ("GITHUB_STATS_GITHUB__PRIVATE_KEY_PATH", path.to_string()),
        ]
    };
    let cases: Vec<OwnedEnvCase> = vec![
        (
            "ec key",
            app(&ec),
            vec![("github.private_key_path", "expected an RSA PRIVATE KEY")],
        ),
        (
            "not pem",
            app(&junk),
            vec![("github.private_key_path", "not a PEM file")],
        ),
        (
            "unreadable",
            app("/nonexistent/key.pem"),
            vec![("github.private_key_path", "cannot read private key")],
        ),
        (
            "token and app",
            vec![
                ("GITHUB_STATS_GITHUB__APP_ID", "42".to_string()),
                ("GITHUB_STATS_GITHUB__PRIVATE_KEY_PATH", good.clone()),
            ],
            vec![("github.token", "not both")],
        ),
    ];
    for (case, env, want) in cases {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        check(case, None, &env, &want);
    }
    let valid = app(&good);
    let env: Vec<(&str, &str)> = valid.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let config = check("valid App key loads", None, &env, &[]);
    assert_eq!(config.and_then(|c| c.github.app_id), Some(42));
}

/// `config/default.toml` sets every key that has a default to exactly that default, and
/// mentions (commented out) every key without one, so the file cannot drift from the code.
#[test]
fn default_toml_matches_built_in_defaults() {
    let path = repo_file("config/default.toml");
    let from_file = load_from(Some(&path), env_with(&[])).expect("default.toml loads");
    let built_in = load_from(None, env_with(&[])).expect("defaults load");
    assert_eq!(format!("{from_file:?}"), format!("{built_in:?}"));

    let text = std::fs::read_to_string(&path).expect("read default.toml");
    let file_only = config::Config::builder()
        .add_source(config::File::from(path.as_path()))
        .build()
        .expect("parse default.toml");
    let tree = config::Source::collect(&file_only).expect("tree");
    for def in keys::KEYS {
        let leaf = def.path.rsplit('.').next().unwrap_or(def.path);
        match def.default {
            keys::DefaultValue::Unset => assert!(
                text.contains(&format!("# {leaf} =")),
                "default.toml does not document unset key {}",
                def.path
            ),
            _ => assert!(
                extract::lookup(&tree, def.path).is_some(),
                "default.toml does not set {}",
                def.path
            ),
        }
    }
    for def in keys::ORG_KEYS {
        assert!(
            text.contains(&format!("# {} =", def.path)),
            "default.toml does not document org key {}",
            def.path
        );
    }
}

/// Every uncommented line of `config/example.env` is a known variable and together they load.
#[test]
fn example_env_loads() {
    let text = std::fs::read_to_string(repo_file("config/example.env")).expect("read example.env");
    let env: Vec<(String, String)> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert!(env.len() >= 3, "example.env sets almost nothing");
    if let Err(errors) = load_from(None, env) {
        panic!("example.env does not load:\n{errors}");
    }
}

/// A missing file, an unknown extension and a syntax error are reported against `--config`.
#[test]
fn unusable_config_file_is_reported() {
    let errors =
        load_from(Some(Path::new("/nonexistent/c.toml")), env_with(&[])).expect_err("missing");
    assert_eq!(errors.problems[0].key, "--config");
    assert!(errors.problems[0]
        .reason
        .contains("cannot read config file"));
    check(
        "ini",
        Some(("c.ini", "x=1")),
        &[],
        &[("--config", "unsupported file extension")],
    );
    check(
        "yaml syntax",
        Some(("c.yaml", "server: [")),
        &[],
        &[("--config", "cannot parse")],
    );
}

/// A credential over plain `http://` to a host that is not loopback is refused unless
/// `github.allow_insecure_http` is set; loopback (the fake, a local proxy) stays allowed.
#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let base = |url: &'static str| [("GITHUB_STATS_GITHUB__API_BASE_URL", url)];
    for url in [
        "http://ghe.example.com/api/v3",
        "http://10.0.0.7:8080/",
        "http://[2001:db8::1]/",
        "http://localhost.example.com/",
    ] {
        check(
            url,
            None,
            &base(url),
            &[("github.api_base_url", "github.allow_insecure_http")],
        );
        let allowed = [
            ("GITHUB_STATS_GITHUB__API_BASE_URL", url),
            ("GITHUB_STATS_GITHUB__ALLOW_INSECURE_HTTP", "true"),
        ];
        check(url, None, &allowed, &[]);
    }
    for url in [
        "https://ghe.example.com/api/v3",
        "http://127.0.0.1:9400/",
        "http://127.8.9.10/",
        "http://[::1]:9400/",
        "http://localhost:9400/",
        "http://LOCALHOST./",
    ] {
        check(url, None, &base(url), &[]);
    }
}

/// The response limits are read, defaulted and range-checked.
#[test]
fn response_limits_are_read_and_checked() {
    let c = check("defaults", None, &[], &[]).expect("loads");
    assert_eq!(c.github.max_response_bytes, 32 << 20);
    assert_eq!(c.github.max_response_bytes_in_flight, 32 << 20);
    assert_eq!(c.github.max_pages_per_listing, 1000);
    assert!(!c.github.allow_insecure_http);
    let c = check(
        "set",
        None,
        &[
            ("GITHUB_STATS_GITHUB__MAX_RESPONSE_BYTES", "1048576"),
            (
                "GITHUB_STATS_GITHUB__MAX_RESPONSE_BYTES_IN_FLIGHT",
                "2097152",
            ),
            ("GITHUB_STATS_GITHUB__MAX_PAGES_PER_LISTING", "20"),
        ],
        &[],
    )
    .expect("loads");
    assert_eq!(c.github.max_response_bytes, 1 << 20);
    assert_eq!(c.github.max_response_bytes_in_flight, 2 << 20);
    assert_eq!(c.github.max_pages_per_listing, 20);
    check(
        "out of range",
        None,
        &[
            ("GITHUB_STATS_GITHUB__MAX_RESPONSE_BYTES", "100"),
            ("GITHUB_STATS_GITHUB__MAX_PAGES_PER_LISTING", "0"),
        ],
        &[
            ("github.max_response_bytes", "between"),
            ("github.max_pages_per_listing", "between"),
        ],
    );
    check(
        "budget below one body",
        None,
        &[
            ("GITHUB_STATS_GITHUB__MAX_RESPONSE_BYTES", "4194304"),
            (
                "GITHUB_STATS_GITHUB__MAX_RESPONSE_BYTES_IN_FLIGHT",
                "1048576",
            ),
        ],
        &[(
            "github.max_response_bytes_in_flight",
            "at least github.max_response_bytes",
        )],
    );
}

/// `telemetry.*`: defaults, the ratio as a number in [0, 1] (out of range refused, never
/// clamped), the endpoint from the key (a base URL gets `/v1/traces`) or the standard
/// variables, a URL without scheme refused, and enabled without any endpoint refused.
#[test]
fn telemetry_keys() {
    let config = check("defaults", None, &[], &[]).expect("loads");
    let t = &config.telemetry;
    assert!(!t.otel_enabled && t.endpoint.is_none());
    assert_eq!(t.trace_mode, TraceMode::Sampled);
    assert!((t.sample_ratio - 0.1).abs() < 1e-12);
    assert_eq!(t.service_name, "github-stats-exporter");

    let file = "[telemetry]\notel_enabled = true\notel_trace_mode = \"errors\"\n\
                otel_trace_sample_ratio = 0.25\n\
                otel_exporter_otlp_endpoint = \"http://u:pw@collector:4318\"\n";
    let config = check("file", Some(("c.toml", file)), &[], &[]).expect("loads");
    let t = &config.telemetry;
    assert_eq!(t.trace_mode, TraceMode::Errors);
    assert!((t.sample_ratio - 0.25).abs() < 1e-12);
    let endpoint = t.endpoint.as_ref().expect("endpoint");
    assert_eq!(
        endpoint.expose_secret(),
        "http://u:pw@collector:4318/v1/traces"
    );
    assert!(!format!("{endpoint:?}").contains("pw"), "redacted in Debug");

    let keyed = [
        ("GITHUB_STATS_TELEMETRY__OTEL_ENABLED", "true"),
        (
            "GITHUB_STATS_TELEMETRY__OTEL_EXPORTER_OTLP_ENDPOINT",
            "https://c:4318/base/v1/traces",
        ),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"),
    ];
    let config = check("key wins", None, &keyed, &[]).expect("loads");
    let endpoint = config.telemetry.endpoint.expect("endpoint");
    assert_eq!(endpoint.expose_secret(), "https://c:4318/base/v1/traces");

    let base = [
        ("GITHUB_STATS_TELEMETRY__OTEL_ENABLED", "true"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318/"),
    ];
    let config = check("generic variable", None, &base, &[]).expect("loads");
    let endpoint = config.telemetry.endpoint.expect("endpoint");
    assert_eq!(endpoint.expose_secret(), "http://otel:4318/v1/traces");
    let traces = [
        ("GITHUB_STATS_TELEMETRY__OTEL_ENABLED", "true"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://otel:4318/custom",
        ),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://other:4318"),
    ];
    let config = check("traces variable, as given", None, &traces, &[]).expect("loads");
    let endpoint = config.telemetry.endpoint.expect("endpoint");
    assert_eq!(endpoint.expose_secret(), "http://otel:4318/custom");

    let ratio = "GITHUB_STATS_TELEMETRY__OTEL_TRACE_SAMPLE_RATIO";
    let key = "telemetry.otel_trace_sample_ratio";
    check(
        "ratio > 1",
        None,
        &[(ratio, "1.5")],
        &[(key, "between 0 and 1")],
    );
    check(
        "ratio < 0",
        None,
        &[(ratio, "-0.1")],
        &[(key, "between 0 and 1")],
    );
    check(
        "ratio text",
        None,
        &[(ratio, "half")],
        &[(key, "expected a number")],
    );
    let mode = "GITHUB_STATS_TELEMETRY__OTEL_TRACE_MODE";
    check(
        "mode",
        None,
        &[(mode, "all")],
        &[("telemetry.otel_trace_mode", "off|errors")],
    );
    let endpoint_key = "telemetry.otel_exporter_otlp_endpoint";
    let no_scheme = [
        ("GITHUB_STATS_TELEMETRY__OTEL_ENABLED", "true"),
        (
            "GITHUB_STATS_TELEMETRY__OTEL_EXPORTER_OTLP_ENDPOINT",
            "collector:4318",
        ),
    ];
    check(
        "no scheme",
        None,
        &no_scheme,
        &[(endpoint_key, "http:// or https://")],
    );
    let nowhere = [("GITHUB_STATS_TELEMETRY__OTEL_ENABLED", "true")];
    check(
        "enabled, no endpoint",
        None,
        &nowhere,
        &[(endpoint_key, "no OTLP endpoint")],
    );
}
