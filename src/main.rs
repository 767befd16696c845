//! The `github-stats-exporter` binary: parses flags, loads and validates the configuration
//! (exit 2 on any problem, before a port is opened), then runs the exporter until SIGTERM or
//! SIGINT (exit 0) or until the supervision tree gives up (exit 1).

#![forbid(unsafe_code)]

use std::net::TcpListener;
use std::process::ExitCode;

use clap::Parser;
use github_stats_exporter::cli::{Cli, Command};
use github_stats_exporter::{config, healthcheck, logging, migrate, run};

/// jemalloc instead of glibc's malloc, built with a background purge thread and a 1 s decay
/// (`.cargo/config.toml`, `[env]` `JEMALLOC_SYS_WITH_MALLOC_CONF`; `_RJEM_MALLOC_CONF`
/// overrides it at run time). Most of the heap is rebuilt every cycle (an org's series, a
/// snapshot, a render): glibc's malloc kept the high-water mark of those transients resident
/// across its arenas. `cargo bench --bench cold_start -- --orgs 8 --repos 300 --users 50
/// --requests-per-minute 0` (61k series): glibc 108.8 MB resident at truth (111.8 MB peak);
/// jemalloc with its defaults 136 MB peak; jemalloc as configured 60.0 MB (90.0 MB peak).
/// Libraries and in-process tests keep the system allocator (`memory_profile` installs dhat).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::MigrateConfig {
        file,
        include_secrets,
    }) = &cli.command
    {
        return migrate_config(file, *include_secrets);
    }
    if cli.healthcheck {
        // Only the listen address: the serving process validated the rest.
        let env_listen = std::env::var(healthcheck::LISTEN_ENV).ok();
        return match healthcheck::listen_addr(env_listen.as_deref(), cli.config.as_deref())
            .and_then(healthcheck::check)
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("unhealthy: {}", gse_actors::store::error_chain(&error));
                ExitCode::FAILURE
            }
        };
    }
    // `--demo`: the embedded fake GitHub must run before the configuration is read, since the
    // demo configuration points at its port. Kept alive until exit.
    let demo = if cli.demo {
        match start_demo() {
            Ok(fake) => Some(fake),
            Err(error) => {
                eprintln!("{error}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let config = match config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!(
                "invalid configuration ({} problem(s)):",
                errors.problems.len()
            );
            for problem in &errors.problems {
                eprintln!("  {problem}");
            }
            return ExitCode::from(2);
        }
    };
    if cli.check_config {
        println!("configuration is valid");
        return ExitCode::SUCCESS;
    }
    let traces = match logging::init(&config.server, &config.telemetry) {
        Ok(traces) => traces,
        Err(error) => {
            eprintln!("{}", gse_actors::store::error_chain(&error));
            return ExitCode::from(2);
        }
    };
    install_panic_hook();
    let listener = match TcpListener::bind(config.server.listen_addr) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(listen = %config.server.listen_addr, error = %error, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    if let Some(fake) = &demo {
        announce_demo(fake, config.server.listen_addr.port());
    }
    let system = actix_rt::System::new();
    let result = system.block_on(run(config, listener, shutdown_signal()));
    stop_demo(demo);
    if let Some(traces) = traces {
        traces.shutdown();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %gse_actors::store::error_chain(&error), "exporter failed");
            ExitCode::FAILURE
        }
    }
}

/// `migrate-config FILE`: the converted configuration and its change list on stdout, what
/// could not be carried over on stderr; exit 0 when nothing is on stderr, else 1.
fn migrate_config(file: &std::path::Path, include_secrets: bool) -> ExitCode {
    let options = migrate::Options { include_secrets };
    match migrate::migrate_file(file, options) {
        Ok(migration) => {
            print!("{}", migration.render(&file.display().to_string()));
            if migration.blockers.is_empty() {
                return ExitCode::SUCCESS;
            }
            eprintln!(
                "migrate-config: {} setting(s) cannot be carried over:",
                migration.blockers.len()
            );
            for blocker in &migration.blockers {
                eprintln!("  {blocker}");
            }
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("migrate-config: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Starts the embedded fake GitHub of `--demo` and points the configuration at it.
#[cfg(feature = "demo")]
fn start_demo() -> Result<fake_github::FakeGithub, String> {
    use github_stats_exporter::demo;
    let fake =
        demo::start_fake().map_err(|e| format!("cannot start the demo's fake GitHub: {e}"))?;
    demo::apply_env(&fake);
    Ok(fake)
}

/// Without the `demo` cargo feature there is no embedded fake GitHub.
#[cfg(not(feature = "demo"))]
enum NoDemo {}

#[cfg(not(feature = "demo"))]
fn start_demo() -> Result<NoDemo, String> {
    Err("--demo is not available: this binary was built without the `demo` cargo feature".into())
}

#[cfg(feature = "demo")]
fn announce_demo(fake: &fake_github::FakeGithub, port: u16) {
    tracing::info!(
        fake_github = %fake.base_url(),
        orgs = %fake.org_names().join(","),
        metrics = %format!("http://127.0.0.1:{port}/metrics"),
        "demo mode: scraping the embedded fake GitHub; open the metrics URL"
    );
}

#[cfg(not(feature = "demo"))]
fn announce_demo(fake: &NoDemo, _port: u16) {
    match *fake {}
}

/// Stops the embedded fake GitHub once the exporter has stopped.
#[cfg(feature = "demo")]
fn stop_demo(fake: Option<fake_github::FakeGithub>) {
    if let Some(fake) = fake {
        fake.stop();
    }
}

#[cfg(not(feature = "demo"))]
fn stop_demo(_fake: Option<NoDemo>) {}

/// Sends panic reports through `tracing` (so they reach JSON log pipelines with their location)
/// before the default hook prints them. The supervisor turns the panic into a child failure.
fn install_panic_hook() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_string());
        tracing::error!(location = %location, panic = %message, "panic");
        default_hook(info);
    }));
}

/// Resolves on the first SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; only a kill will stop the process");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!(signal = "SIGTERM", "stop requested"),
        _ = int.recv() => tracing::info!(signal = "SIGINT", "stop requested"),
    }
}
