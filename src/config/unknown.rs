//! Rejects keys the schema does not know, wherever they came from (a file, or a nested table),
//! naming each one by its full path. Unknown environment variables are caught earlier, in `env`.

use config::{Map, Value, ValueKind};

use super::errors::{Problems, REDACTED};
use super::extract::with_origin;
use super::keys::{self, FILE_SUFFIX, ORGS_PATH};

/// Adds one problem per unknown key in the merged tree, in path order.
pub(crate) fn check_unknown_keys(root: &Map<String, Value>, problems: &mut Problems) {
    walk(root, "", problems);
}

fn walk(table: &Map<String, Value>, prefix: &str, problems: &mut Problems) {
    for (name, value) in sorted(table) {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        if path == ORGS_PATH {
            check_orgs(value, problems);
        } else if is_known_leaf(&path, keys::find) {
            // Its type is checked when the value is read.
        } else if keys::is_section(&path) {
            match &value.kind {
                ValueKind::Table(inner) => walk(inner, &path, problems),
                _ => problems.push(
                    &path,
                    REDACTED,
                    with_origin("expected a table of settings", value),
                ),
            }
        } else {
            unknown(&path, value, problems);
        }
    }
}

fn check_orgs(value: &Value, problems: &mut Problems) {
    let ValueKind::Array(items) = &value.kind else {
        return;
    };
    for (index, item) in items.iter().enumerate() {
        if let ValueKind::Table(entry) = &item.kind {
            for (name, field) in sorted(entry) {
                if !is_known_leaf(name, keys::find_org) {
                    unknown(&format!("{ORGS_PATH}[{index}].{name}"), field, problems);
                }
            }
        }
    }
}

/// A key of the schema, or the `_file` companion of a secret key.
fn is_known_leaf(path: &str, find: fn(&str) -> Option<&'static keys::KeyDef>) -> bool {
    find(path).is_some()
        || path
            .strip_suffix(FILE_SUFFIX)
            .and_then(find)
            .is_some_and(|def| def.secret)
}

/// The value is not shown: an unknown key may be a misspelt secret.
fn unknown(path: &str, value: &Value, problems: &mut Problems) {
    problems.push(path, REDACTED, with_origin("unknown key", value));
}

fn sorted(table: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}
