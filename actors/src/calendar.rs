//! The one calendar of the exporter: UTC day starts, day names and RFC 3339 timestamps as
//! Unix seconds, parsed and written here only (GitHub's REST and GraphQL answers, App token
//! expiries, the Copilot reports). No clock, no time-zone database; invalid dates and times
//! (`02-30`, `24:00`) are refused, never normalised.

/// Midnight UTC of `YYYY-MM-DD`, in Unix seconds.
pub fn day_start(day: &str) -> Option<i64> {
    let mut parts = day.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.get(..2)?.parse().ok()?;
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` of a Unix day number.
pub fn day_name(unix_day: i64) -> String {
    let z = unix_day + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// Unix seconds of an RFC 3339 timestamp (`2026-11-30T12:00:00Z`, fractions and offsets
/// allowed).
pub fn timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    let date = day_start(text.get(..10)?)?;
    let rest = text.get(10..)?;
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let h: i64 = rest.get(0..2)?.parse().ok()?;
    let mi: i64 = rest.get(3..5)?.parse().ok()?;
    let s: i64 = rest.get(6..8)?.parse().ok()?;
    if rest.get(2..3)? != ":" || rest.get(5..6)? != ":" || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut tail = &rest[8..];
    if let Some(frac) = tail.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        tail = &frac[digits..];
    }
    let offset = match tail {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match tail.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = tail.get(1..3)?.parse().ok()?;
            let om: i64 = tail.get(4..6)?.parse().ok()?;
            if tail.len() != 6 || tail.get(3..4)? != ":" || oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(date + h * 3600 + mi * 60 + s - offset)
}

/// The last second RFC 3339 can write with a four-digit year (9999-12-31T23:59:59Z).
pub const MAX_RFC3339_SECS: i64 = 253_402_300_799;

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`, clamped to 1970..=9999 (a corrupt stored cursor
/// must not make an unwritable date).
pub fn format_timestamp(secs: i64) -> String {
    let secs = secs.clamp(0, MAX_RFC3339_SECS);
    let (day, second) = (secs / 86_400, secs % 86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        day_name(day),
        second / 3600,
        second % 3600 / 60,
        second % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(day_start("1970-01-02"), Some(86_400));
        assert_eq!(
            day_name(day_start("2026-03-01").unwrap() / 86_400),
            "2026-03-01"
        );
        assert_eq!(
            timestamp("2026-12-01T01:00:00+01:00"),
            day_start("2026-12-01")
        );
    }

    #[test]
    fn invalid_dates_and_times_are_refused() {
        for bad in [
            "2026-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T12:60:00Z",
            "2026-01-01T12-00-00Z",
            "2026-01-01T12:00:00+2400",
            "2026-01-01T12:00:00Q",
            "2026-01-01",
        ] {
            assert_eq!(timestamp(bad), None, "{bad}");
        }
        assert_eq!(timestamp("2024-02-29T00:00:00Z"), day_start("2024-02-29"));
        assert!(day_start("2024-02-29").is_some(), "leap day");
        assert_eq!(
            timestamp("2026-01-01T00:00:00.123Z"),
            day_start("2026-01-01")
        );
    }

    #[test]
    fn formatting_round_trips_and_clamps() {
        for secs in [0, 1, 86_399, 951_782_400, 1_764_547_200, MAX_RFC3339_SECS] {
            assert_eq!(timestamp(&format_timestamp(secs)), Some(secs), "{secs}");
        }
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_timestamp(-5), "1970-01-01T00:00:00Z");
        assert_eq!(format_timestamp(i64::MAX), "9999-12-31T23:59:59Z");
    }
}
