//! Wall-clock time for the few places that report or compare Unix timestamps (health, token
//! expiry, rate-limit resets, message ages): [`unix_now`] and [`unix_now_secs`] are the one
//! place that reads it. Durations and deadlines everywhere else use `tokio::time::Instant`,
//! which tests pause.
//!
//! [`TokioClock`] derives Unix time from tokio's clock, so timestamps follow
//! `tokio::time::pause`/`advance` and tests can assert them exactly.

use std::fmt::Debug;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Seconds since the Unix epoch, fractional. A clock set before 1970 is a broken host: the
/// epoch is reported rather than a panic.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Whole seconds since the Unix epoch (see [`unix_now`]).
pub fn unix_now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A source of Unix time in whole seconds.
pub trait WallClock: Send + Sync + Debug + 'static {
    /// Seconds since the Unix epoch, now.
    fn unix_seconds(&self) -> u64;
}

/// The system's real-time clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl WallClock for SystemClock {
    fn unix_seconds(&self) -> u64 {
        unix_now_secs()
    }
}

/// Unix time that starts at a given value and advances with tokio's clock: deterministic under
/// a paused runtime.
///
/// ```
/// use gse_actors::clock::{TokioClock, WallClock};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// tokio::time::pause();
/// let clock = TokioClock::starting_at(1_700_000_000);
/// tokio::time::advance(std::time::Duration::from_secs(90)).await;
/// assert_eq!(clock.unix_seconds(), 1_700_000_090);
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    unix_at_start: u64,
    start: Instant,
}

impl TokioClock {
    /// A clock reading `unix_seconds` now.
    pub fn starting_at(unix_seconds: u64) -> Self {
        Self {
            unix_at_start: unix_seconds,
            start: Instant::now(),
        }
    }
}

impl WallClock for TokioClock {
    fn unix_seconds(&self) -> u64 {
        self.unix_at_start + self.start.elapsed().as_secs()
    }
}
