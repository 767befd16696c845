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
//! - Sharing ([`Sharing`], with Redis and `rate_limit.shared`): the pacing and the pauses are
//!   the credential's for the whole cluster ([`super::shared_budget`]); the local bucket and
//!   pauses still apply. When the shared budget does not answer within its deadline the request
//!   is paced locally at `1/N` of the rate (N: the live replicas the election last saw),
//!   counted in `gh_exporter_rate_governor_fallbacks_total`, and Redis is asked again
//!   [`RETRY_SHARED_AFTER`] later.
//!
//! Waits are `tokio` sleeps inside the request future: dropping the future (actor stop,
//! shutdown, role loss) cancels them at once, and no actor mailbox ever waits on them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use gse_actors::observe::taxonomy::RATE_GOVERNOR_FALLBACKS;
use gse_actors::observe::Recorder;

use super::shared_budget::{CredentialBudget, Pacing, Take};

/// The `rate_limit.*` settings.
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    pub min_remaining_threshold: u64,
    pub min_reset_buffer: Duration,
    pub secondary_limit_backoff: Duration,
    /// 0: no pacing.
    pub requests_per_minute: u32,
}

/// The burst (a tenth of the rate, at least 1) and the steady rate per second of
/// `per_minute`, so that no 60-second span holds more than `per_minute` requests.
fn burst_and_rate(per_minute: u32) -> (f64, f64) {
    let per_minute = f64::from(per_minute);
    let burst = (per_minute * 0.1).floor().max(1.0);
    (burst, (per_minute - burst).max(1.0) / 60.0)
}

/// The shared budget's GCRA parameters for `per_minute` (the local bucket's, for the cluster).
pub fn pacing(per_minute: u32) -> Option<Pacing> {
    if per_minute == 0 {
        return None;
    }
    let (burst, rate) = burst_and_rate(per_minute);
    Some(Pacing {
        interval: Duration::from_secs_f64(1.0 / rate),
        burst: burst as u32,
    })
}

/// The pacing token bucket (tokio time, so tests can pause it).
#[derive(Debug)]
struct Pacer {
    /// The rate it was built for.
    per_minute: u32,
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
        let (burst, rate) = burst_and_rate(per_minute);
        Some(Pacer {
            per_minute,
            rate,
            burst,
            tokens: burst,
            last: tokio::time::Instant::now(),
        })
    }

    /// The bucket at another rate, keeping no more tokens than it had.
    fn rescaled(&self, per_minute: u32) -> Option<Pacer> {
        let mut pacer = Pacer::new(per_minute)?;
        pacer.tokens = pacer.tokens.min(self.tokens);
        pacer.last = self.last;
        Some(pacer)
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

/// How a governor shares its credential's budget with the other replicas.
pub struct Sharing {
    pub budget: CredentialBudget,
    /// How many replicas share the credential when this one paces alone (at least 1).
    pub peers: Arc<dyn Fn() -> usize + Send + Sync>,
    /// Where fallbacks are counted.
    pub recorder: Arc<dyn Recorder>,
}

/// A shared governor's view of Redis.
struct Shared {
    sharing: Sharing,
    /// After a failed take, the shared budget is not asked before this instant.
    retry_at: Mutex<Option<tokio::time::Instant>>,
}

/// After a failed take, how long requests are paced locally before Redis is asked again (a
/// Redis that does not answer costs one deadline per this span, not one per request).
pub const RETRY_SHARED_AFTER: Duration = Duration::from_secs(1);

/// One credential's budget keeper.
pub struct Governor {
    settings: RateLimitSettings,
    resources: Mutex<HashMap<String, ResourceState>>,
    pacer: Mutex<Option<Pacer>>,
    shared: Option<Shared>,
}

impl std::fmt::Debug for Governor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Governor")
            .field("settings", &self.settings)
            .field("shared", &self.shared.as_ref().map(|s| &s.sharing.budget))
            .finish_non_exhaustive()
    }
}

/// Longest pause the governor accepts from a header (a bogus reset must not park us for days).
const MAX_PAUSE: Duration = Duration::from_secs(2 * 3600);

