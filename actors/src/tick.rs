//! Periodic work (seed 001, the tick-runner): [`TickRunner`] runs an async job on a fixed
//! interval with a jittered first tick, never overlapping itself, cancellable, and records
//! every run's outcome in the [`ServiceHealthRegistry`] that `/healthz` reads.
//!
//! - **Jittered first tick**: the first run waits a random delay up to `first_tick_jitter`, so
//!   replicas and services started together do not hit GitHub or Redis in lock-step.
//! - **Fixed schedule, no overlap**: runs are awaited in sequence on a schedule anchored at the
//!   first tick. Ticks missed during a run longer than the interval are *skipped*, not queued:
//!   the next run waits for the next tick still ahead, no burst of catch-up runs.
//! - **Cancellation**: when the token is cancelled the wait ends at once, and a run in flight is
//!   dropped at its next `.await` (jobs must be cancel-safe, as every tokio future should be);
//!   an interrupted run is not recorded.
//! - **Failures**: an `Err` or a panic of the job is recorded as a failure (a panic's message
//!   becomes `last_error`) and the loop goes on. Error texts reach `/healthz`: they must not
//!   contain secrets.

use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

use crate::service_health::ServiceHealthRegistry;
use crate::supervisor::{payload_message, ChildSpec};

/// How one run ended badly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TickError {
    /// The job returned an error (its text).
    #[error("{0}")]
    Failed(String),
    /// The job panicked (the panic message).
    #[error("panicked: {0}")]
    Panicked(String),
}

/// Runs one service's job periodically. Cheap to clone.
///
/// ```
/// use std::time::Duration;
/// use gse_actors::service_health::ServiceHealthRegistry;
/// use gse_actors::tick::TickRunner;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let health = ServiceHealthRegistry::new();
/// let gc = TickRunner::new("store_gc", Duration::from_secs(300), &health);
/// // Admin endpoint or test: one run, recorded like a scheduled one.
/// gc.tick_once(|| async { Ok::<(), String>(()) }).await.unwrap();
/// assert_eq!(health.snapshot()[0].runs, 1);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TickRunner {
    name: Arc<str>,
    interval: Duration,
    first_tick_jitter: Duration,
    rng_seed: Option<u64>,
    health: ServiceHealthRegistry,
}

impl TickRunner {
    /// A runner for service `name` every `interval`, recording into `health` (the service
    /// appears there at once, with no runs). The first tick is jittered by up to a tenth of
    /// the interval unless [`TickRunner::first_tick_jitter`] says otherwise.
    ///
    /// # Panics
    /// If `interval` is zero (a configuration bug the config layer rejects first).
    pub fn new(
        name: impl Into<Arc<str>>,
        interval: Duration,
        health: &ServiceHealthRegistry,
    ) -> Self {
        assert!(!interval.is_zero(), "tick interval must be positive");
        let name = name.into();
        health.register(&name, interval);
        Self {
            name,
            interval,
            first_tick_jitter: interval / 10,
            rng_seed: None,
            health: health.clone(),
        }
    }

    /// Sets the upper bound of the first tick's random delay (zero: start at once).
    pub fn first_tick_jitter(mut self, max: Duration) -> Self {
        self.first_tick_jitter = max;
        self
    }

