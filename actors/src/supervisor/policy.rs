//! Pure restart policy: [`Backoff`] (how long to wait before a restart) and [`Intensity`] with
//! its sliding [`RestartWindow`] (when to stop restarting and escalate). No clocks or runtime
//! here; callers pass `Instant`s and random numbers, so both are tested exhaustively.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Exponential backoff with jitter between restarts (Akka's `restartWithBackoff`, but jitter
/// only ever *shortens* the delay so `max` is a hard ceiling).
///
/// The `n`-th restart since the child was last stable waits
/// `base = min(max, initial * 2^(n-1))` reduced by a random fraction of up to `jitter`:
/// the delay lies in `[base * (1 - jitter), base]`. A child that ran for at least
/// `reset_after` before failing starts again from `n = 1`.
///
/// ```
/// use std::time::Duration;
/// use gse_actors::supervisor::Backoff;
///
/// let backoff = Backoff {
///     initial: Duration::from_millis(100),
///     max: Duration::from_secs(1),
///     jitter: 0.0,
///     reset_after: Duration::from_secs(60),
/// };
/// assert_eq!(backoff.delay(1, 0.5), Duration::from_millis(100));
/// assert_eq!(backoff.delay(4, 0.5), Duration::from_millis(800));
/// assert_eq!(backoff.delay(5, 0.5), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the first restart.
    pub initial: Duration,
    /// Ceiling of the delay.
    pub max: Duration,
    /// Fraction in `[0, 1]` by which a delay may be randomly shortened, so restarts of many
    /// children (or replicas) spread out instead of retrying in lock-step.
    pub jitter: f64,
    /// Uptime after which a child counts as stable and its backoff starts over.
    pub reset_after: Duration,
}

impl Default for Backoff {
    /// 100 ms doubling up to 30 s, 20 % jitter, reset after 60 s of uptime.
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            jitter: 0.2,
            reset_after: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay before restart number `attempt` (1-based; 0 is treated as 1), given a uniform
    /// random `unit` in `[0, 1)`.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(32);
        let factor = 2u64.saturating_pow(doublings);
        let base = u32::try_from(factor)
            .ok()
            .and_then(|factor| self.initial.checked_mul(factor))
            .map_or(self.max, |delay| delay.min(self.max));
        let jitter = self.jitter.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0);
        base.mul_f64(1.0 - jitter)
    }
}

/// Restart intensity: more than `max_restarts` restarts within `within` makes the supervisor
/// stop all its children and escalate (OTP's intensity/period).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intensity {
    /// Restarts tolerated inside the window.
    pub max_restarts: u32,
    /// Length of the sliding window.
    pub within: Duration,
}

impl Default for Intensity {
    /// 5 restarts within 60 s: with the default backoff the sixth failure in a row arrives
    /// about 3 s after the first, so a crash loop escalates fast while isolated failures spread
    /// over minutes never do.
    fn default() -> Self {
        Self {
            max_restarts: 5,
            within: Duration::from_secs(60),
        }
    }
}

/// The sliding window of recent restart times that enforces an [`Intensity`].
#[derive(Debug, Clone)]
pub(crate) struct RestartWindow {
    intensity: Intensity,
    restarts: VecDeque<Instant>,
}

impl RestartWindow {
    pub(crate) fn new(intensity: Intensity) -> Self {
        Self {
            intensity,
            restarts: VecDeque::new(),
        }
    }

    pub(crate) fn intensity(&self) -> Intensity {
        self.intensity
    }

    /// Records a restart at `now`; `false` when that makes more than `max_restarts` within the
    /// window, i.e. the supervisor must give up.
    pub(crate) fn admit(&mut self, now: Instant) -> bool {
        while let Some(oldest) = self.restarts.front() {
            if now.duration_since(*oldest) >= self.intensity.within {
                self.restarts.pop_front();
            } else {
                break;
            }
        }
        self.restarts.push_back(now);
        self.restarts.len() <= self.intensity.max_restarts as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn backoff(jitter: f64) -> Backoff {
        Backoff {
            initial: 100 * MS,
            max: 1000 * MS,
            jitter,
            reset_after: Duration::from_secs(60),
        }
    }

    /// Without jitter the delay doubles per attempt and stops at `max`, even for huge attempts.
    #[test]
    fn delay_doubles_and_is_capped() {
        let b = backoff(0.0);
        let delays: Vec<Duration> = [0, 1, 2, 3, 4, 5, 6, 40, u32::MAX]
            .into_iter()
            .map(|attempt| b.delay(attempt, 0.9))
            .collect();
        assert_eq!(
            delays,
            vec![
                100 * MS,
                100 * MS,
                200 * MS,
                400 * MS,
                800 * MS,
                1000 * MS,
                1000 * MS,
                1000 * MS,
                1000 * MS
            ]
        );
    }

    /// Jitter shortens the delay by at most `jitter * base` and never lengthens it, for every
    /// random draw including the extremes and out-of-range ones.
    #[test]
    fn jitter_stays_within_bounds() {
        let b = backoff(0.25);
        for attempt in 1..=6 {
            let base = backoff(0.0).delay(attempt, 0.0);
            for step in 0..=100 {
                let unit = f64::from(step) / 100.0;
                let delay = b.delay(attempt, unit);
                assert!(delay <= base, "attempt {attempt} unit {unit}: {delay:?}");
                assert!(delay >= base.mul_f64(0.75), "attempt {attempt} unit {unit}");
            }
            assert_eq!(b.delay(attempt, 0.0), base);
            assert_eq!(b.delay(attempt, 7.0), base.mul_f64(0.75));
            assert_eq!(b.delay(attempt, -1.0), base);
        }
    }

    /// The window admits `max_restarts` restarts, refuses the next one inside the period, and
    /// admits again once old restarts slide out.
    #[test]
    fn window_refuses_restart_beyond_intensity_until_old_ones_expire() {
        let start = Instant::now();
        let mut window = RestartWindow::new(Intensity {
            max_restarts: 2,
            within: Duration::from_secs(10),
        });
        assert!(window.admit(start));
        assert!(window.admit(start + Duration::from_secs(1)));
        assert!(!window.admit(start + Duration::from_secs(2)));
        // At t=11 s the restarts at 0 s and 1 s have left the window; only t=2 s remains.
        assert!(window.admit(start + Duration::from_secs(11)));
        assert!(!window.admit(start + Duration::from_secs(11)));
    }

    /// An intensity of zero gives up on the very first restart.
    #[test]
    fn zero_intensity_never_admits() {
        let mut window = RestartWindow::new(Intensity {
            max_restarts: 0,
            within: Duration::from_secs(10),
        });
        assert!(!window.admit(Instant::now()));
    }
}
