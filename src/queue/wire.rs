//! The versioned JSON wire format of a job, RFC3339 times in UTC:
//!
//! ```json
//! {"version":1,"job_id":"…","dedup_key":"…","org":"acme","repo":"api",
//!  "window_start":"2026-11-23T10:00:00Z","window_end":"2026-11-23T10:15:00Z",
//!  "reason":"scrape_error","attempt":2,"max_attempts":5,"created_at":"2026-11-23T10:03:12.5Z"}
//! ```
//!
//! `attempt` in the body is authoritative and incremented on every retry. A body without
//! `version` is read as version 1 (docs/wire-compatibility.md). A Copilot report day is the
//! same shape: `"reason":"copilot_report_failed"`, `"repo":"copilot:organization"` (or
//! `copilot:enterprise`, `org` = the enterprise slug) and the window of exactly that UTC day;
//! such a body that names no scope or day does not decode (it is dead-lettered).

use std::time::SystemTime;

use gse_actors::backfill::{BackfillJob, Reason};
use serde::{Deserialize, Serialize};

/// The version this build writes.
pub const WIRE_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct WireJob {
    #[serde(default = "default_version")]
    version: u32,
    job_id: String,
    dedup_key: String,
    org: String,
    repo: String,
    window_start: String,
    window_end: String,
    reason: String,
    attempt: u32,
    max_attempts: u32,
    created_at: String,
}

