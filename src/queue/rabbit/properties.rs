//! The properties of a job message: persistent, JSON, `timestamp` (publish time, which makes
//! the oldest-message age real), `message_id` (the job id) and headers `version`, `attempt`,
//! `job_id`, `created_at`, plus `last_error` and `dead_lettered_at` on dead letters, and the
//! W3C `traceparent` of the publishing span when the job carries one ([`TRACEPARENT`]).

use std::time::SystemTime;

use gse_actors::backfill::BackfillJob;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;

use crate::queue::wire;

/// The header of the W3C trace context (the name the trace-context spec gives it over HTTP).
pub(super) const TRACEPARENT: &str = "traceparent";

/// Longest `last_error` header kept (headers are not meant for stack traces).
const MAX_LAST_ERROR: usize = 2048;

/// A header value of text.
fn long_string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

/// The longest prefix of `text` within `max` bytes, cut at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The `traceparent` header of a delivery, when it has a text one.
pub(super) fn traceparent(properties: &BasicProperties) -> Option<String> {
    let value = properties.headers().as_ref()?.inner().get(TRACEPARENT)?;
    match value {
        AMQPValue::LongString(text) => Some(text.to_string()),
        AMQPValue::ShortString(text) => Some(text.as_str().to_string()),
        _ => None,
    }
}

/// Properties of a job message: persistent, JSON, timestamped, with visible headers.
pub(super) fn properties(job: Option<&BackfillJob>, last_error: Option<&str>) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        "version".into(),
        AMQPValue::LongLongInt(i64::from(wire::WIRE_VERSION)),
    );
    let mut properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_timestamp(gse_actors::clock::unix_now_secs());
    if let Some(job) = job {
        headers.insert(
            "attempt".into(),
            AMQPValue::LongLongInt(i64::from(job.attempt)),
        );
        headers.insert("job_id".into(), long_string(&job.job_id));
        headers.insert(
            "created_at".into(),
            long_string(&wire::rfc3339(job.created_at)),
        );
        if let Some(traceparent) = &job.trace_parent {
            headers.insert(TRACEPARENT.into(), long_string(traceparent));
        }
        properties = properties.with_message_id(ShortString::from(truncate(&job.job_id, 255)));
    }
    if let Some(last_error) = last_error {
        headers.insert(
            "last_error".into(),
            long_string(truncate(last_error, MAX_LAST_ERROR)),
        );
        headers.insert(
            "dead_lettered_at".into(),
            long_string(&wire::rfc3339(SystemTime::now())),
        );
    }
    properties.with_headers(headers)
}
