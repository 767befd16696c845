//! Durations of a Go-era configuration file: Go's `time.ParseDuration` syntax (`1h30m`,
//! `1.5s`, `300ms`, a bare `0`) plus a number with a `d` (× 24 h) or `w` (× 168 h) suffix
//! (`1.5d`, `2w`); and the form this exporter's loader reads back (`1d 12h`, `90s`, `500ms`).

use std::time::Duration;

/// Nanoseconds per unit of Go's duration syntax.
const UNITS: &[(&str, f64)] = &[
    ("ns", 1.0),
    ("us", 1e3),
    ("µs", 1e3),
    ("μs", 1e3),
    ("ms", 1e6),
    ("s", 1e9),
    ("m", 60e9),
    ("h", 3600e9),
];

/// Parses one duration as the Go exporter did; `Err` holds the reason. Negative durations are
/// refused: no key of this exporter accepts one.
pub(crate) fn parse_go(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Ok(Duration::ZERO);
    }
    if let Some((number, factor)) = day_or_week(s) {
        let n: f64 = number
            .parse()
            .map_err(|_| format!("`{s}` is not a number of days or weeks"))?;
        return from_nanos(n * factor * 86_400e9, s);
    }
    let body = s.strip_prefix('+').unwrap_or(s);
    if body.starts_with('-') {
        return Err(format!("`{s}` is negative"));
    }
    if body == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = body;
    let mut total = 0.0_f64;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits);
        if number.is_empty() || number == "." {
            return Err(format!(
                "`{s}` is not a Go duration (like 30s, 5m, 1h30m, 1.5d)"
            ));
        }
        let value: f64 = number
            .parse()
            .map_err(|_| format!("`{s}`: `{number}` is not a number"))?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, tail) = after.split_at(unit_len);
        let Some((_, nanos)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            let reason = if unit.is_empty() {
                "missing unit"
            } else {
                "invalid unit"
            };
            return Err(format!(
                "`{s}`: {reason} (use ns, us, ms, s, m, h, or a number of d or w)"
            ));
        };
        total += value * nanos;
        rest = tail;
    }
    from_nanos(total, s)
}

/// `1.5d` → (`1.5`, 1), `2w` → (`2`, 7): a plain number followed by one `d` or `w`.
fn day_or_week(s: &str) -> Option<(&str, f64)> {
    let (number, factor) = match s.as_bytes().last()? {
        b'd' => (&s[..s.len() - 1], 1.0),
        b'w' => (&s[..s.len() - 1], 7.0),
        _ => return None,
    };
    let plain = !number.is_empty()
        && number
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+');
    plain.then_some((number, factor))
}

fn from_nanos(nanos: f64, shown: &str) -> Result<Duration, String> {
    if !nanos.is_finite() || nanos < 0.0 {
        return Err(format!("`{shown}` is negative or out of range"));
    }
    if nanos > u64::MAX as f64 {
        return Err(format!("`{shown}` is too long"));
    }
    Ok(Duration::from_nanos(nanos.round() as u64))
}

/// The duration as this exporter's configuration writes it: whole days, hours, minutes,
/// seconds, milliseconds, microseconds, nanoseconds, largest first (`1d 12h`, `90s` → `1m 30s`).
pub(crate) fn format(d: Duration) -> String {
    const PARTS: &[(&str, u128)] = &[
        ("d", 86_400_000_000_000),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ];
    let mut left = d.as_nanos();
    if left == 0 {
        return "0s".to_string();
    }
    let mut out = Vec::new();
    for (unit, size) in PARTS {
        let n = left / size;
        if n > 0 {
            out.push(format!("{n}{unit}"));
            left -= n * size;
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        let cases = [
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("1.5s", 1_500),
            ("300ms", 300),
            ("1.5d", 129_600_000),
            ("2w", 1_209_600_000),
            ("7d", 604_800_000),
            ("0", 0),
            ("", 0),
            ("1h0m0s", 3_600_000),
        ];
        for (text, millis) in cases {
            assert_eq!(parse_go(text), Ok(Duration::from_millis(millis)), "{text}");
        }
        for bad in ["5", "1x", "abc", "-5s", "1d2h", "h", "1.5.5s"] {
            assert!(parse_go(bad).is_err(), "{bad} accepted");
        }
    }

    /// What `format` writes, the loader's duration parser reads back exactly.
    #[test]
    fn formatted_durations_read_back() {
        for text in [
            "30s", "1h30m", "1.5d", "2w", "1.5s", "250us", "0", "26h", "90s",
        ] {
            let d = parse_go(text).expect(text);
            let written = format(d);
            assert_eq!(
                humantime::parse_duration(&written),
                Ok(d),
                "{text} → {written}"
            );
        }
        assert_eq!(format(Duration::from_secs(129_600)), "1d 12h");
        assert_eq!(format(Duration::from_secs(600)), "10m");
    }
}
