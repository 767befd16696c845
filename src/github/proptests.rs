//! Property tests of everything that decodes GitHub's answers: the JSON shapes of [`wire`],
//! its timestamps, the `Link` header and `Retry-After`. No input panics; timestamps round-trip.

use proptest::prelude::*;

use super::client::next_link;
use super::governor::parse_retry_after;
use super::wire;

/// JSON-ish text: arbitrary bytes, or values shaped like GitHub's with arbitrary leaves.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z".prop_map(serde_json::Value::from),
    ];
    let keys = prop::sample::select(vec![
        "login",
        "type",
        "name",
        "archived",
        "fork",
        "pushed_at",
        "email",
        "date",
        "author",
        "committer",
        "commit",
        "sha",
        "merged_at",
        "number",
        "user",
        "created_at",
        "updated_at",
        "pull_request",
        "repository_url",
        "total_count",
        "incomplete_results",
        "items",
        "id",
        "submitted_at",
        "w",
        "a",
        "d",
        "c",
        "weeks",
        "additions",
        "deletions",
        "stats",
        "token",
        "expires_at",
    ]);
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(keys.clone().prop_map(str::to_string), inner, 0..8)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn decode_all(body: &[u8]) {
    let _ = serde_json::from_slice::<Vec<wire::Repo>>(body);
    let _ = serde_json::from_slice::<Vec<wire::Commit>>(body);
    let _ = serde_json::from_slice::<wire::Search>(body);
    let _ = serde_json::from_slice::<Vec<wire::Pull>>(body);
    let _ = serde_json::from_slice::<Vec<wire::Review>>(body);
    let _ = serde_json::from_slice::<Vec<wire::Comment>>(body);
    let _ = serde_json::from_slice::<Vec<wire::Contributor>>(body);
    let _ = serde_json::from_slice::<wire::CommitDetail>(body);
    let _ = serde_json::from_slice::<wire::Installation>(body);
    if let Ok(token) = serde_json::from_slice::<wire::AccessToken>(body) {
        let _ = wire::parse_time(&token.expires_at);
        let _ = format!("{token:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary bytes never panic a decoder.
    #[test]
    fn decoders_never_panic_on_bytes(body in prop::collection::vec(any::<u8>(), 0..256)) {
        decode_all(&body);
    }

    /// JSON shaped like GitHub's, with arbitrary leaves, never panics a decoder either.
    #[test]
    fn decoders_never_panic_on_json(value in json_value()) {
        decode_all(&serde_json::to_vec(&value).expect("json"));
        decode_all(&serde_json::to_vec(&serde_json::Value::from(vec![value])).expect("json"));
    }

    /// Any timestamp text parses or not, never panics; parsed values format back.
    #[test]
    fn parse_time_never_panics(text in prop_oneof![
        any::<String>(),
        "[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}[T ][0-9]{1,3}:[0-9]{1,3}:[0-9]{1,3}(\\.[0-9]{0,12})?(Z|[+-][0-9]{2}:[0-9]{2})?",
    ]) {
        if let Some(secs) = wire::parse_time(&text) {
            prop_assert_eq!(wire::parse_time(&wire::format_time(secs)), Some(secs));
        }
    }

    /// Any Unix time formats without a panic (clamped to what RFC3339 can write), and times
    /// in range round-trip.
    #[test]
    fn format_time_never_panics(secs in any::<i64>()) {
        let text = wire::format_time(secs);
        if (0..253_402_300_800).contains(&secs) {
            prop_assert_eq!(wire::parse_time(&text), Some(secs));
        }
    }

    /// Any `Link` header text yields a target or nothing, never a panic.
    #[test]
    fn next_link_never_panics(link in prop_oneof![
        any::<String>(),
        "(<[a-z:/?=&0-9.]{0,30}>; ?rel=\"(next|prev|last)\"(, )?){0,4}",
        "[<>;,= \"a-z]{0,40}",
    ]) {
        if let Some(target) = next_link(&link) {
            prop_assert!(link.contains(target));
        }
    }

    /// Any `Retry-After` value parses or not, never panics.
    #[test]
    fn retry_after_never_panics(value in prop_oneof![
        any::<String>(),
        "[0-9]{0,30}",
        "(Mon|Tue|Sun), [0-9]{2} (Jan|Feb|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
    ]) {
        let _ = parse_retry_after(&value);
    }
}
