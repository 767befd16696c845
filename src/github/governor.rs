//! The rate-limit governor of one credential (a token or an App installation), shared by every
//! org and every request using it: GitHub's budgets are per installation, not per org.
//!
//! - Primary budget: after each response the `x-ratelimit-*` headers are recorded; when the
//!   remaining count drops below `rate_limit.min_remaining_threshold` (or a 403 says it is
//!   exhausted), further requests of that resource wait until `reset + min_reset_buffer`. The
//!   response that reported it is used, never discarded and re-fetched.
//! - Secondary limits: a 403/429 with `retry-after` (seconds or HTTP date) pauses the resource
//!   that long; without it, `secondary_limit_backoff`, doubling on consecutive hits.
//!
//! - Pacing: a token bucket of `rate_limit.requests_per_minute` per credential keeps requests
//!   under GitHub's secondary limit (900 REST points per minute) instead of running into it:
//!   90 % of the rate refills steadily and 10 % may burst, so no 60-second span exceeds it.
//!
//! Waits are `tokio` sleeps inside the request future: dropping the future (actor stop,
//! shutdown, role loss) cancels them at once, and no actor mailbox ever waits on them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// The `rate_limit.*` settings.
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    pub min_remaining_threshold: u64,
    pub min_reset_buffer: Duration,
    pub secondary_limit_backoff: Duration,
    /// 0: no pacing.
    pub requests_per_minute: u32,
}

/// The pacing token bucket (tokio time, so tests can pause it).
#[derive(Debug)]
struct Pacer {
    /// Tokens per second.
    rate: f64,
    burst: f64,
    tokens: f64,
    last: tokio::time::Instant,
}

impl Pacer {
    fn new(per_minute: u32) -> Option<Pacer> {
        if per_minute == 0 {
            return None;
        }
        let per_minute = f64::from(per_minute);
        let burst = (per_minute * 0.1).floor().max(1.0);
        Some(Pacer {
            rate: (per_minute - burst).max(1.0) / 60.0,
            burst,
            tokens: burst,
            last: tokio::time::Instant::now(),
        })
    }

