//! The `github-stats-exporter` binary: parses flags, loads and validates the configuration
//! (exit 2 on any problem, before a port is opened), then runs the exporter until SIGTERM or
//! SIGINT (exit 0) or until the supervision tree gives up (exit 1).

use std::net::TcpListener;
use std::process::ExitCode;

use clap::Parser;
use github_stats_exporter::{cli::Cli, config, healthcheck, logging, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    if cli.healthcheck {
        return match healthcheck::check(config.server.listen_addr) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("unhealthy: {}", gse_actors::store::error_chain(&error));
                ExitCode::FAILURE
            }
        };
    }
    logging::init(&config.server);
    let listener = match TcpListener::bind(config.server.listen_addr) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(listen = %config.server.listen_addr, error = %error, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let system = actix_rt::System::new();
    match system.block_on(run(config, listener, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %gse_actors::store::error_chain(&error), "exporter failed");
            ExitCode::FAILURE
        }
    }
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
