//! Coalescing: a missed window is widened to `coalesce_window` bucket boundaries so that nearby
//! misses share one job — and it is only ever widened: a 24 h miss is backfilled as 24 h (or
//! more), never as one bucket.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `[start, end]` widened to bucket boundaries of `bucket` (start rounded down, end rounded up).
/// With a zero bucket the window is returned unchanged; an inverted window is ordered first.
/// The result always contains the input.
pub fn coalesce(start: SystemTime, end: SystemTime, bucket: Duration) -> (SystemTime, SystemTime) {
    let (start, end) = if end < start {
        (end, start)
    } else {
        (start, end)
    };
    let bucket_ns = bucket.as_nanos();
    if bucket_ns == 0 {
        return (start, end);
    }
    let floor = |t: SystemTime| -> u128 {
        let ns = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        ns - ns % bucket_ns
    };
    let to_time = |ns: u128| {
        let secs = u64::try_from(ns / 1_000_000_000).unwrap_or(u64::MAX);
        // The remainder is below 1e9 and fits in u32 by construction.
        let nanos = u32::try_from(ns % 1_000_000_000).unwrap_or(0);
        UNIX_EPOCH + Duration::new(secs, nanos)
    };
    let start_ns = floor(start);
    let end_floor = floor(end);
    let end_exact = end.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let end_ns = if end_floor == end_exact && end_exact > start_ns {
        end_floor
    } else {
        end_floor + bucket_ns
    };
    (to_time(start_ns), to_time(end_ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// A 24 h miss stays at least 24 h: start rounds down, end rounds up.
    #[test]
    fn coalescing_never_shrinks_a_day_window() {
        let w = Duration::from_secs(900);
        let (s, e) = coalesce(at(1_000_000_123), at(1_000_000_123 + 86_400), w);
        assert!(s <= at(1_000_000_123) && e >= at(1_000_000_123 + 86_400));
        assert_eq!(s, at(1_000_000_123 - 1_000_000_123 % 900));
        assert_eq!(e.duration_since(UNIX_EPOCH).unwrap().as_secs() % 900, 0);
    }

    /// Misses in one bucket coalesce to the same window; aligned ends are kept as they are.
    #[test]
    fn nearby_misses_share_a_bucket() {
        let w = Duration::from_secs(900);
        assert_eq!(
            coalesce(at(900 * 10 + 5), at(900 * 10 + 6), w),
            (at(9000), at(9900))
        );
        assert_eq!(
            coalesce(at(900 * 10 + 100), at(900 * 10 + 800), w),
            (at(9000), at(9900))
        );
        assert_eq!(coalesce(at(9000), at(9900), w), (at(9000), at(9900)));
        // A zero-length miss on a boundary still covers one bucket.
        assert_eq!(coalesce(at(9000), at(9000), w), (at(9000), at(9900)));
    }

    /// A zero bucket keeps the window; an inverted window is ordered, not dropped.
    #[test]
    fn zero_bucket_and_inverted_window() {
        assert_eq!(coalesce(at(7), at(5), Duration::ZERO), (at(5), at(7)));
    }
}
