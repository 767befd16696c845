//! Value parsers: each reads one raw value of the merged tree into its typed form, or returns
//! the reason it is rejected (lower-case, without the key; the caller adds key and origin).
//! A parser decides what a value means; the rules a readable value must still meet (ranges,
//! non-blank text, usable files) are the key's constraint in `constraint`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use config::{Value, ValueKind};
use url::Url;

use super::types::ElectionBackend;

/// Any single value as text (numbers and booleans as written); not a list or table.
pub(crate) fn text(value: &Value) -> Result<String, String> {
    match &value.kind {
        ValueKind::String(s) => Ok(s.clone()),
        ValueKind::Table(_) | ValueKind::Array(_) => {
            Err("expected a single value, not a list or table".to_string())
        }
        _ => Ok(value.to_string()),
    }
}

/// A boolean, or `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` as text.
pub(crate) fn boolean(value: &Value) -> Result<bool, String> {
    match &value.kind {
        ValueKind::Boolean(b) => Ok(*b),
        ValueKind::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err("expected true or false".to_string()),
        },
        _ => Err("expected true or false".to_string()),
    }
}

/// A whole number ≥ 0, as a number or as text.
pub(crate) fn uint(value: &Value) -> Result<u64, String> {
    let reason = || "expected a whole number ≥ 0".to_string();
    match &value.kind {
        ValueKind::I64(n) => u64::try_from(*n).map_err(|_| reason()),
        ValueKind::U64(n) => Ok(*n),
        ValueKind::I128(n) => u64::try_from(*n).map_err(|_| reason()),
        ValueKind::U128(n) => u64::try_from(*n).map_err(|_| reason()),
        ValueKind::String(s) => s.trim().parse().map_err(|_| reason()),
        _ => Err(reason()),
    }
}

/// A finite decimal number, as a number or as text.
pub(crate) fn float(value: &Value) -> Result<f64, String> {
    let reason = || "expected a number such as 0.25".to_string();
    let n = match &value.kind {
        ValueKind::Float(n) => *n,
        ValueKind::I64(n) => *n as f64,
        ValueKind::U64(n) => *n as f64,
        ValueKind::String(s) => s.trim().parse().map_err(|_| reason())?,
        _ => return Err(reason()),
    };
    if n.is_finite() {
        Ok(n)
    } else {
        Err(reason())
    }
}

/// A whole number ≥ 0 that fits in 32 bits.
pub(crate) fn uint32(value: &Value) -> Result<u32, String> {
    u32::try_from(uint(value)?).map_err(|_| format!("must be at most {}", u32::MAX))
}

/// A humantime duration given as text; a bare number is refused for want of a unit.
pub(crate) fn duration(value: &Value) -> Result<Duration, String> {
    match &value.kind {
        ValueKind::String(s) => humantime::parse_duration(s.trim())
            .map_err(|e| format!("not a duration ({e}); use forms like 500ms, 30s, 5m, 2h, 7d")),
        ValueKind::I64(_) | ValueKind::U64(_) | ValueKind::Float(_) => {
            Err("a duration needs a unit, like 500ms, 30s, 5m, 2h or 7d".to_string())
        }
        _ => Err("expected a duration like 500ms, 30s, 5m, 2h or 7d".to_string()),
    }
}

/// A list, or one comma-separated text (empty items dropped).
pub(crate) fn text_list(value: &Value) -> Result<Vec<String>, String> {
    match &value.kind {
        ValueKind::Array(items) => items.iter().map(text).collect(),
        ValueKind::String(s) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()),
        _ => Err("expected a list".to_string()),
    }
}

/// A list of durations; a bad item is named by its position.
pub(crate) fn duration_list(value: &Value) -> Result<Vec<Duration>, String> {
    let items = text_list(value)?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let v = Value::new(None, ValueKind::String(item.clone()));
            duration(&v).map_err(|e| format!("item {i} (`{item}`): {e}"))
        })
        .collect()
}

/// `ip:port`.
pub(crate) fn socket_addr(value: &Value) -> Result<SocketAddr, String> {
    SocketAddr::from_str(text(value)?.trim())
        .map_err(|_| "not a socket address; expected ip:port such as 0.0.0.0:8080".to_string())
}

/// A file path (trimmed); whether the file is usable is its key's constraint.
pub(crate) fn path(value: &Value) -> Result<PathBuf, String> {
    Ok(Path::new(text(value)?.trim()).to_path_buf())
}

/// Parses one of an enum's names (case-insensitive).
pub(crate) fn choice<E: FromStr>(
    names: &'static [&'static str],
) -> impl Fn(&Value) -> Result<E, String> {
    move |value| {
        text(value)?
            .parse()
            .map_err(|_| format!("expected one of {}", names.join("|")))
    }
}

/// `leader_election.backend`: `redis` (leases in Redis) or `kubernetes` (Kubernetes Leases,
/// fenced in Redis).
pub(crate) fn election_backend(value: &Value) -> Result<ElectionBackend, String> {
    choice(ElectionBackend::NAMES)(value)
}

/// An `http(s)` base URL with a host, normalised to end in `/` so joins keep its path.
pub(crate) fn http_url(value: &Value) -> Result<Url, String> {
    let raw = text(value)?;
    let mut url = Url::parse(raw.trim()).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".to_string());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("URL has no host".to_string());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("a base URL cannot have a query or fragment".to_string());
    }
    if !url.path().ends_with('/') {
        let with_slash = format!("{}/", url.path());
        url.set_path(&with_slash);
    }
    Ok(url)
}
