//! How hard a client tries and how much it reads: the `retry.*` backoff ([`RetrySettings`])
//! and the bounds on answers and listings ([`ResponseLimits`]).

use std::time::Duration;

use rand::Rng;

use crate::github::body::InFlightBudget;

/// The `retry.*` settings.
#[derive(Debug, Clone)]
pub struct RetrySettings {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub jitter: bool,
}

impl RetrySettings {
    /// `initial × 2^(attempt−1)` capped at `max`; with jitter, a random point in its upper half.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        let base = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        if self.jitter {
            base.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
        } else {
            base
        }
    }
}

/// Bounds on what one answer, and one listing, may cost (`github.max_response_bytes`,
/// `github.max_pages_per_listing`), and the process-wide budget of body bytes being read at
/// once (`github.max_response_bytes_in_flight`, shared by every client).
#[derive(Debug, Clone)]
pub struct ResponseLimits {
    pub max_response_bytes: u64,
    pub max_pages_per_listing: u32,
    pub in_flight: InFlightBudget,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        ResponseLimits {
            max_response_bytes: 32 << 20,
            max_pages_per_listing: 1000,
            in_flight: InFlightBudget::new(32 << 20),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Backoff doubles, is capped, and jitter stays in the upper half.
    #[test]
    fn backoff_doubles_caps_and_jitters() {
        let mut r = RetrySettings {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            jitter: false,
        };
        assert_eq!(r.backoff(1), Duration::from_millis(100));
        assert_eq!(r.backoff(2), Duration::from_millis(200));
        assert_eq!(r.backoff(3), Duration::from_millis(350));
        r.jitter = true;
        for _ in 0..50 {
            let b = r.backoff(2);
            assert!(b >= Duration::from_millis(100) && b <= Duration::from_millis(200));
        }
    }
}
