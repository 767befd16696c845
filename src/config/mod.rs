//! Configuration: built-in defaults → optional `--config` file (TOML or YAML) → environment
//! (`GITHUB_STATS_` prefix, `__` between levels), read into a typed [`Config`] and validated.
//!
//! Loading never stops at the first mistake: every problem comes back as (key, value, reason)
//! in [`ConfigErrors`], with secrets redacted, so an operator fixes them all in one go and the
//! binary exits 2 before opening a port.
//!
//! Pipeline, one module per step:
//! - `keys`: the schema (every key, kind, default, secret flag, constraint) and the `PENDING`
//!   table of keys whose feature is not built yet;
//! - `layers` + `env`: the `config`-crate layering and the environment mapping;
//! - `unknown`: unknown keys in the file;
//! - `extract`: typed reading (with the value parsers of `parse`), `_file` secrets, org
//!   inheritance; each value read is checked against its key's rule in `constraint`;
//! - `validate`: rules that relate several keys;
//! - `pending`: keys whose feature is not built yet keep their defaults.

mod constraint;
mod env;
mod errors;
mod extract;
mod keys;
mod layers;
mod parse;
mod pending;
mod types;
mod unknown;
mod validate;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::path::Path;

pub use errors::{ConfigErrors, ConfigProblem};
pub use types::*;

/// Whether `path` (dotted, e.g. `store.redis_url`) is a top-level key of this build's key
/// table, or the `_file` companion of a secret key.
pub(crate) fn is_known_key(path: &str) -> bool {
    keys::find(path).is_some()
        || path
            .strip_suffix(keys::FILE_SUFFIX)
            .and_then(keys::find)
            .is_some_and(|def| def.secret)
}

/// Loads the configuration from the optional file and the process environment.
pub fn load(config_path: Option<&Path>) -> Result<Config, ConfigErrors> {
    load_from(config_path, std::env::vars().collect())
}

/// Loads the configuration from the optional file and the given environment, which replaces
/// the process environment (tests use this; `HOSTNAME` is also read from it).
pub fn load_from(
    config_path: Option<&Path>,
    env: Vec<(String, String)>,
) -> Result<Config, ConfigErrors> {
    let mut problems = errors::Problems::default();
    let Some(tree) = layers::merge(config_path, &env, &mut problems) else {
        return Err(ConfigErrors {
            problems: problems.0,
        });
    };
    unknown::check_unknown_keys(&tree, &mut problems);
    let config = extract::extract(&tree, &env, &mut problems);
    validate::validate(&config, &mut problems);
    pending::check(&tree, &mut problems);
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors {
            problems: problems.0,
        })
    }
}
