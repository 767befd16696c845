//! Command-line flags. Everything else is configuration (file and `GITHUB_STATS_*` env).

use std::path::PathBuf;

use clap::Parser;

/// Prometheus exporter for the activity of GitHub organizations.
#[derive(Debug, Parser)]
#[command(name = "github-stats-exporter", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (TOML or YAML, by extension); environment variables override it.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Validate the configuration, print every problem, and exit 0 (valid) or 2 (invalid).
    #[arg(long)]
    pub check_config: bool,

    /// Ask a running exporter's `/readyz` (on the listen port from GITHUB_STATS_SERVER__LISTEN_ADDR,
    /// else the --config file, else 8080; via 127.0.0.1) and exit 0 when ready, 1 otherwise.
    /// Reads nothing else of the configuration. Used by the container HEALTHCHECK.
    #[arg(long)]
    pub healthcheck: bool,

    /// Start an embedded fake GitHub and scrape it: metrics appear with no credentials.
    #[arg(long)]
    pub demo: bool,
}