    /// Seeds the first-tick jitter, for reproducible tests (default: from entropy).
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = Some(seed);
        self
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `job` on schedule until `cancel` is cancelled. Never returns otherwise: failures
    /// and panics of the job are recorded, not propagated.
    pub async fn run<F, Fut, E>(self, cancel: CancellationToken, mut job: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Display,
    {
        let mut next = Instant::now() + self.first_delay();
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                () = sleep_until(next) => {}
            }
            tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                _ = self.tick_once(&mut job) => {}
            }
            next = next_tick(next, self.interval, Instant::now());
        }
    }

    /// Runs `job` once now and records the outcome exactly as a scheduled run would.
    pub async fn tick_once<F, Fut, E>(&self, job: F) -> Result<(), TickError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Display,
    {
        // Calling `job` inside the async block puts a panic in the closure itself under
        // `catch_unwind` too.
        let outcome = AssertUnwindSafe(async { job().await }).catch_unwind().await;
        let result = match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(TickError::Failed(error.to_string())),
            Err(payload) => Err(TickError::Panicked(payload_message(payload))),
        };
        match &result {
            Ok(()) => self.health.record_success(&self.name),
            Err(failure) => {
                let message = failure.to_string();
                let consecutive_failures = self.health.record_failure(&self.name, &message);
                match failure {
                    TickError::Failed(_) => warn!(
                        service = %self.name, error = %message, consecutive_failures,
                        "periodic job failed"
                    ),
                    TickError::Panicked(_) => error!(
                        service = %self.name, error = %message, consecutive_failures,
                        "periodic job panicked"
                    ),
                }
            }
        }
        result
    }

    /// A supervised task child running this service: each (re)start runs a fresh loop with a
    /// clone of `job`, and the supervisor's stop request cancels it. The service's health
    /// record carries over restarts.
    pub fn into_child<F, Fut, E>(self, job: F) -> ChildSpec
    where
        F: FnMut() -> Fut + Clone + 'static,
        Fut: Future<Output = Result<(), E>> + 'static,
        E: Display + 'static,
    {
        let name = self.name.clone();
        ChildSpec::task(name, move |stop| {
            let runner = self.clone();
            let job = job.clone();
            async move {
                runner.run(stop, job).await;
                Ok::<(), std::convert::Infallible>(())
            }
        })
    }

    fn first_delay(&self) -> Duration {
        if self.first_tick_jitter.is_zero() {
            return Duration::ZERO;
        }
        let mut rng = self
            .rng_seed
            .map_or_else(StdRng::from_entropy, StdRng::seed_from_u64);
        self.first_tick_jitter.mul_f64(rng.gen::<f64>())
    }
}

