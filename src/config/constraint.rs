//! Rules on the value of a single key, beyond what its kind accepts: ranges, non-blank text,
//! formats, and the content of the files a key names. Each key declares its [`Constraint`] in
//! the key table (`keys`); the reader (`extract`) applies it with [`check`] to every value it
//! reads without error. Rules that relate several keys belong to `validate`.
//!
//! Built-in defaults are not checked at load time: a test proves each one meets its key's
//! constraint.

use std::path::Path;
use std::time::Duration;

use config::Value;

use super::errors::{Problems, REDACTED};
use super::parse;

pub(crate) const ZERO: Duration = Duration::ZERO;
pub(crate) const MILLISECOND: Duration = Duration::from_millis(1);
pub(crate) const SECOND: Duration = Duration::from_secs(1);
pub(crate) const MINUTE: Duration = Duration::from_secs(60);
pub(crate) const HOUR: Duration = Duration::from_secs(3600);
pub(crate) const DAY: Duration = Duration::from_secs(24 * 3600);

pub(crate) const fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

pub(crate) const fn days(n: u64) -> Duration {
    Duration::from_secs(n * 24 * 3600)
}

/// What the value of one key must satisfy once it has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Constraint {
    /// Whatever the key's kind accepts.
    None,
    /// A whole number in `min..=max`.
    Count { min: u64, max: u64 },
    /// A decimal number in `0..=1` (a ratio; out of range is refused, never clamped).
    Fraction,
    /// A duration in `min..=max`.
    Span { min: Duration, max: Duration },
    /// A duration above zero.
    Positive,
    /// Text with something besides whitespace.
    NotBlank,
    /// Not blank and without whitespace; `names` says what the value names (shown in the
    /// reason).
    Word { names: &'static str },
    /// Without whitespace anywhere (a secret sent verbatim).
    NoWhitespace,
    /// A GitHub login: letters, digits, `-`, `_`, `.`.
    Login,
    /// A list whose every item is `host:port`.
    HostPorts,
    /// A list with at least one item; `reason` says what an empty one would mean.
    NotEmpty { reason: &'static str },
    /// A non-empty, strictly increasing list of delays, each in `min..=max`.
    Delays { min: Duration, max: Duration },
    /// The path of a readable PEM RSA private key.
    RsaKeyFile,
    /// The path of a readable PEM bundle of CA certificates.
    CaFile,
}

/// [`Constraint::Count`], short enough for one line of the key table.
pub(crate) const fn count(min: u64, max: u64) -> Constraint {
    Constraint::Count { min, max }
}

/// [`Constraint::Span`], short enough for one line of the key table.
pub(crate) const fn span(min: Duration, max: Duration) -> Constraint {
    Constraint::Span { min, max }
}

/// [`Constraint::Delays`], short enough for one line of the key table.
pub(crate) const fn delays(min: Duration, max: Duration) -> Constraint {
    Constraint::Delays { min, max }
}

/// Adds a problem for `key` when `value` breaks `constraint`. `value` has already been read
/// without error (a value that does not parse is left alone: its reader reported it). A
/// `secret` value is never shown.
pub(crate) fn check(
    problems: &mut Problems,
    key: &str,
    constraint: Constraint,
    secret: bool,
    value: &Value,
) {
    let read_text = || parse::text(value).ok();
    let shown = |text: &str| if secret { REDACTED } else { text }.to_string();
    match constraint {
        Constraint::None => {}
        Constraint::Count { min, max } => {
            let Ok(n) = parse::uint(value) else { return };
            if !(min..=max).contains(&n) {
                problems.push(
                    key,
                    n.to_string(),
                    format!("must be between {min} and {max}"),
                );
            }
        }
        Constraint::Fraction => {
            let Ok(n) = parse::float(value) else { return };
            if !(0.0..=1.0).contains(&n) {
                problems.push(key, n.to_string(), "must be between 0 and 1");
            }
        }
        Constraint::Span { min, max } => {
            let Ok(d) = parse::duration(value) else {
                return;
            };
            if !(min..=max).contains(&d) {
                let reason = format!("must be between {} and {}", human(min), human(max));
                problems.push(key, human(d), reason);
            }
        }
        Constraint::Positive => {
            let Ok(d) = parse::duration(value) else {
                return;
            };
            if d.is_zero() {
                problems.push(key, human(d), "must be above 0");
            }
        }
        Constraint::NotBlank => {
            let Some(text) = read_text() else { return };
            if text.trim().is_empty() {
                problems.push(key, shown(&text), "must not be empty");
            }
        }
        Constraint::Word { names } => {
            let Some(text) = read_text() else { return };
            if text.trim().is_empty() {
                problems.push(key, shown(&text), "must not be empty");
            } else if text.chars().any(char::is_whitespace) {
                let reason = format!("must not contain whitespace ({names})");
                problems.push(key, shown(&text), reason);
            }
        }
        Constraint::NoWhitespace => {
            let Some(text) = read_text() else { return };
            if text.chars().any(char::is_whitespace) {
                problems.push(key, shown(&text), "contains whitespace");
            }
        }
        Constraint::Login => {
            let Some(text) = read_text() else { return };
            let valid = !text.is_empty()
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid {
                let reason = "not a GitHub login (letters, digits, `-`, `_`, `.`)";
                problems.push(key, shown(&text), reason);
            }
        }
        Constraint::HostPorts => {
            let Ok(items) = parse::text_list(value) else {
                return;
            };
            for (i, item) in items.iter().enumerate() {
                let valid = item
                    .rsplit_once(':')
                    .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
                if !valid {
                    problems.push(format!("{key}[{i}]"), shown(item), "expected host:port");
                }
            }
        }
        Constraint::NotEmpty { reason } => {
            if parse::text_list(value).is_ok_and(|items| items.is_empty()) {
                problems.push(key, "", reason);
            }
        }
        Constraint::Delays { min, max } => {
            let Ok(delays) = parse::duration_list(value) else {
                return;
            };
            let shown = delays.iter().map(|d| human(*d)).collect::<Vec<_>>();
            let shown = shown.join(",");
            if delays.is_empty() {
                problems.push(key, shown, "at least one delay is required");
            } else if delays.windows(2).any(|w| w[0] >= w[1]) {
                problems.push(key, shown, "delays must be strictly increasing");
            } else if delays.iter().any(|d| !(min..=max).contains(d)) {
                let reason = format!(
                    "each delay must be between {} and {}",
                    human(min),
                    human(max)
                );
                problems.push(key, shown, reason);
            }
        }
        Constraint::RsaKeyFile => {
            if let Ok(path) = parse::path(value) {
                rsa_private_key(problems, key, &path);
            }
        }
        Constraint::CaFile => {
            if let Ok(path) = parse::path(value) {
                ca_bundle(problems, key, &path);
            }
        }
    }
}

/// A duration as the messages show it (`1m 30s`, `7days`).
fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// The key must be a readable PEM RSA private key (PKCS#1, or PKCS#8 with the RSA algorithm).
/// This checks the envelope and algorithm only; the JWT signer parses the key fully.
pub(crate) fn rsa_private_key(p: &mut Problems, key: &str, path: &Path) {
    let shown = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            p.push(key, shown, format!("cannot read private key: {error}"));
            return;
        }
    };
    let reason = match pem::parse(&bytes) {
        Err(error) => Some(format!("not a PEM file: {error}")),
        Ok(block) if block.tag() == "RSA PRIVATE KEY" => {
            (block.contents().first() != Some(&0x30)).then(|| "malformed RSA key".to_string())
        }
        Ok(block) if block.tag() == "PRIVATE KEY" => {
            /// DER of the rsaEncryption OID (1.2.840.113549.1.1.1).
            const RSA_OID: &[u8] = &[
                0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
            ];
            let is_rsa = block
                .contents()
                .windows(RSA_OID.len())
                .any(|w| w == RSA_OID);
            (!is_rsa).then(|| "a PKCS#8 key, but not an RSA one".to_string())
        }
        Ok(block) => Some(format!(
            "PEM block is `{}`, expected an RSA PRIVATE KEY",
            block.tag()
        )),
    };
    if let Some(reason) = reason {
        p.push(key, shown, reason);
    }
}

/// The file must be a readable PEM bundle of at least one certificate (a CA file for TLS).
fn ca_bundle(p: &mut Problems, key: &str, path: &Path) {
    let shown = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            p.push(key, shown, format!("cannot read CA file: {error}"));
            return;
        }
    };
    match pem::parse_many(&bytes) {
        Err(error) => p.push(key, shown, format!("not a PEM file: {error}")),
        Ok(blocks) if !blocks.iter().any(|b| b.tag() == "CERTIFICATE") => {
            p.push(key, shown, "holds no PEM CERTIFICATE block");
        }
        Ok(_) => {}
    }
}
