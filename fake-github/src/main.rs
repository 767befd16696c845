//! The `fake-github` binary: parses flags, starts [`fake_github::FakeGithub`] and serves until
//! SIGINT/SIGTERM.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use fake_github::{AppAuth, Clock, FakeConfig, FakeGithub, SecondaryLimits};

/// A deterministic fake of the GitHub REST API (see fake-github/README.md).
#[derive(Debug, Parser)]
#[command(name = "fake-github", version)]
struct Args {
    /// Seed of all generated data.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Number of organizations.
    #[arg(long, default_value_t = 2)]
    orgs: usize,
    /// Number of user-owned accounts (after the organizations; `"type": "User"`).
    #[arg(long, default_value_t = 0)]
    user_owners: usize,
    /// Repositories per organization.
    #[arg(long, default_value_t = 30)]
    repos: usize,
    /// Members per organization.
    #[arg(long, default_value_t = 20)]
    users: usize,
    #[arg(long, default_value = "127.0.0.1:9400")]
    listen: SocketAddr,
    /// Personal access token accepted as `Authorization: Bearer|token <t>`.
    #[arg(
        long,
        env = "FAKE_GITHUB_TOKEN",
        default_value = "fake-token",
        hide_env_values = true
    )]
    token: String,
    /// Core budget per token/installation per hour.
    #[arg(long, default_value_t = 5000)]
    rate_limit: u32,
    /// Search budget per token/installation per minute.
    #[arg(long, default_value_t = 30)]
    search_rate_limit: u32,
    /// GraphQL budget in points per token/installation per hour.
    #[arg(long, default_value_t = 5000)]
    graphql_rate_limit: u32,
    /// Length of the core and GraphQL budget windows, in seconds.
    #[arg(long, default_value_t = 3600)]
    rate_limit_window_secs: u32,
    /// Fix the clock at this Unix time (seconds, may be fractional); default: real time.
    #[arg(long)]
    now: Option<f64>,
    /// GitHub App id whose JWTs are accepted (needs --app-public-key).
    #[arg(long, requires = "app_public_key")]
    app_id: Option<u64>,
    /// PEM file with the App's RSA public key.
    #[arg(long, requires = "app_id")]
    app_public_key: Option<PathBuf>,
    /// Slug of the enterprise whose Copilot reports cover every org.
    #[arg(long, default_value = "fake-enterprise")]
    enterprise_slug: String,
    /// The enterprise's own GitHub App id (Copilot enterprise reports; needs
    /// --enterprise-app-public-key).
    #[arg(long, requires = "enterprise_app_public_key")]
    enterprise_app_id: Option<u64>,
    /// PEM file with the enterprise App's RSA public key.
    #[arg(long, requires = "enterprise_app_id")]
    enterprise_app_public_key: Option<PathBuf>,
    /// Secondary limit: max requests in flight per token (0 = off).
    #[arg(long, default_value_t = 100)]
    max_concurrent: u32,
    /// Secondary limit: max requests per burst window per token (0 = off).
    #[arg(long, default_value_t = 900)]
    burst_max: u32,
    #[arg(long, default_value_t = 60)]
    burst_window_secs: u32,
    /// Status of secondary-limit refusals: 403 or 429.
    #[arg(long, default_value_t = 403, value_parser = parse_secondary_status)]
    secondary_status: u16,
    /// Calls to stats/contributors answered 202 per repository before 200.
    #[arg(long, default_value_t = 2)]
    stats_compute_calls: u32,
    /// Weeks of history kept before the current week (min 2).
    #[arg(long, default_value_t = 3)]
    history_weeks: u32,
    /// actix worker threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
}

#[derive(Debug, thiserror::Error)]
enum MainError {
    #[error("cannot read App public key {path}")]
    PublicKey {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the fake on {addr}")]
    Start {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot wait for a signal")]
    Signal(#[source] std::io::Error),
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            eprintln!("fake-github: {msg}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(a: Args) -> Result<(), MainError> {
    let app = match (a.app_id, a.app_public_key) {
        (Some(app_id), Some(path)) => {
            let public_key_pem = std::fs::read_to_string(&path)
                .map_err(|source| MainError::PublicKey { path, source })?;
            Some(AppAuth {
                app_id,
                public_key_pem,
            })
        }
        _ => None,
    };
    let enterprise_app = match (a.enterprise_app_id, a.enterprise_app_public_key) {
        (Some(app_id), Some(path)) => {
            let public_key_pem = std::fs::read_to_string(&path)
                .map_err(|source| MainError::PublicKey { path, source })?;
            Some(AppAuth {
                app_id,
                public_key_pem,
            })
        }
        _ => None,
    };
    let config = FakeConfig {
        seed: a.seed,
        orgs: a.orgs,
        user_owners: a.user_owners,
        repos: a.repos,
        users: a.users,
        token: a.token,
        rate_limit: a.rate_limit,
        search_rate_limit: a.search_rate_limit,
        graphql_rate_limit: a.graphql_rate_limit,
        rate_limit_window_secs: a.rate_limit_window_secs,
        clock: a.now.map(Clock::Fixed).unwrap_or(Clock::Real),
        app,
        secondary: SecondaryLimits {
            max_concurrent: a.max_concurrent,
            burst_max: a.burst_max,
            burst_window_secs: a.burst_window_secs,
            status: a.secondary_status,
            ..SecondaryLimits::default()
        },
        stats_compute_calls: a.stats_compute_calls,
        listen: a.listen,
        workers: a.workers,
        history_weeks: a.history_weeks,
        enterprise_slug: a.enterprise_slug,
        enterprise_app,
        ..FakeConfig::default()
    };
    let started = std::time::Instant::now();
    let fake = FakeGithub::spawn(config).map_err(|source| MainError::Start {
        addr: a.listen,
        source,
    })?;
    tracing::info!(url = %fake.base_url(), orgs = ?fake.org_names(), startup_ms = started.elapsed().as_millis() as u64, "fake github listening");
    println!(
        "fake-github listening on {} (orgs: {})",
        fake.base_url(),
        fake.org_names().join(", ")
    );
    wait_for_signal().map_err(MainError::Signal)?;
    fake.stop();
    Ok(())
}

fn parse_secondary_status(s: &str) -> Result<u16, String> {
    match s {
        "403" => Ok(403),
        "429" => Ok(429),
        _ => Err("must be 403 or 429".to_string()),
    }
}

fn wait_for_signal() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    })
}