/// The tick after the one at `last`: `last + interval`, or, when a long run already passed
/// it, the first later tick on the same schedule that is not in the past. Missed ticks are
/// skipped, never run late (tokio's own `MissedTickBehavior::Skip` still fires one late tick
/// at once, which is what this avoids).
fn next_tick(last: Instant, interval: Duration, now: Instant) -> Instant {
    let next = last + interval;
    if next >= now {
        return next;
    }
    let missed = (now - next).as_nanos().div_ceil(interval.as_nanos());
    let skip = u64::try_from(missed.saturating_mul(interval.as_nanos())).unwrap_or(u64::MAX);
    next + Duration::from_nanos(skip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TokioClock;
    use crate::service_health::ServiceHealthSnapshot;
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    const START_UNIX: u64 = 1_700_000_000;

    fn registry() -> ServiceHealthRegistry {
        ServiceHealthRegistry::with_clock(Arc::new(TokioClock::starting_at(START_UNIX)))
    }

    /// Tick times are deadlines on tokio's 1 ms timer wheel, rounded up; allow that rounding.
    #[track_caller]
    fn assert_near(actual: Duration, expected: Duration) {
        assert!(
            actual >= expected && actual <= expected + Duration::from_millis(1),
            "{actual:?} vs {expected:?}"
        );
    }

    /// Runs `runner` with `job` until `runs` runs have started, then cancels (the last run
    /// still completes: the cancellation comes from inside it); returns each run's start
    /// offset from the beginning.
    async fn run_times<F, Fut>(runner: TickRunner, runs: usize, mut job: F) -> Vec<Duration>
    where
        F: FnMut(usize) -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let start = Instant::now();
        let cancel = CancellationToken::new();
        let times = RefCell::new(Vec::new());
        runner
            .run(cancel.clone(), || {
                let mut times = times.borrow_mut();
                times.push(start.elapsed());
                if times.len() == runs {
                    cancel.cancel();
                }
                job(times.len())
            })
            .await;
        times.into_inner()
    }

    /// The first tick comes after a random delay within the jitter bound, the same for a given
    /// seed, and later ticks follow at the fixed interval.
    #[tokio::test(start_paused = true)]
    async fn first_tick_is_jittered_then_ticks_are_fixed() {
        let health = registry();
        let runner = TickRunner::new("probe", Duration::from_secs(10), &health)
            .first_tick_jitter(Duration::from_secs(5))
            .rng_seed(3);
        let times = run_times(runner.clone(), 4, |_| async { Ok(()) }).await;
        let first = times[0];
        assert!(first <= Duration::from_secs(5), "{first:?}");
        assert!(
            first > Duration::ZERO,
            "seed 3 should not draw exactly zero"
        );
        for (n, time) in times.iter().enumerate() {
            assert_near(*time, first + Duration::from_secs(10) * n as u32);
        }
        let again = run_times(runner, 1, |_| async { Ok(()) }).await;
        assert_eq!(again[0], first);
    }

    /// A run longer than the interval skips the ticks it missed (no catch-up burst), and runs
    /// never overlap.
    #[tokio::test(start_paused = true)]
    async fn long_run_skips_missed_ticks_and_never_overlaps() {
        let health = registry();
        let runner = TickRunner::new("slow", Duration::from_secs(10), &health)
            .first_tick_jitter(Duration::ZERO);
        let in_flight = Rc::new(Cell::new(false));
        let times = run_times(runner, 3, |n| {
            let in_flight = in_flight.clone();
            async move {
                assert!(!in_flight.replace(true), "runs overlapped");
                if n == 1 {
                    tokio::time::sleep(Duration::from_secs(25)).await;
                }
                in_flight.set(false);
                Ok(())
            }
        })
        .await;
        assert_near(times[0], Duration::ZERO);
        assert_near(times[1], Duration::from_secs(30));
        assert_near(times[2], Duration::from_secs(40));
        assert_eq!(health.snapshot()[0].runs, 3);
    }

    /// Cancelling while waiting for a far tick returns at once, without running the job.
    #[tokio::test(start_paused = true)]
    async fn cancellation_interrupts_the_wait_promptly() {
        let health = registry();
        let runner = TickRunner::new("hourly", Duration::from_secs(3600), &health)
            .first_tick_jitter(Duration::from_secs(600))
            .rng_seed(1);
        let cancel = CancellationToken::new();
        let canceller = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            canceller.cancel();
        });
        let start = Instant::now();
        let ran = Cell::new(false);
        runner
            .run(cancel, || {
                ran.set(true);
                async { Ok::<(), String>(()) }
            })
            .await;
        assert_near(start.elapsed(), Duration::from_secs(1));
        assert!(!ran.get());
        assert_eq!(health.snapshot()[0].runs, 0);
    }

    /// Successes, errors and panics are recorded with Unix timestamps; consecutive failures
    /// count up and reset on success while the last error stays visible.
    #[tokio::test(start_paused = true)]
    async fn tick_once_records_each_outcome() {
        let health = registry();
        let runner = TickRunner::new("gc", Duration::from_secs(60), &health);
        let base = ServiceHealthSnapshot {
            name: "gc".into(),
            interval: Duration::from_secs(60),
            runs: 0,
            last_success_unix: None,
            last_failure_unix: None,
            last_error: None,
            consecutive_failures: 0,
        };
        assert_eq!(health.snapshot(), vec![base.clone()]);

        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(
            runner.tick_once(|| async { Ok::<(), String>(()) }).await,
            Ok(())
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(
            runner
                .tick_once(|| async { Err::<(), _>("redis timeout") })
                .await,
            Err(TickError::Failed("redis timeout".into()))
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        let panicked = runner
            .tick_once(|| async {
                panic!("bad state");
                #[allow(unreachable_code)]
                Ok::<(), String>(())
            })
            .await;
        assert_eq!(panicked, Err(TickError::Panicked("bad state".into())));
        assert_eq!(
            health.snapshot(),
            vec![ServiceHealthSnapshot {
                runs: 3,
                last_success_unix: Some(START_UNIX + 5),
                last_failure_unix: Some(START_UNIX + 15),
                last_error: Some("panicked: bad state".into()),
                consecutive_failures: 2,
                ..base.clone()
            }]
        );

        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(
            runner.tick_once(|| async { Ok::<(), String>(()) }).await,
            Ok(())
        );
        assert_eq!(
            health.snapshot(),
            vec![ServiceHealthSnapshot {
                runs: 4,
                last_success_unix: Some(START_UNIX + 20),
                last_failure_unix: Some(START_UNIX + 15),
                last_error: Some("panicked: bad state".into()),
                consecutive_failures: 0,
                ..base
            }]
        );
    }

    /// A job that panics on every run does not kill the loop: every tick still runs and counts
    /// as a failure.
    #[tokio::test(start_paused = true)]
    async fn panicking_job_is_a_failure_not_a_dead_loop() {
        let health = registry();
        let runner = TickRunner::new("flaky", Duration::from_secs(10), &health)
            .first_tick_jitter(Duration::ZERO);
        // The fourth run starts (and cancels the loop) only if the first three panics were
        // survived; it panics too, and is recorded before the loop sees the cancellation.
        let times = run_times(runner, 4, |n| async move { panic!("run {n} exploded") }).await;
        assert_eq!(times.len(), 4);
        let snapshot = &health.snapshot()[0];
        assert_eq!(snapshot.runs, 4);
        assert_eq!(snapshot.consecutive_failures, 4);
        assert_eq!(
            snapshot.last_error.as_deref(),
            Some("panicked: run 4 exploded")
        );
    }

    /// The next tick is one interval on, or the first tick of the schedule not yet past.
    #[test]
    fn next_tick_skips_ticks_missed_during_a_long_run() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(next_tick(t0, s(10), t0 + s(3)), t0 + s(10));
        assert_eq!(next_tick(t0, s(10), t0 + s(10)), t0 + s(10));
        assert_eq!(next_tick(t0, s(10), t0 + s(11)), t0 + s(20));
        assert_eq!(next_tick(t0, s(10), t0 + s(25)), t0 + s(30));
        assert_eq!(next_tick(t0, s(10), t0 + s(30)), t0 + s(30));
    }

    /// As a supervised child the service ticks until the supervisor stops it, and stopping it
    /// is prompt even while it waits for a far tick.
    #[actix_rt::test]
    async fn supervised_service_ticks_until_shutdown() {
        use crate::supervisor::{start, Strategy, SupervisorExit, SupervisorSpec};
        tokio::time::pause();
        let health = registry();
        let runs = Rc::new(Cell::new(0));
        let counter = runs.clone();
        let child = TickRunner::new("probe", Duration::from_secs(60), &health)
            .first_tick_jitter(Duration::ZERO)
            .into_child(move || {
                counter.set(counter.get() + 1);
                async { Ok::<(), String>(()) }
            });
        let root = start(SupervisorSpec::new("root", Strategy::OneForOne).child(child));
        tokio::time::sleep(Duration::from_secs(150)).await;
        let asked = Instant::now();
        assert_eq!(
            root.shutdown(Duration::from_secs(10)).await,
            SupervisorExit::Stopped
        );
        assert_eq!(Instant::now(), asked);
        assert_eq!(runs.get(), 3, "ticks at 0 s, 60 s and 120 s");
        assert_eq!(health.snapshot()[0].runs, 3);
    }

    /// The snapshot lists services sorted by name, whatever the registration order.
    #[test]
    fn snapshot_is_sorted_by_name() {
        let health = ServiceHealthRegistry::new();
        for name in ["scrape_acme", "dependency_probe", "store_gc"] {
            TickRunner::new(name, Duration::from_secs(1), &health);
        }
        let names: Vec<String> = health.snapshot().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["dependency_probe", "scrape_acme", "store_gc"]);
    }
}