    /// Takes a token, or says how long until one is there.
    fn take(&mut self) -> Option<Duration> {
        let now = tokio::time::Instant::now();
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

#[derive(Debug, Default)]
struct ResourceState {
    paused_until: Option<Instant>,
    secondary_streak: u32,
}

/// One credential's budget keeper.
#[derive(Debug)]
pub struct Governor {
    settings: RateLimitSettings,
    resources: Mutex<HashMap<String, ResourceState>>,
    pacer: Option<Mutex<Pacer>>,
}

/// Longest pause the governor accepts from a header (a bogus reset must not park us for days).
const MAX_PAUSE: Duration = Duration::from_secs(2 * 3600);

impl Governor {
    pub fn new(settings: RateLimitSettings) -> Governor {
        Governor {
            pacer: Pacer::new(settings.requests_per_minute).map(Mutex::new),
            settings,
            resources: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ResourceState>> {
        // Plain values updated in single steps; a poisoned lock still holds consistent data.
        self.resources.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long a request of `resource` must wait now.
    pub fn wait_for(&self, resource: &str) -> Duration {
        let now = Instant::now();
        self.lock()
            .get(resource)
            .and_then(|s| s.paused_until)
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now))
    }

    /// Waits until `resource` may be used (cancellable by dropping the future).
    pub async fn admit(&self, resource: &str) {
        loop {
            let wait = self.wait_for(resource);
            if wait.is_zero() {
                return;
            }
            tracing::debug!(resource, wait_s = wait.as_secs_f64(), "rate-limit pause");
            tokio::time::sleep(wait).await;
        }
    }

    /// Waits for a pacing token (cancellable by dropping the future).
    pub async fn pace(&self) {
        let Some(pacer) = &self.pacer else {
            return;
        };
        loop {
            let wait = pacer.lock().unwrap_or_else(|p| p.into_inner()).take();
            match wait {
                None => return,
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    fn pause(&self, resource: &str, wait: Duration) {
        let until = Instant::now() + wait.min(MAX_PAUSE);
        let mut resources = self.lock();
        let state = resources.entry(resource.to_string()).or_default();
        state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
    }

    /// Records a response's primary budget; pauses when it is below the threshold. The
    /// threshold is meant for the hourly `core` budget; for small budgets (`search`: 30 per
    /// minute) it is capped at a tenth of the limit, so it never pauses a fresh budget.
    pub fn observe(
        &self,
        resource: &str,
        limit: Option<u64>,
        remaining: Option<u64>,
        reset: Option<i64>,
    ) {
        let (Some(remaining), Some(reset)) = (remaining, reset) else {
            return;
        };
        let threshold = limit.map_or(self.settings.min_remaining_threshold, |l| {
            self.settings.min_remaining_threshold.min(l / 10)
        });
        if remaining >= threshold && remaining > 0 {
            return;
        }
        let now = gse_actors::clock::unix_now();
        let until_reset = (reset as f64 - now).max(0.0);
        if until_reset > 0.0 {
            let wait = Duration::from_secs_f64(until_reset) + self.settings.min_reset_buffer;
            tracing::info!(
                resource,
                remaining,
                wait_s = wait.as_secs_f64(),
                "rate budget low; pausing until reset"
            );
            self.pause(resource, wait);
        }
    }

    /// Records a secondary limit; returns the pause it imposes.
    pub fn secondary(&self, resource: &str, retry_after: Option<Duration>) -> Duration {
        let streak = {
            let mut resources = self.lock();
            let state = resources.entry(resource.to_string()).or_default();
            state.secondary_streak += 1;
            state.secondary_streak
        };
        let wait = retry_after.unwrap_or_else(|| {
            let factor = 2u32.saturating_pow(streak.saturating_sub(1).min(6));
            self.settings.secondary_limit_backoff.saturating_mul(factor)
        });
        self.pause(resource, wait);
        wait
    }

    /// A successful response ends a secondary-limit streak.
    pub fn success(&self, resource: &str) {
        if let Some(state) = self.lock().get_mut(resource) {
            state.secondary_streak = 0;
        }
    }
}

/// Parses `retry-after`: delta seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn governor(threshold: u64) -> Governor {
        Governor::new(RateLimitSettings {
            min_remaining_threshold: threshold,
            min_reset_buffer: Duration::from_secs(10),
            secondary_limit_backoff: Duration::from_secs(60),
            requests_per_minute: 0,
        })
    }

    fn unix_now() -> i64 {
        gse_actors::clock::unix_now_secs() as i64
    }

    /// Below the threshold the resource pauses until reset + buffer; other resources do not.
    #[test]
    fn low_budget_pauses_until_reset_plus_buffer() {
        let g = governor(200);
        g.observe("core", Some(5000), Some(500), Some(unix_now() + 100));
        assert_eq!(g.wait_for("core"), Duration::ZERO);
        g.observe("search", Some(30), Some(20), Some(unix_now() + 100));
        assert_eq!(
            g.wait_for("search"),
            Duration::ZERO,
            "threshold capped for small budgets"
        );
        g.observe("core", Some(5000), Some(199), Some(unix_now() + 100));
        let wait = g.wait_for("core");
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(111),
            "{wait:?}"
        );
        assert_eq!(g.wait_for("search"), Duration::ZERO);
    }

    /// Secondary limits honour retry-after, else back off exponentially from the setting.
    #[test]
    fn secondary_limits_honour_retry_after_then_back_off() {
        let g = governor(0);
        assert_eq!(
            g.secondary("core", Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(g.secondary("core", None), Duration::from_secs(120));
        g.success("core");
        assert_eq!(g.secondary("core", None), Duration::from_secs(60));
    }

    /// Pacing lets a burst of a tenth through, then spaces requests so that no minute holds
    /// more than the configured rate.
    #[tokio::test(start_paused = true)]
    async fn pacing_keeps_every_minute_under_the_rate() {
        let g = Governor::new(RateLimitSettings {
            min_remaining_threshold: 0,
            min_reset_buffer: Duration::ZERO,
            secondary_limit_backoff: Duration::from_secs(60),
            requests_per_minute: 600,
        });
        let start = tokio::time::Instant::now();
        let mut at = Vec::new();
        for _ in 0..1500 {
            g.pace().await;
            at.push(start.elapsed());
        }
        assert_eq!(at[59], Duration::ZERO, "a burst of 60 passes at once");
        assert!(at[60] > Duration::ZERO, "then requests are spaced");
        for (i, t) in at.iter().enumerate() {
            let window_end = *t + Duration::from_secs(60);
            let in_window = at[i..].iter().take_while(|u| **u < window_end).count();
            assert!(
                in_window <= 600,
                "{in_window} requests in the minute from {t:?}"
            );
        }
        let last = at[1499];
        assert!(
            last >= Duration::from_secs(160) && last <= Duration::from_secs(161),
            "steady rate of 540/min after the burst ({last:?})"
        );
    }

    /// Both retry-after forms parse.
    #[test]
    fn retry_after_parses_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("30"), Some(Duration::from_secs(30)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let parsed = parse_retry_after(&later).unwrap();
        assert!(parsed > Duration::from_secs(100) && parsed <= Duration::from_secs(120));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
