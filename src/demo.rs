//! `--demo`: starts the fake GitHub in-process on a free loopback port (three orgs of twenty
//! repositories, activity flowing in real time) and points the exporter at it through the ordinary
//! configuration layers, so a newcomer sees real activity metrics within seconds and without
//! credentials. Variables the user already set win over the demo's.

use fake_github::{FakeConfig, FakeGithub};

/// The demo's fake GitHub token (accepted only by the embedded fake).
pub const DEMO_TOKEN: &str = "fake-token";

/// Starts the embedded fake GitHub.
pub fn start_fake() -> std::io::Result<FakeGithub> {
    FakeGithub::spawn(FakeConfig {
        seed: 7,
        orgs: 3,
        // Sized so the first (cold) cycle of all three orgs stays under GitHub's secondary
        // burst limit (900 requests a minute per token), so metrics appear within seconds.
        repos: 20,
        users: 20,
        token: DEMO_TOKEN.to_string(),
        stats_compute_calls: 1,
        ..FakeConfig::default()
    })
}

/// The environment that points the exporter at `fake` (as `GITHUB_STATS_*` pairs).
pub fn demo_env(fake: &FakeGithub) -> Vec<(&'static str, String)> {
    vec![
        (
            "GITHUB_STATS_GITHUB__API_BASE_URL",
            format!("{}/", fake.base_url()),
        ),
        ("GITHUB_STATS_GITHUB__TOKEN", DEMO_TOKEN.to_string()),
        ("GITHUB_STATS_GITHUB__ORGS", fake.org_names().join(",")),
        ("GITHUB_STATS_GITHUB__SCRAPE_INTERVAL", "15s".to_string()),
        ("GITHUB_STATS_SERVER__LOG_FORMAT", "text".to_string()),
        // Pacing at GitHub's rate would stretch the three cold cycles over ~40 s; the embedded
        // fake still enforces its own secondary limits, and the cold cycles stay under them.
        (
            "GITHUB_STATS_RATE_LIMIT__REQUESTS_PER_MINUTE",
            "0".to_string(),
        ),
    ]
}

/// Sets the demo environment for variables the user has not set. Call before loading the
/// configuration, while the process is still single-threaded.
pub fn apply_env(fake: &FakeGithub) {
    for (key, value) in demo_env(fake) {
        if std::env::var_os(key).is_none() {
            std::env::set_var(key, value);
        }
    }
}
