//! What the election scripts answer: the `acquire` and `heartbeat` replies read into the
//! port's [`Acquire`] and [`Membership`], with the reading of Redis values they need. A reply of
//! another shape is an [`UnexpectedReply`], never a panic.

use std::sync::Arc;
use std::time::Duration;

use gse_actors::election::{Acquire, Grant, Membership};
use redis::Value;

/// A reply that does not have the shape the script returns.
#[derive(Debug, thiserror::Error)]
#[error("unexpected reply from Redis: {0}")]
pub(super) struct UnexpectedReply(pub(super) String);

/// `{'ok', epoch, value}` or `{'held', value, pttl}`.
pub(super) fn parse_acquire(key: &str, reply: Value) -> Result<Acquire, UnexpectedReply> {
    let items = array(reply)?;
    match items.as_slice() {
        [status, epoch, value] if text(status).as_deref() == Some("ok") => {
            let epoch = integer(epoch)
                .and_then(|e| u64::try_from(e).ok())
                .ok_or_else(|| UnexpectedReply(format!("epoch {epoch:?}")))?;
            let value = text(value).ok_or_else(|| UnexpectedReply("lease value".into()))?;
            Ok(Acquire::Acquired(Grant::leased(
                epoch,
                Arc::from(key),
                Arc::from(value),
            )))
        }
        [status, value, pttl] if text(status).as_deref() == Some("held") => {
            let value = text(value).ok_or_else(|| UnexpectedReply("lease value".into()))?;
            // PTTL: -1 no expiry (not set by us), -2 gone: report no time left.
            let ttl = integer(pttl)
                .and_then(|ms| u64::try_from(ms).ok())
                .unwrap_or(0);
            Ok(Acquire::Held {
                holder: holder_of(&value).to_string(),
                ttl: Duration::from_millis(ttl),
            })
        }
        _ => Err(UnexpectedReply(format!("acquire returned {items:?}"))),
    }
}

/// `{'duplicate'}` (None) or `{'ok', {identity, …}}` (the members, sorted).
pub(super) fn parse_heartbeat(reply: Value) -> Result<Option<Membership>, UnexpectedReply> {
    let items = array(reply)?;
    match items.as_slice() {
        [status] if text(status).as_deref() == Some("duplicate") => Ok(None),
        [status, members, expiry] if text(status).as_deref() == Some("ok") => {
            let mut members = array(members.clone())?
                .iter()
                .map(|m| text(m).ok_or_else(|| UnexpectedReply(format!("member {m:?}"))))
                .collect::<Result<Vec<String>, _>>()?;
            members.sort_unstable();
            let next_expiry = match expiry {
                Value::Int(ms) if *ms >= 0 => Some(Duration::from_millis(*ms as u64)),
                Value::Int(_) => None,
                other => return Err(UnexpectedReply(format!("expiry {other:?}"))),
            };
            Ok(Some(Membership {
                members,
                next_expiry,
            }))
        }
        _ => Err(UnexpectedReply(format!("heartbeat returned {items:?}"))),
    }
}

/// The identity in a lease value `epoch|token|identity` (the whole value if malformed).
fn holder_of(value: &str) -> &str {
    let mut parts = value.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(_), Some(identity)) => identity,
        _ => value,
    }
}

/// The items of an array (or set) reply.
fn array(value: Value) -> Result<Vec<Value>, UnexpectedReply> {
    match value {
        Value::Array(items) | Value::Set(items) => Ok(items),
        other => Err(UnexpectedReply(format!("expected an array, got {other:?}"))),
    }
}

/// A reply value as text, if it is one.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Okay => Some("OK".into()),
        _ => None,
    }
}

/// A reply value as an integer, if it is one (or text holding one).
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Int(i) => Some(*i),
        Value::BulkString(_) | Value::SimpleString(_) => text(value)?.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_is_the_identity_part_of_the_value() {
        assert_eq!(holder_of("7|abc|pod-1"), "pod-1");
        assert_eq!(holder_of("7|abc|pod|with|bars"), "pod|with|bars");
        assert_eq!(holder_of("garbage"), "garbage");
    }

    #[test]
    fn malformed_replies_are_errors_not_panics() {
        assert!(parse_acquire("k", Value::Nil).is_err());
        assert!(parse_acquire("k", Value::Array(vec![Value::Int(1)])).is_err());
        let negative_epoch = Value::Array(vec![
            Value::BulkString(b"ok".to_vec()),
            Value::Int(-1),
            Value::BulkString(b"v".to_vec()),
        ]);
        assert!(parse_acquire("k", negative_epoch).is_err());
        assert!(parse_heartbeat(Value::Array(vec![])).is_err());
        let bad_member = Value::Array(vec![
            Value::BulkString(b"ok".to_vec()),
            Value::Array(vec![Value::Int(3)]),
            Value::Int(-1),
        ]);
        assert!(parse_heartbeat(bad_member).is_err());
        let bad_expiry = Value::Array(vec![
            Value::BulkString(b"ok".to_vec()),
            Value::Array(vec![Value::BulkString(b"a".to_vec())]),
            Value::BulkString(b"soon".to_vec()),
        ]);
        assert!(parse_heartbeat(bad_expiry).is_err());
    }
}
