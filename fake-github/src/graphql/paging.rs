//! Relay cursor pagination over an ordered list: opaque cursors (base64 of `cursor:N`, N the
//! 1-based position, like GitHub's search cursors), `after`/`before` bounds, then `first` or
//! `last`. `hasNextPage` is only known with `first` and `hasPreviousPage` only with `last`
//! (GitHub reports `false` otherwise).

use super::plan::Field;

/// The slice `[start, end)` of the list that a connection returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: usize,
    pub end: usize,
    pub has_next: bool,
    pub has_prev: bool,
}

/// An `after`/`before` value that is not one of our cursors: GitHub's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` does not appear to be a valid cursor.")]
pub struct BadCursor(pub String);

/// The cursor of the item at 0-based `index`.
pub fn cursor(index: usize) -> String {
    base64(format!("cursor:{}", index + 1).as_bytes())
}

fn position(c: &str) -> Result<usize, BadCursor> {
    let bad = || BadCursor(c.to_string());
    let raw = unbase64(c).ok_or_else(bad)?;
    let text = std::str::from_utf8(&raw).map_err(|_| bad())?;
    text.strip_prefix("cursor:")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(bad)
}

/// The window of a list of `len` items for a connection field's arguments (already checked by
/// the cost pass: exactly one of `first`/`last`, within 0..=100).
pub fn window(len: usize, f: &Field) -> Result<Window, BadCursor> {
    let mut start = 0;
    let mut end = len;
    if let Some(a) = f.arg_str("after") {
        start = position(a)?.min(len);
    }
    if let Some(b) = f.arg_str("before") {
        end = (position(b)? - 1).min(len);
    }
    end = end.max(start);
    let mut w = Window {
        start,
        end,
        has_next: false,
        has_prev: false,
    };
    if let Some(n) = f.arg_i64("first").and_then(|n| usize::try_from(n).ok()) {
        if w.end - w.start > n {
            w.end = w.start + n;
            w.has_next = true;
        }
    } else if let Some(n) = f.arg_i64("last").and_then(|n| usize::try_from(n).ok()) {
        if w.end - w.start > n {
            w.start = w.end - n;
            w.has_prev = true;
        }
    }
    Ok(w)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphql::schema::TypeRef;
    use graphql_parser::Pos;

    fn field(args: serde_json::Value) -> Field {
        Field {
            key: "c".into(),
            name: "c".into(),
            args: args.as_object().cloned().unwrap_or_default(),
            pos: Pos::default(),
            conditions: Vec::new(),
            ty: TypeRef::Named("IssueCommentConnection".into()),
            children: Vec::new(),
            key_path: Vec::new(),
        }
    }

    /// Cursors are GitHub's `cursor:N` in base64 and round-trip.
    #[test]
    fn cursors_round_trip() {
        assert_eq!(cursor(0), "Y3Vyc29yOjE=");
        assert_eq!(cursor(99), "Y3Vyc29yOjEwMA==");
        assert_eq!(position(&cursor(41)), Ok(42));
        assert!(position("nope!").is_err());
        assert!(position(&base64(b"cursor:0")).is_err());
    }

    /// first/after page forwards, last/before backwards.
    #[test]
    fn windows_follow_relay() {
        let w = |a| window(10, &field(a)).expect("valid");
        let after3 = cursor(2);
        assert_eq!(
            w(serde_json::json!({"first": 4})),
            Window {
                start: 0,
                end: 4,
                has_next: true,
                has_prev: false
            }
        );
        assert_eq!(
            w(serde_json::json!({"first": 4, "after": after3})),
            Window {
                start: 3,
                end: 7,
                has_next: true,
                has_prev: false
            }
        );
        assert_eq!(
            w(serde_json::json!({"first": 40, "after": cursor(8)})),
            Window {
                start: 9,
                end: 10,
                has_next: false,
                has_prev: false
            }
        );
        assert_eq!(
            w(serde_json::json!({"last": 3})),
            Window {
                start: 7,
                end: 10,
                has_next: false,
                has_prev: true
            }
        );
        assert_eq!(
            w(serde_json::json!({"last": 3, "before": cursor(7)})),
            Window {
                start: 4,
                end: 7,
                has_next: false,
                has_prev: true
            }
        );
        assert_eq!(
            w(serde_json::json!({"last": 30})),
            Window {
                start: 0,
                end: 10,
                has_next: false,
                has_prev: false
            }
        );
    }
}
