//! Logging setup with `tracing`: JSON lines by default (for log pipelines), text for humans;
//! the level comes from `server.log_level`, and `RUST_LOG` may refine it per module.

use tracing_subscriber::{fmt, prelude::*, EnvFilter};

use crate::config::{LogFormat, LogLevel, ServerConfig};

/// Installs the global subscriber. Calling it twice is harmless (the second call is ignored),
/// which keeps in-process tests simple.
pub fn init(server: &ServerConfig) {
    let level = match server.log_level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    // Our crates log at the configured level; dependencies stay at warn unless RUST_LOG says otherwise.
    let default_directives =
        format!("warn,github_stats_exporter={level},gse_actors={level},fake_github={level}");
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(default_directives));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match server.log_format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(fmt::layer().with_writer(std::io::stderr))
            .try_init(),
    };
    let _ = result;
}
