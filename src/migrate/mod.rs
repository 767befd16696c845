//! `github-stats-exporter migrate-config FILE`: reads a configuration file of the Go exporter
//! (YAML, read with the `config` crate's YAML format, the parser the loader already uses) and
//! produces this exporter's configuration as TOML, followed by every change that applies to
//! that file as TOML comments, so one output both loads and explains itself.
//!
//! - `go_file`: the file as flat key paths, the table of every key its format knows, readers;
//! - `duration`: Go durations (`1h30m`, `1.5d`, `2w`) and the form written out;
//! - `convert`, `limits`, `backends`, `features`: the mapping, section by section (Go
//!   fallbacks for values left out or at 0, clamping, secrets as `_file` indirections);
//! - `output`: the keys written, the change list and their rendering.
//!
//! Anything that cannot be carried over (an unknown key, a malformed value, a setting with no
//! equivalent) is listed in [`Migration::blockers`]; the caller exits non-zero for them.

mod backends;
mod convert;
mod duration;
mod features;
mod go_file;
mod limits;
mod output;

use std::path::Path;

pub use output::{Change, ChangeKind};

/// How secrets are written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Write the Redis password and AMQP credentials inline instead of `_file` indirections.
    pub include_secrets: bool,
}

/// Why a file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("not a YAML configuration: {reason}")]
    Yaml { reason: String },
}

/// The result of converting one file.
#[derive(Debug)]
pub struct Migration {
    /// This exporter's configuration (TOML, without comments).
    pub toml: String,
    /// What changed, one line each.
    pub changes: Vec<Change>,
    /// What could not be carried over, one sentence each; empty when everything was.
    pub blockers: Vec<String>,
}

impl Migration {
    /// The TOML followed by the change list (and the blockers) as comments; `source` names the
    /// file it came from.
    pub fn render(&self, source: &str) -> String {
        format!(
            "# Converted by `github-stats-exporter migrate-config` from {source}.\n\n{}{}",
            self.toml,
            output::comments(source, &self.changes, &self.blockers)
        )
    }
}

/// Reads and converts the file at `path`.
pub fn migrate_file(path: &Path, options: Options) -> Result<Migration, MigrateError> {
    let text = std::fs::read_to_string(path).map_err(|source| MigrateError::Read {
        path: path.display().to_string(),
        source,
    })?;
    migrate_text(&text, options)
}

/// Converts the text of a Go-era YAML configuration.
pub fn migrate_text(text: &str, options: Options) -> Result<Migration, MigrateError> {
    let mut file = go_file::GoFile::parse(text)?;
    let mut out = output::Out::default();
    convert::server(&mut file, &mut out);
    convert::github(&mut file, &mut out);
    limits::rate_and_retry(&mut file, &mut out);
    limits::loc(&mut file, &mut out);
    limits::backfill(&mut file, &mut out);
    backends::amqp(&mut file, &mut out, options);
    backends::store(&mut file, &mut out, options);
    backends::election(&mut file, &mut out);
    features::copilot(&mut file, &mut out);
    features::telemetry(&mut file, &mut out);
    out.note(
        ChangeKind::Behaviour,
        "every key can also be set from the environment (GITHUB_STATS_<SECTION>__<KEY>, e.g. \
         GITHUB_STATS_STORE__REDIS_URL_FILE); durations also read 500ms, 7d, \"1h 30m\"",
    );
    out.note(
        ChangeKind::Behaviour,
        "activity series of users with no activity left in the 24 h window disappear (they \
         kept their last value for the store retention); names ending in _total are counters",
    );
    for key in file.unread() {
        file.problems.push(format!(
            "`{key}`: not handled by migrate-config (please report it)"
        ));
    }
    Ok(Migration {
        toml: out.toml(),
        changes: out.changes,
        blockers: first_per_key(file.problems),
    })
}

/// One problem per key (the first): a malformed value is not also reported as missing.
fn first_per_key(problems: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    problems
        .into_iter()
        .filter(|p| {
            let key = p.split('`').nth(1).unwrap_or(p).to_string();
            seen.insert(key)
        })
        .collect()
}

#[cfg(test)]
mod tests;
