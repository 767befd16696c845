//! GitHub health per org: consecutive failed cycles reaching
//! `github.unhealthy_failure_threshold` start a cooldown of `github.unhealthy_cooldown` during
//! which cycles are skipped (their period goes to backfill); after it, cycles run again and the
//! org counts as recovered after `github.recover_success_threshold` consecutive successes.

/// Where an org's GitHub health stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HealthState {
    Healthy,
    /// Scrapes are skipped until the instant (Unix seconds).
    Cooldown {
        until: f64,
    },
    /// Cooldown is over; this many consecutive successes so far.
    Recovering {
        successes: u32,
    },
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Healthy => "healthy",
            HealthState::Cooldown { .. } => "cooldown",
            HealthState::Recovering { .. } => "recovering",
        }
    }
}

/// The health streak machine (pure; time comes in as arguments).
#[derive(Debug, Clone)]
pub struct GithubHealth {
    pub failure_threshold: u32,
    pub cooldown_secs: f64,
    pub recover_threshold: u32,
    consecutive_failures: u32,
    state: HealthState,
}

impl GithubHealth {
    pub fn new(failure_threshold: u32, cooldown_secs: f64, recover_threshold: u32) -> GithubHealth {
        GithubHealth {
            failure_threshold: failure_threshold.max(1),
            cooldown_secs,
            recover_threshold: recover_threshold.max(1),
            consecutive_failures: 0,
            state: HealthState::Healthy,
        }
    }

    pub fn state(&self) -> HealthState {
        self.state
    }

    /// Whether a cycle starting at `now` must be skipped. Ends an expired cooldown.
    pub fn skip_cycle(&mut self, now: f64) -> bool {
        match self.state {
            HealthState::Cooldown { until } if now < until => true,
            HealthState::Cooldown { .. } => {
                self.state = HealthState::Recovering { successes: 0 };
                false
            }
            _ => false,
        }
    }

    /// Records a finished cycle (`failed`: nothing could be scraped).
    pub fn record(&mut self, failed: bool, now: f64) {
        if failed {
            self.consecutive_failures += 1;
            let threshold = match self.state {
                // One more failure while recovering is enough to cool down again.
                HealthState::Recovering { .. } => 1,
                _ => self.failure_threshold,
            };
            if self.consecutive_failures >= threshold {
                self.state = HealthState::Cooldown {
                    until: now + self.cooldown_secs,
                };
                self.consecutive_failures = 0;
            }
            return;
        }
        self.consecutive_failures = 0;
        if let HealthState::Recovering { successes } = self.state {
            let successes = successes + 1;
            self.state = if successes >= self.recover_threshold {
                HealthState::Healthy
            } else {
                HealthState::Recovering { successes }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Failures reach the threshold → cooldown skips cycles → recovery after N successes.
    #[test]
    fn streak_cools_down_and_recovers() {
        let mut h = GithubHealth::new(2, 60.0, 2);
        h.record(true, 0.0);
        assert_eq!(h.state(), HealthState::Healthy);
        h.record(true, 1.0);
        assert_eq!(h.state(), HealthState::Cooldown { until: 61.0 });
        assert!(h.skip_cycle(30.0));
        assert!(!h.skip_cycle(61.0));
        h.record(false, 62.0);
        assert_eq!(h.state(), HealthState::Recovering { successes: 1 });
        h.record(false, 63.0);
        assert_eq!(h.state(), HealthState::Healthy);
    }

    /// A success resets the failure streak.
    #[test]
    fn success_resets_the_failure_streak() {
        let mut h = GithubHealth::new(2, 60.0, 1);
        h.record(true, 0.0);
        h.record(false, 1.0);
        h.record(true, 2.0);
        assert_eq!(h.state(), HealthState::Healthy);
    }
}
