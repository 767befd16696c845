//! The environment layer: maps `GITHUB_STATS_*` variables onto key paths as a `config::Source`,
//! and rejects variables that name no key (typos must not be silently ignored).
//!
//! Forms (names are case-insensitive after the prefix, `__` separates levels):
//! - `GITHUB_STATS_SERVER__LISTEN_ADDR=0.0.0.0:8080`: any key of `keys::KEYS`.
//! - Lists are comma-separated: `GITHUB_STATS_BACKFILL__REQUEUE_DELAYS=1m,5m`; empty items are
//!   dropped, so an empty value is an empty list.
//! - `GITHUB_STATS_GITHUB__ORGS=org-a,org-b` replaces the org list with these names.
//! - `GITHUB_STATS_GITHUB__ORGS__<i>__<KEY>` sets `<key>` of the i-th org (0-based) of the
//!   effective list: the env list when given, otherwise the file's. An index past the end adds
//!   an entry, which then needs its own `__ORG`.
//! - Secrets also accept `<KEY>_FILE` naming a file whose trimmed content is the value.

use config::{Map, Source, Value, ValueKind};

use super::constraint::Constraint;
use super::errors::{Problems, REDACTED};
use super::keys::{self, KeyDef, FILE_SUFFIX, ORGS_PATH};

/// Prefix of every variable this layer reads.
pub(crate) const PREFIX: &str = "GITHUB_STATS_";

/// Key/value pairs taken from the environment, ready to merge above the file layer.
#[derive(Debug, Clone)]
pub(crate) struct EnvSource {
    values: Map<String, Value>,
}

impl Source for EnvSource {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        Ok(self.values.clone())
    }
}

/// Reads the `GITHUB_STATS_*` variables of `env`. `base_orgs` is the org list of the lower
/// layers, needed because per-org variables patch its entries.
pub(crate) fn env_source(
    env: &[(String, String)],
    base_orgs: Option<Value>,
    problems: &mut Problems,
) -> EnvSource {
    let mut vars: Vec<&(String, String)> =
        env.iter().filter(|(n, _)| n.starts_with(PREFIX)).collect();
    vars.sort();

    let mut values = Map::new();
    let mut org_names: Option<Vec<Value>> = None;
    let mut org_patches: Vec<(usize, String, Value)> = Vec::new();

    for (name, raw) in vars {
        if let Some(reason) = retired(name) {
            problems.push(name, raw, reason);
            continue;
        }
        let origin = format!("env {name}");
        let segments: Vec<String> = name[PREFIX.len()..]
            .to_ascii_lowercase()
            .split("__")
            .map(str::to_string)
            .collect();
        let path = segments.join(".");

        if path == ORGS_PATH {
            let names = split_list(raw)
                .into_iter()
                .map(|org| table(&origin, [("org".to_string(), text(&origin, &org))]))
                .collect();
            org_names = Some(names);
        } else if let Some((index, field)) = org_field(&segments) {
            match lookup_with_file(field, keys::find_org) {
                Some(def) => org_patches.push((index, field.to_string(), parse(def, raw, &origin))),
                None => unknown(problems, name, &path),
            }
        } else {
            match lookup_with_file(&path, keys::find) {
                Some(def) => {
                    values.insert(path, parse(def, raw, &origin));
                }
                None => unknown(problems, name, &path),
            }
        }
    }

    if org_names.is_some() || !org_patches.is_empty() {
        let mut orgs = org_names.unwrap_or_else(|| normalize_orgs(base_orgs));
        for (index, field, value) in org_patches {
            while orgs.len() <= index {
                orgs.push(table(&format!("env org index {index}"), []));
            }
            if let ValueKind::Table(entry) = &mut orgs[index].kind {
                entry.insert(field, value);
            }
        }
        values.insert(
            ORGS_PATH.to_string(),
            Value::new(None, ValueKind::Array(orgs)),
        );
    }
    EnvSource { values }
}

/// Variables of the Go-era deployments that name no key, with what replaces them.
const RETIRED: &[(&str, &str)] = &[(
    "GITHUB_STATS_INITIAL_ROLE",
    "`GITHUB_STATS_INITIAL_ROLE` was the Go exporter's; set \
     GITHUB_STATS_LEADER_ELECTION__STATIC_ROLE=follower (or leader), the key \
     `leader_election.static_role`, which applies when leader_election.enabled=false",
)];