fn default_version() -> u32 {
    1
}

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("malformed JSON")]
    Json(#[source] serde_json::Error),
    #[error("unsupported wire version {0}")]
    Version(u32),
    #[error("field {field} is not an RFC3339 time")]
    Time {
        field: &'static str,
        #[source]
        source: humantime::TimestampError,
    },
    #[error(transparent)]
    Reason(#[from] gse_actors::backfill::job::UnknownReason),
    #[error(transparent)]
    CopilotDay(#[from] gse_actors::backfill::NotACopilotDay),
}

/// RFC3339 in UTC with the precision the time has (nanoseconds at most).
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_nanos(t)
        .to_string()
        .replace(".000000000Z", "Z")
}

fn parse_time(field: &'static str, value: &str) -> Result<SystemTime, DecodeError> {
    humantime::parse_rfc3339_weak(value).map_err(|source| DecodeError::Time { field, source })
}

/// Encodes `job` as the current wire version.
pub fn encode(job: &BackfillJob) -> Vec<u8> {
    let wire = WireJob {
        version: WIRE_VERSION,
        job_id: job.job_id.clone(),
        dedup_key: job.dedup_key.clone(),
        org: job.org.clone(),
        repo: job.repo.clone(),
        window_start: rfc3339(job.window_start),
        window_end: rfc3339(job.window_end),
        reason: job.reason.as_str().to_string(),
        attempt: job.attempt,
        max_attempts: job.max_attempts,
        created_at: rfc3339(job.created_at),
    };
    // Serialising a struct of strings and integers cannot fail.
    serde_json::to_vec(&wire).unwrap_or_default()
}

/// Decodes a body of any supported version.
pub fn decode(body: &[u8]) -> Result<BackfillJob, DecodeError> {
    let wire: WireJob = serde_json::from_slice(body).map_err(DecodeError::Json)?;
    if wire.version != 1 {
        return Err(DecodeError::Version(wire.version));
    }
    let job = BackfillJob {
        job_id: wire.job_id,
        dedup_key: wire.dedup_key,
        org: wire.org,
        repo: wire.repo,
        window_start: parse_time("window_start", &wire.window_start)?,
        window_end: parse_time("window_end", &wire.window_end)?,
        reason: wire.reason.parse::<Reason>()?,
        attempt: wire.attempt.max(1),
        max_attempts: wire.max_attempts.max(1),
        created_at: parse_time("created_at", &wire.created_at)?,
        // Not in the body: the message's `traceparent` header carries it.
        trace_parent: None,
    };
    // A Copilot job must name its scope and day; one that does not is a dead letter.
    job.copilot_day()?;
    Ok(job)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// A job survives encode → decode exactly, nanoseconds included, with RFC3339 times.
    #[test]
    fn round_trip_keeps_every_field() {
        let t = UNIX_EPOCH + Duration::new(1_795_000_000, 123_456_789);
        let mut job = BackfillJob::new(
            "acme",
            "api",
            (
                UNIX_EPOCH + Duration::from_secs(1_794_999_100),
                UNIX_EPOCH + Duration::from_secs(1_795_000_000),
            ),
            Reason::ActivityIssueCommentsFailed,
            5,
            t,
        );
        job.attempt = 3;
        let body = encode(&job);
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(text.contains(r#""window_end":"2026-11-18T"#), "{text}");
        assert!(text.contains(r#""version":1"#));
        assert_eq!(decode(&body).unwrap(), job);
    }

    /// A Go-era body (no version, attempt 1) decodes; garbage and unknown versions do not.
    #[test]
    fn go_bodies_decode_and_bad_ones_are_errors() {
        let go = br#"{"job_id":"a:b:1","dedup_key":"a:b","org":"a","repo":"b","window_start":"2026-11-23T10:00:00Z","window_end":"2026-11-23T10:15:00.5Z","reason":"scrape_error","attempt":1,"max_attempts":7,"created_at":"2026-11-23T10:00:01.123456789Z"}"#;
        let job = decode(go).unwrap();
        assert_eq!(
            (job.attempt, job.max_attempts, job.reason),
            (1, 7, Reason::ScrapeError)
        );
        assert!(decode(b"not json").is_err());
        let v2 = String::from_utf8(go.to_vec())
            .unwrap()
            .replacen('{', r#"{"version":2,"#, 1);
        assert!(matches!(
            decode(v2.as_bytes()),
            Err(DecodeError::Version(2))
        ));
    }

    /// A Copilot day round-trips in the version-1 shape; a `copilot_report_failed` body
    /// that names no scope or no whole day does not decode (so it is dead-lettered).
    #[test]
    fn copilot_days_round_trip_and_bad_ones_are_errors() {
        let day = gse_actors::backfill::CopilotDay {
            scope: "organization",
            day_start: 1_796_515_200,
        };
        let request = day.request("acme");
        let job = BackfillJob::new(
            &request.org,
            &request.repo,
            (request.window_start, request.window_end),
            request.reason,
            5,
            UNIX_EPOCH + Duration::from_secs(1_796_700_000),
        );
        let body = encode(&job);
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(
            text.contains(r#""repo":"copilot:organization","window_start":"2026-12-06T00:00:00Z","window_end":"2026-12-07T00:00:00Z","reason":"copilot_report_failed""#),
            "{text}"
        );
        assert_eq!(decode(&body).unwrap(), job);
        for bad in [
            text.replace("copilot:organization", "api"),
            text.replace("2026-12-07T00:00:00Z", "2026-12-07T00:15:00Z"),
        ] {
            assert!(
                matches!(decode(bad.as_bytes()), Err(DecodeError::CopilotDay(_))),
                "{bad}"
            );
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn reason() -> impl Strategy<Value = Reason> {
            prop::sample::select(vec![
                Reason::ScrapeError,
                Reason::GithubUnhealthy,
                Reason::PartialScrapeError,
                Reason::ActivityCommitsFailed,
                Reason::ActivityPullsFailed,
                Reason::ActivityReviewsFailed,
                Reason::ActivityIssueCommentsFailed,
                Reason::ContributorStatsFailed,
                Reason::FallbackListCommitsFailed,
                Reason::FallbackCommitDetailFailed,
                Reason::FallbackTruncated,
            ])
        }

        /// Any instant RFC3339 can write: 1970 to the end of 9999, nanoseconds included.
        fn instant() -> impl Strategy<Value = SystemTime> {
            (0u64..253_402_300_800, 0u32..1_000_000_000)
                .prop_map(|(s, n)| UNIX_EPOCH + Duration::new(s, n))
        }

        fn job() -> impl Strategy<Value = BackfillJob> {
            (
                (
                    any::<String>(),
                    any::<String>(),
                    any::<String>(),
                    any::<String>(),
                ),
                (instant(), instant(), instant()),
                reason(),
                (1u32.., 1u32..),
            )
                .prop_map(
                    |((job_id, dedup_key, org, repo), (start, end, created), reason, (a, m))| {
                        BackfillJob {
                            job_id,
                            dedup_key,
                            org,
                            repo,
                            window_start: start,
                            window_end: end,
                            reason,
                            attempt: a,
                            max_attempts: m,
                            created_at: created,
                            trace_parent: None,
                        }
                    },
                )
        }

        /// A field value for a hand-built body: a time-like string, a number, or anything.
        fn field() -> impl Strategy<Value = serde_json::Value> {
            prop_oneof![
                "[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,2}T[0-9:.]{0,20}Z?"
                    .prop_map(serde_json::Value::from),
                any::<String>().prop_map(serde_json::Value::from),
                any::<i64>().prop_map(serde_json::Value::from),
                any::<u32>().prop_map(serde_json::Value::from),
                Just(serde_json::Value::Null),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

            /// encode → decode gives the job back, whatever its strings and instants.
            #[test]
            fn encode_then_decode_round_trips(job in job()) {
                let decoded = decode(&encode(&job)).expect("an encoded job decodes");
                prop_assert_eq!(decoded, job);
            }

            /// Any bytes decode to a job or an error, never a panic.
            #[test]
            fn decoding_any_bytes_never_panics(body in prop::collection::vec(any::<u8>(), 0..512)) {
                let _ = decode(&body);
            }

            /// Bodies with the right keys and arbitrary values never panic either.
            #[test]
            fn decoding_any_field_values_never_panics(
                values in prop::collection::vec(field(), 11),
                version in prop::option::of(any::<i64>()),
            ) {
                let keys = [
                    "job_id", "dedup_key", "org", "repo", "window_start", "window_end",
                    "reason", "attempt", "max_attempts", "created_at", "extra",
                ];
                let mut body: serde_json::Map<String, serde_json::Value> =
                    keys.iter().map(|k| k.to_string()).zip(values).collect();
                if let Some(v) = version {
                    body.insert("version".into(), v.into());
                }
                let _ = decode(&serde_json::to_vec(&body).expect("json"));
            }
        }
    }
}
