//! Logging setup with `tracing`: JSON lines by default (for log pipelines), text for humans;
//! the level comes from `server.log_level`, and `RUST_LOG` may refine it per module. The same
//! subscriber carries the OpenTelemetry trace layer when `telemetry.*` turns traces on; each
//! layer has its own filter, so the log level never hides a span and spans never become logs.

use tracing_subscriber::filter::{filter_fn, FilterExt as _};
use tracing_subscriber::{fmt, prelude::*, EnvFilter, Registry};

use crate::config::{LogFormat, LogLevel, ServerConfig, TelemetryConfig};
use crate::telemetry::{self, TelemetryError, Tracing};

/// Installs the global subscriber, with the trace pipeline when configured (returned, to be
/// shut down at exit). Calling it twice is harmless (the second call is ignored), which keeps
/// in-process tests simple.
pub fn init(
    server: &ServerConfig,
    traces: &TelemetryConfig,
) -> Result<Option<Tracing>, TelemetryError> {
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
    let (pipeline, trace_layer) = match telemetry::build::<Registry>(traces)? {
        Some((pipeline, layer)) => (
            Some(pipeline),
            Some(layer.with_filter(filter_fn(telemetry::is_traced))),
        ),
        None => (None, None),
    };
    let registry = tracing_subscriber::registry().with(trace_layer);
    let result = match server.log_format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_writer(std::io::stderr)
                    // JSON lines show no span: spans cost nothing here when traces are off.
                    .with_filter(filter.and(filter_fn(|m| m.is_event()))),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .try_init(),
    };
    let _ = result;
    Ok(pipeline)
}