impl Governor {
    pub fn new(settings: RateLimitSettings) -> Governor {
        Governor {
            pacer: Mutex::new(Pacer::new(settings.requests_per_minute)),
            settings,
            resources: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// A governor whose pacing and pauses are shared with the other replicas.
    pub fn shared(settings: RateLimitSettings, sharing: Sharing) -> Governor {
        Governor {
            shared: Some(Shared {
                sharing,
                retry_at: Mutex::new(None),
            }),
            ..Governor::new(settings)
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

    /// Waits until a request of `resource` may be sent: its pauses (local, and shared), then
    /// a pacing slot (shared, else local). Cancellable by dropping the future.
    pub async fn acquire(&self, resource: &str) {
        loop {
            self.admit(resource).await;
            match self.take_shared(resource).await {
                None => return self.pace_locally().await,
                Some(Take::Go) => return,
                Some(Take::Paused(wait)) => {
                    tracing::debug!(
                        resource,
                        wait_s = wait.as_secs_f64(),
                        "shared rate-limit pause"
                    );
                    tokio::time::sleep(wait).await;
                }
                Some(Take::Slot(wait)) => {
                    tokio::time::sleep(wait).await;
                    // A pause that began meanwhile: the slot is given up.
                    if self.wait_for(resource).is_zero() {
                        return;
                    }
                }
            }
        }
    }

    /// The shared budget's answer; `None` when not shared or Redis did not answer (counted).
    async fn take_shared(&self, resource: &str) -> Option<Take> {
        let shared = self.shared.as_ref()?;
        let now = tokio::time::Instant::now();
        let retry_at = *shared.retry_at.lock().unwrap_or_else(|p| p.into_inner());
        if retry_at.is_some_and(|at| now < at) {
            shared
                .sharing
                .recorder
                .count(&RATE_GOVERNOR_FALLBACKS, &[], 1);
            return None;
        }
        let pacing = pacing(self.settings.requests_per_minute);
        match shared.sharing.budget.take(resource, pacing).await {
            Ok(take) => {
                if retry_at.is_some() {
                    tracing::info!(budget = ?shared.sharing.budget, "shared rate budget answers again");
                    *shared.retry_at.lock().unwrap_or_else(|p| p.into_inner()) = None;
                }
                Some(take)
            }
            Err(error) => {
                if retry_at.is_none() {
                    tracing::warn!(
                        error = %gse_actors::store::error_chain(&error),
                        peers = (shared.sharing.peers)(),
                        "shared rate budget unavailable; pacing locally at this replica's share"
                    );
                }
                *shared.retry_at.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(tokio::time::Instant::now() + RETRY_SHARED_AFTER);
                shared
                    .sharing
                    .recorder
                    .count(&RATE_GOVERNOR_FALLBACKS, &[], 1);
                None
            }
        }
    }

    /// The local rate: the whole rate, or this replica's share of it when the budget is meant
    /// to be shared.
    fn local_rate(&self) -> u32 {
        let rate = self.settings.requests_per_minute;
        match &self.shared {
            Some(shared) if rate > 0 => {
                let peers = u32::try_from((shared.sharing.peers)().max(1)).unwrap_or(u32::MAX);
                (rate / peers).max(1)
            }
            _ => rate,
        }
    }

    /// Waits for a local pacing token (cancellable by dropping the future).
    async fn pace_locally(&self) {
        let per_minute = self.local_rate();
        loop {
            let wait = {
                let mut pacer = self.pacer.lock().unwrap_or_else(|p| p.into_inner());
                let rescaled = pacer
                    .as_ref()
                    .filter(|p| p.per_minute != per_minute)
                    .map(|old| old.rescaled(per_minute));
                if let Some(new) = rescaled {
                    *pacer = new;
                }
                match pacer.as_mut() {
                    None => return,
                    Some(pacer) => pacer.take(),
                }
            };
            match wait {
                None => return,
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Tells the other replicas of a pause of `resource` (best effort, within the deadline).
    async fn share_pause(&self, resource: &str, wait: Duration) {
        let Some(shared) = &self.shared else {
            return;
        };
        if let Err(error) = shared
            .sharing
            .budget
            .pause(resource, wait.min(MAX_PAUSE))
            .await
        {
            tracing::warn!(resource, error = %gse_actors::store::error_chain(&error), "could not share a rate-limit pause");
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
    pub async fn observe(
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
            self.share_pause(resource, wait).await;
        }
    }

    /// Records a secondary limit; returns the pause it imposes.
    pub async fn secondary(&self, resource: &str, retry_after: Option<Duration>) -> Duration {
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
        self.share_pause(resource, wait).await;
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
    #[tokio::test]
    async fn low_budget_pauses_until_reset_plus_buffer() {
        let g = governor(200);
        g.observe("core", Some(5000), Some(500), Some(unix_now() + 100))
            .await;
        assert_eq!(g.wait_for("core"), Duration::ZERO);
        g.observe("search", Some(30), Some(20), Some(unix_now() + 100))
            .await;
        assert_eq!(
            g.wait_for("search"),
            Duration::ZERO,
            "threshold capped for small budgets"
        );
        g.observe("core", Some(5000), Some(199), Some(unix_now() + 100))
            .await;
        let wait = g.wait_for("core");
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(111),
            "{wait:?}"
        );
        assert_eq!(g.wait_for("search"), Duration::ZERO);
    }

    /// Secondary limits honour retry-after, else back off exponentially from the setting.
    #[tokio::test]
    async fn secondary_limits_honour_retry_after_then_back_off() {
        let g = governor(0);
        assert_eq!(
            g.secondary("core", Some(Duration::from_secs(7))).await,
            Duration::from_secs(7)
        );
        assert_eq!(g.secondary("core", None).await, Duration::from_secs(120));
        g.success("core");
        assert_eq!(g.secondary("core", None).await, Duration::from_secs(60));
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
            g.acquire("core").await;
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

    /// The shared budget paces the cluster like the local bucket paces one replica: a tenth as
    /// burst, the rest spread over the minute.
    #[test]
    fn shared_pacing_matches_the_local_bucket() {
        let p = pacing(600).unwrap();
        assert_eq!(p.burst, 60);
        assert_eq!(p.interval, Duration::from_secs_f64(60.0 / 540.0));
        assert_eq!(pacing(5).unwrap().burst, 1);
        assert!(pacing(0).is_none());
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
