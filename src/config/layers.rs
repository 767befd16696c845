//! Stacks the layers with the `config` crate: built-in defaults → optional `--config` file
//! (TOML or YAML, chosen by extension) → environment. Returns the merged, still untyped tree;
//! reading and checking values is `extract`'s job.

use std::path::Path;

use config::{Config, ConfigError, FileFormat, Map, Value, ValueKind};

use super::env::env_source;
use super::errors::Problems;
use super::keys::{DefaultValue, Kind, KEYS, ORGS_PATH};

/// Key used for problems with the file itself.
pub(crate) const CONFIG_FLAG: &str = "--config";

/// The merged tree, or `None` when the file could not be used (already reported): checking the
/// rest against defaults would produce misleading follow-on problems.
pub(crate) fn merge(
    config_path: Option<&Path>,
    env: &[(String, String)],
    problems: &mut Problems,
) -> Option<Map<String, Value>> {
    let mut builder = Config::builder();
    for def in KEYS {
        if let Some(value) = default_value(def.kind, def.default) {
            builder = builder.set_default(def.path, value).ok()?;
        }
    }
    builder = builder
        .set_default(ORGS_PATH, Value::new(None, ValueKind::Array(Vec::new())))
        .ok()?;

    if let Some(path) = config_path {
        let shown = path.display().to_string();
        let format = match file_format(path) {
            Some(format) => format,
            None => {
                problems.push(
                    CONFIG_FLAG,
                    shown,
                    "unsupported file extension; use .toml, .yaml or .yml",
                );
                return None;
            }
        };
        if let Err(error) = std::fs::metadata(path) {
            problems.push(
                CONFIG_FLAG,
                shown,
                format!("cannot read config file: {error}"),
            );
            return None;
        }
        builder = builder.add_source(config::File::from(path).format(format));
    }

    let lower = match builder.build() {
        Ok(lower) => lower,
        Err(error) => {
            let shown = config_path.map(|p| p.display().to_string());
            problems.push(
                CONFIG_FLAG,
                shown.unwrap_or_default(),
                file_error_reason(&error),
            );
            return None;
        }
    };

    let base_orgs = lower.get::<Value>(ORGS_PATH).ok();
    let env_layer = env_source(env, base_orgs, problems);
    match Config::builder()
        .add_source(lower)
        .add_source(env_layer)
        .build()
    {
        Ok(merged) => config::Source::collect(&merged).ok(),
        Err(error) => {
            problems.push("environment", "", format!("cannot merge: {error}"));
            None
        }
    }
}

/// The built-in default of a key as a config value, typed like a file would type it.
pub(crate) fn default_value(kind: Kind, default: DefaultValue) -> Option<Value> {
    let kind = match default {
        DefaultValue::Unset => return None,
        DefaultValue::One(text) => match kind {
            Kind::Bool => ValueKind::Boolean(text == "true"),
            // Internal table values; the table's own test proves they parse.
            Kind::Int => ValueKind::I64(text.parse().unwrap_or_default()),
            Kind::Float => ValueKind::Float(text.parse().unwrap_or_default()),
            _ => ValueKind::String(text.to_string()),
        },
        DefaultValue::Many(items) => ValueKind::Array(
            items
                .iter()
                .map(|item| Value::new(None, ValueKind::String(item.to_string())))
                .collect(),
        ),
    };
    Some(Value::new(None, kind))
}

fn file_format(path: &Path) -> Option<FileFormat> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "toml" => Some(FileFormat::Toml),
        "yaml" | "yml" => Some(FileFormat::Yaml),
        _ => None,
    }
}

/// A parse error reduced to its position and cause. TOML errors quote the offending source
/// line, which may hold a token, so the quoted snippet is dropped.
fn file_error_reason(error: &ConfigError) -> String {
    let text = match error {
        ConfigError::FileParse { cause, .. } => cause.to_string(),
        other => other.to_string(),
    };
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let reason = match lines.as_slice() {
        [] => "unreadable".to_string(),
        [only] => only.to_string(),
        [first, .., last] => format!("{first}: {last}"),
    };
    format!("cannot parse config file: {reason}")
}
