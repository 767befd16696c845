//! Property tests of the loader: whatever the environment holds (known keys with arbitrary
//! values, arbitrary `GITHUB_STATS_*` names), loading returns a configuration or a list of
//! problems, and never panics.

use proptest::prelude::*;

use super::keys;
use super::load_from;

/// `GITHUB_STATS_` names of every top-level key (and their `_FILE` companions for secrets).
fn known_names() -> Vec<String> {
    keys::KEYS
        .iter()
        .flat_map(|def| {
            let name = format!(
                "GITHUB_STATS_{}",
                def.path.replace('.', "__").to_ascii_uppercase()
            );
            [name.clone(), format!("{name}_FILE")]
        })
        .chain([
            "GITHUB_STATS_GITHUB__ORGS".to_string(),
            "GITHUB_STATS_GITHUB__ORGS__0__ORG".to_string(),
            "GITHUB_STATS_GITHUB__ORGS__0__PER_ORG_CONCURRENCY".to_string(),
            "GITHUB_STATS_GITHUB__ORGS__3__REPO_ALLOWLIST".to_string(),
        ])
        .collect()
}

/// Values that hit the parsers' edges: numbers, durations, lists, URLs, globs, any text.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{0,25}",
        "-?[0-9]{1,6}(ms|s|m|h|d|w|y|ns|us)?",
        "(true|false|yes|no|1|0|TRUE)",
        "[a-z0-9*?\\[\\]{}!,-]{0,30}",
        "(https?|redis|rediss|amqp|amqps|ftp|unix)://[a-z0-9.:@/\\[\\]%-]{0,30}",
        "[a-zA-Z0-9 ,._/-]{0,40}",
    ]
}

fn env_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    let names = known_names();
    let known = (prop::sample::select(names), value());
    let unknown = ("GITHUB_STATS_[A-Z_]{1,30}", value());
    prop::collection::vec(prop_oneof![4 => known, 1 => unknown], 0..12).prop_map(|mut env| {
        // A usable base, so the fuzzed keys reach extraction and validation.
        env.insert(0, ("GITHUB_STATS_GITHUB__TOKEN".into(), "t0ken".into()));
        env.insert(0, ("GITHUB_STATS_GITHUB__ORGS".into(), "acme".into()));
        env.push(("HOSTNAME".into(), "test-host".into()));
        env
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// Loading never panics, whatever the environment.
    #[test]
    fn loading_any_environment_never_panics(env in env_strategy()) {
        let _ = load_from(None, env);
    }

    /// A config file of arbitrary TOML-ish text is an error or a config, never a panic.
    #[test]
    fn loading_any_file_never_panics(text in "[a-z_\\[\\]=\". 0-9\\n{}:,-]{0,200}") {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, &text).expect("write");
        let env = vec![("HOSTNAME".to_string(), "test-host".to_string())];
        let _ = load_from(Some(&path), env);
    }
}
