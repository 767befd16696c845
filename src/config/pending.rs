//! The pending-feature rule: a key whose feature is not built yet (see `keys::PENDING`) must
//! keep its built-in default. It reads the merged tree, not the typed configuration, to tell a
//! key left at its default from one set to the same value in another form (`5m` and `300s`
//! are both the default of a `5m` key).

use config::{Map, Value, ValueKind};

use super::errors::Problems;
use super::extract::{lookup, show, shown, with_origin};
use super::keys::{self, DefaultValue, KeyDef, Kind, FILE_SUFFIX, ORGS_PATH};
use super::layers::default_value;
use super::parse;

/// Every pending key (see `keys::PENDING`) left at its default passes; any other value is an
/// error naming the feature it waits for.
pub(crate) fn check(root: &Map<String, Value>, p: &mut Problems) {
    for def in keys::KEYS {
        let Some(feature) = keys::pending_feature(def.path) else {
            continue;
        };
        if let Some(value) = lookup(root, def.path) {
            pending_value(p, def.path, def, value, feature);
        }
        if def.secret {
            let file_key = format!("{}{FILE_SUFFIX}", def.path);
            if let Some(value) = lookup(root, &file_key).filter(|v| !show(v).is_empty()) {
                reject(p, &file_key, show(value), value, feature);
            }
        }
    }
    let Some(ValueKind::Array(orgs)) = lookup(root, ORGS_PATH).map(|v| &v.kind) else {
        return;
    };
    for (index, org) in orgs.iter().enumerate() {
        let ValueKind::Table(entry) = &org.kind else {
            continue;
        };
        let mut names: Vec<&String> = entry.keys().collect();
        names.sort();
        for name in names {
            let value = &entry[name];
            let key = format!("{ORGS_PATH}[{index}].{name}");
            let (field, is_file) = match name.strip_suffix(FILE_SUFFIX) {
                Some(base) if keys::find_org(name).is_none() => (base, true),
                _ => (name.as_str(), false),
            };
            let Some(def) = keys::find_org(field) else {
                continue;
            };
            let Some(feature) = keys::pending_feature(&format!("{ORGS_PATH}[].{field}")) else {
                continue;
            };
            if is_file {
                reject(p, &key, show(value), value, feature);
            } else {
                pending_value(p, &key, def, value, feature);
            }
        }
    }
}

fn pending_value(p: &mut Problems, key: &str, def: &KeyDef, value: &Value, feature: &str) {
    if p.has_key(key) || is_default(def, value) {
        return;
    }
    reject(p, key, shown(key, value, def.secret), value, feature);
}

fn reject(p: &mut Problems, key: &str, shown_value: String, value: &Value, feature: &str) {
    let reason = format!("`{key}` is not supported yet (arrives with {feature})");
    p.push(key, shown_value, with_origin(reason, value));
}

/// Whether `value` means the same as the built-in default (`5m` equals `300s`).
fn is_default(def: &KeyDef, value: &Value) -> bool {
    let Some(default) = default_value(def.kind, def.default) else {
        return show(value).is_empty();
    };
    if matches!(def.default, DefaultValue::Unset) {
        return false;
    }
    match def.kind {
        Kind::Text => parse::text(value).ok() == parse::text(&default).ok(),
        Kind::Bool => parse::boolean(value).ok() == parse::boolean(&default).ok(),
        Kind::Int => parse::uint(value).ok() == parse::uint(&default).ok(),
        Kind::Float => parse::float(value).ok() == parse::float(&default).ok(),
        Kind::Duration => parse::duration(value).ok() == parse::duration(&default).ok(),
        Kind::TextList => parse::text_list(value).ok() == parse::text_list(&default).ok(),
        Kind::DurationList => {
            parse::duration_list(value).ok() == parse::duration_list(&default).ok()
        }
    }
}