/// What replaces `name`, when it is a retired variable.
fn retired(name: &str) -> Option<&'static str> {
    RETIRED
        .iter()
        .find(|(retired, _)| name.eq_ignore_ascii_case(retired))
        .map(|(_, reason)| *reason)
}

/// `github.orgs.<i>.<field>` → `(i, field)`.
fn org_field(segments: &[String]) -> Option<(usize, &str)> {
    match segments {
        [github, orgs, index, field] if github == "github" && orgs == "orgs" => {
            Some((index.parse().ok()?, field.as_str()))
        }
        _ => None,
    }
}

/// Finds the definition of `path`, or of the secret it is the `_file` companion of (then as a
/// text key, since the value is a file name).
fn lookup_with_file(
    path: &str,
    find: fn(&str) -> Option<&'static KeyDef>,
) -> Option<&'static KeyDef> {
    if let Some(def) = find(path) {
        return Some(def);
    }
    let secret = find(path.strip_suffix(FILE_SUFFIX)?)?;
    secret.secret.then_some(&FILE_COMPANION)
}

/// Definition used for `<secret>_file` values: plain text.
static FILE_COMPANION: KeyDef = KeyDef {
    path: "<secret>_file",
    kind: keys::Kind::Text,
    default: keys::DefaultValue::Unset,
    secret: false,
    constraint: Constraint::None,
};

/// Env text as a config value: lists split on commas, everything else a string that the
/// typed reader parses later (so env and file values go through the same checks).
fn parse(def: &KeyDef, raw: &str, origin: &str) -> Value {
    if def.kind.is_list() {
        let items = split_list(raw)
            .iter()
            .map(|item| text(origin, item))
            .collect();
        Value::new(Some(&origin.to_string()), ValueKind::Array(items))
    } else {
        text(origin, raw)
    }
}

fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

fn text(origin: &str, s: &str) -> Value {
    Value::new(Some(&origin.to_string()), ValueKind::String(s.to_string()))
}

fn table(origin: &str, entries: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::new(
        Some(&origin.to_string()),
        ValueKind::Table(entries.into_iter().collect()),
    )
}

/// The lower layers' org list with bare names turned into `{org = name}` tables, so that a
/// per-org variable can add a field without losing the name.
fn normalize_orgs(base: Option<Value>) -> Vec<Value> {
    let Some(Value {
        kind: ValueKind::Array(items),
        ..
    }) = base
    else {
        return Vec::new();
    };
    items
        .into_iter()
        .map(|item| match item.kind {
            ValueKind::Table(_) => item,
            _ => {
                let origin = item.origin().unwrap_or("config file").to_string();
                table(&origin, [("org".to_string(), item)])
            }
        })
        .collect()
}

/// Reports a variable that names no key, suggesting the closest variable name. The value is
/// never shown: a mistyped token variable still holds a token.
fn unknown(problems: &mut Problems, name: &str, path: &str) {
    let suggestion = closest_key(path)
        .map(|key| format!("; did you mean {}?", env_name(&key)))
        .unwrap_or_default();
    problems.push(
        name,
        REDACTED,
        format!("unknown environment variable: no key `{path}`{suggestion}"),
    );
}

/// The environment variable that sets `path` (`server.listen_addr` → `GITHUB_STATS_SERVER__LISTEN_ADDR`).
pub(crate) fn env_name(path: &str) -> String {
    format!("{PREFIX}{}", path.replace('.', "__").to_ascii_uppercase())
}

/// The known key path nearest to `path`, when it is near enough to be a typo.
fn closest_key(path: &str) -> Option<String> {
    let mut candidates: Vec<String> = keys::KEYS.iter().map(|k| k.path.to_string()).collect();
    candidates.extend(
        keys::KEYS
            .iter()
            .filter(|k| k.secret)
            .map(|k| format!("{}{FILE_SUFFIX}", k.path)),
    );
    candidates.push(ORGS_PATH.to_string());
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(path, &c), c))
        .filter(|(distance, _)| *distance <= 3)
        .min()
        .map(|(_, c)| c)
}
