//! Command-line flags. Everything else is configuration (file and `GITHUB_STATS_*` env).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Commands other than running the exporter.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert a configuration file of the Go exporter (YAML) to this exporter's TOML, printed
    /// on stdout with every change as comments after it. Exits 0 when everything was carried
    /// over, 1 when something could not be (listed on stderr and in the comments).
    MigrateConfig {
        /// The Go exporter's YAML configuration file.
        file: PathBuf,
        /// Write the Redis password and AMQP credentials inline; by default they are
        /// `_file` indirections and never printed.
        #[arg(long)]
        include_secrets: bool,
    },
}
