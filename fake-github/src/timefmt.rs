//! Time formats GitHub uses: ISO 8601 / RFC 3339 timestamps with second precision and `Z`,
//! Unix seconds, and the Sunday-based weeks of `stats/contributors`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;
pub const WEEK: i64 = 7 * DAY;

/// Formats Unix seconds as `2024-05-01T12:00:00Z`, GitHub's timestamp form.
pub fn iso(secs: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Parses an ISO 8601 timestamp (`2024-05-01T12:00:00Z`, with an offset or fraction) or a plain
/// date (`2024-05-01`, meaning its midnight UTC) into Unix seconds.
pub fn parse_iso(s: &str) -> Option<f64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos() as f64 / 1e9);
    }
    let date_fmt = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(s, &date_fmt) {
        return Some(d.midnight().assume_utc().unix_timestamp() as f64);
    }
    // Without a zone GitHub assumes UTC.
    let naive_fmt =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(s, &naive_fmt)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp() as f64)
}

/// Start (Sunday 00:00 UTC) of the week containing `secs`, as `stats/contributors` counts weeks.
pub fn week_start(secs: i64) -> i64 {
    let days = secs.div_euclid(DAY);
    // 1970-01-01 was a Thursday: Sunday-based weekday index is (days + 4) mod 7.
    (days - (days + 4).rem_euclid(7)) * DAY
}

/// Wall-clock Unix seconds.
pub fn system_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formatting and parsing round-trip, and the accepted input forms agree.
    #[test]
    fn iso_round_trips_and_accepts_github_forms() {
        assert_eq!(iso(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(parse_iso("2023-11-14T22:13:20Z"), Some(1_700_000_000.0));
        assert_eq!(
            parse_iso("2023-11-14T23:13:20+01:00"),
            Some(1_700_000_000.0)
        );
        assert_eq!(parse_iso("2023-11-14T22:13:20"), Some(1_700_000_000.0));
        assert_eq!(parse_iso("2023-11-14"), Some(1_699_920_000.0));
        assert_eq!(parse_iso("yesterday"), None);
    }

    /// Weeks start on Sunday 00:00 UTC.
    #[test]
    fn week_start_is_sunday_midnight() {
        // 2023-11-14 is a Tuesday; its week started Sunday 2023-11-12.
        assert_eq!(iso(week_start(1_700_000_000)), "2023-11-12T00:00:00Z");
        let sunday = week_start(1_700_000_000);
        assert_eq!(week_start(sunday), sunday);
        assert_eq!(week_start(sunday - 1), sunday - WEEK);
    }
}
