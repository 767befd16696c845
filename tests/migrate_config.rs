//! `github-stats-exporter migrate-config` end to end: the real binary converts the Go-era
//! fixtures of `tests/fixtures/go-config/`, its output passes `--check-config`, secrets never
//! reach stdout or stderr, and what cannot be carried over makes it exit 1.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/go-config");
const SECRETS: [&str; 4] = [
    "redis-S3cret-pw",
    "amqp-S3cret-pw",
    "prod-redis-pw",
    "prod-amqp-pw",
];
const KEY: &str = "-----BEGIN RSA PRIVATE KEY-----\nMAMCAQA=\n-----END RSA PRIVATE KEY-----\n";

/// A directory holding the App key files the fixtures name (`keys/*.pem`) and the secret
/// files their `_file` indirections are pointed at.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("keys")).expect("keys dir");
    for name in ["acme", "widgets", "enterprise", "one", "two"] {
        std::fs::write(dir.path().join(format!("keys/{name}.pem")), KEY).expect("key");
    }
    std::fs::write(dir.path().join("redis-url"), "redis://:pw@unused/2\n").expect("secret");
    std::fs::write(dir.path().join("amqp-url"), "amqp://u:p@rabbit:5672/%2f\n").expect("secret");
    dir
}

fn migrate(dir: &Path, fixture: &str, extra: &[&str]) -> Output {
    common::exporter(&[])
        .current_dir(dir)
        .arg("migrate-config")
        .arg(Path::new(FIXTURES).join(fixture))
        .args(extra)
        .output()
        .expect("run migrate-config")
}

/// `--check-config --config <the output>`, in `dir`, with `env`.
fn check(dir: &Path, toml: &[u8], env: &[(&str, &str)]) -> Output {
    let path: PathBuf = dir.join("new.toml");
    std::fs::write(&path, toml).expect("write output");
    common::exporter(env)
        .current_dir(dir)
        .env("HOSTNAME", "migrate-test")
        .arg("--check-config")
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run --check-config")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_no_secret(output: &Output) {
    let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
    for secret in SECRETS {
        assert!(!all.contains(secret), "{secret} printed:\n{all}");
    }
}

/// Secret files given through the environment, as the change list tells the operator to.
fn secret_env(dir: &Path) -> [(String, String); 2] {
    [
        (
            "GITHUB_STATS_STORE__REDIS_URL_FILE".into(),
            dir.join("redis-url").display().to_string(),
        ),
        (
            "GITHUB_STATS_AMQP__URL_FILE".into(),
            dir.join("amqp-url").display().to_string(),
        ),
    ]
}

fn as_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A Go-era configuration that sets every key converts, and the result passes
/// `--check-config`; the only things not carried over are telemetry keys this build lacks.
#[test]
fn every_key_converts_and_passes_check_config() {
    let dir = workdir();
    let output = migrate(dir.path(), "every-key.yaml", &[]);
    assert_no_secret(&output);
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert!(
        stdout.contains("# ---- migrate-config: changes"),
        "{stdout}"
    );
    assert!(stdout.contains("# secret:"), "{stdout}");
    if stdout.contains("[telemetry]") {
        assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
        assert!(stderr.is_empty(), "{stderr}");
    } else {
        assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
        let blockers: Vec<&str> = stderr.lines().skip(1).collect();
        assert_eq!(blockers.len(), 4, "{stderr}");
        for line in blockers {
            assert!(
                line.contains("`telemetry.") && line.contains("cannot be carried over yet"),
                "{line}"
            );
        }
    }
    let env = secret_env(dir.path());
    let checked = check(dir.path(), &output.stdout, &as_refs(&env));
    assert_eq!(
        checked.status.code(),
        Some(0),
        "--check-config refused the output:\n{}\n{stdout}",
        text(&checked.stderr)
    );
    assert_no_secret(&checked);
}

/// `--include-secrets` writes the URLs inline: the output passes on its own.
#[test]
fn include_secrets_writes_them_inline() {
    let dir = workdir();
    let output = migrate(dir.path(), "every-key.yaml", &["--include-secrets"]);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("redis://:redis-S3cret-pw@unused/2"),
        "{stdout}"
    );
    assert!(!stdout.contains("_file ="), "{stdout}");
    let checked = check(dir.path(), &output.stdout, &[]);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked.stderr));
}

/// Configurations shaped like a production and a local deployment convert cleanly.
#[test]
fn prod_and_local_shapes_convert_cleanly() {
    let dir = workdir();
    for (fixture, needs_secrets) in [("prod-like.yaml", true), ("local-like.yaml", false)] {
        let output = migrate(dir.path(), fixture, &[]);
        assert_no_secret(&output);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{fixture}: {}",
            text(&output.stderr)
        );
        let env = if needs_secrets {
            secret_env(dir.path()).to_vec()
        } else {
            Vec::new()
        };
        let checked = check(dir.path(), &output.stdout, &as_refs(&env));
        assert_eq!(
            checked.status.code(),
            Some(0),
            "{fixture}: {}\n{}",
            text(&checked.stderr),
            text(&output.stdout)
        );
    }
}

/// Unknown keys and malformed durations are listed on stderr, exit 1; the rest is still
/// written.
#[test]
fn what_cannot_be_carried_over_exits_1_with_the_list() {
    let dir = workdir();
    let cases: [(&str, &[&str]); 2] = [
        (
            "unknown-key.yaml",
            &["server.listen_adress", "exporter.debug"],
        ),
        (
            "bad-duration.yaml",
            &[
                "metrics.topology",
                "github.request_timeout",
                "github.orgs[0].scrape_interval",
                "backfill.requeue_delays",
            ],
        ),
    ];
    for (fixture, keys) in cases {
        let output = migrate(dir.path(), fixture, &[]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{fixture}: {stderr}");
        assert_eq!(
            stderr.lines().count(),
            keys.len() + 1,
            "{fixture}: {stderr}"
        );
        for key in keys {
            assert!(
                stderr.contains(&format!("`{key}`")),
                "{fixture}: {key}: {stderr}"
            );
        }
        assert!(text(&output.stdout).contains("[server]"), "{fixture}");
    }
    let missing = migrate(dir.path(), "no-such-file.yaml", &[]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("cannot read"));
}

/// The Go-era role variable is refused with the key that replaces it.
#[test]
fn initial_role_variable_names_static_role() {
    let output = common::exporter(&[
        ("GITHUB_STATS_INITIAL_ROLE", "follower"),
        ("GITHUB_STATS_GITHUB__ORGS", "acme"),
        ("GITHUB_STATS_GITHUB__TOKEN", "x"),
    ])
    .arg("--check-config")
    .output()
    .expect("run");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("GITHUB_STATS_LEADER_ELECTION__STATIC_ROLE=follower")
            && stderr.contains("`leader_election.static_role`"),
        "{stderr}"
    );
}
