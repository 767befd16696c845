//! The local validity of one lease tenure and the lease scope work on behalf of an org runs in.
//!
//! A [`Validity`] is shared by every clone of a [`super::Grant`]: the RoleManager extends it
//! after each successful renewal (send time + `renew_deadline`, on the monotonic clock) and ends
//! it the moment the tenure ends. Whoever reads it judges it **at read time** against
//! `Instant::now()`: a process resumed after a pause longer than its lease sees its deadline
//! passed before any actor has run, so it never reports, nor acts on, a lease it may have lost.
//!
//! [`under_lease`] runs a future (a scrape cycle, a LOC round, a Copilot run) in the scope of a
//! validity: the future is dropped the moment the validity lapses or ends (in-flight requests
//! are cancelled), and [`lease_state`] tells code running inside it — the GitHub client, before
//! every request — whether the lease is still live.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio::time::Instant;

/// The state of a validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deadline {
    /// Acquired, not yet confirmed by the RoleManager: not live.
    Pending,
    /// Live until this instant (exclusive).
    Until(Instant),
    /// No lease behind it (epoch-only grants of tools and tests): always live.
    Forever,
    /// The tenure ended: never live again.
    Ended,
}

struct Inner {
    deadline: Mutex<Deadline>,
    changed: Notify,
}

/// The local validity of a lease tenure (cheap to clone; clones share the state).
#[derive(Clone)]
pub struct Validity(Arc<Inner>);

impl std::fmt::Debug for Validity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Validity").field(&self.state()).finish()
    }
}

impl Validity {
    fn with(deadline: Deadline) -> Validity {
        Validity(Arc::new(Inner {
            deadline: Mutex::new(deadline),
            changed: Notify::new(),
        }))
    }

    /// A validity not yet confirmed (an elector hands out grants in this state).
    pub fn pending() -> Validity {
        Validity::with(Deadline::Pending)
    }

    /// A validity that never lapses (no lease behind the grant).
    pub fn forever() -> Validity {
        Validity::with(Deadline::Forever)
    }

    /// A validity live until `at`.
    pub fn until(at: Instant) -> Validity {
        Validity::with(Deadline::Until(at))
    }

    fn state(&self) -> Deadline {
        *self.0.deadline.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, update: impl FnOnce(Deadline) -> Deadline) {
        {
            let mut deadline = self.0.deadline.lock().unwrap_or_else(|p| p.into_inner());
            *deadline = update(*deadline);
        }
        self.0.changed.notify_waiters();
    }

    /// Live until `at` (never moves an end or a later deadline back; a pending validity
    /// becomes live).
    pub fn extend_to(&self, at: Instant) {
        self.set(|d| match d {
            Deadline::Pending => Deadline::Until(at),
            Deadline::Until(old) => Deadline::Until(old.max(at)),
            other => other,
        });
    }

    /// Ends the validity for good and wakes every [`under_lease`] watching it.
    pub fn end(&self) {
        self.set(|_| Deadline::Ended);
    }

    /// The instant the validity lapses, while it is live with a deadline (`None`: pending,
    /// ended, or forever).
    pub fn deadline(&self) -> Option<Instant> {
        match self.state() {
            Deadline::Until(at) => Some(at),
            Deadline::Pending | Deadline::Forever | Deadline::Ended => None,
        }
    }

    /// Whether the lease is live at `now`.
    pub fn is_live_at(&self, now: Instant) -> bool {
        match self.state() {
            Deadline::Forever => true,
            Deadline::Until(at) => now < at,
            Deadline::Pending | Deadline::Ended => false,
        }
    }

    /// Whether the lease is live now (read from the monotonic clock at this call).
    pub fn is_live(&self) -> bool {
        self.is_live_at(Instant::now())
    }

    /// Resolves once the validity is no longer live: at its deadline (re-read when renewals
    /// move it) or at once when it ends.
    pub async fn lapsed(&self) {
        loop {
            let changed = self.0.changed.notified();
            tokio::pin!(changed);
            // Registered before the state is read, so no change between the two is missed.
            changed.as_mut().enable();
            match self.state() {
                Deadline::Pending | Deadline::Ended => return,
                Deadline::Forever => changed.await,
                Deadline::Until(at) => {
                    if Instant::now() >= at {
                        return;
                    }
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = &mut changed => {}
                    }
                }
            }
        }
    }
}

tokio::task_local! {
    static LEASE: Validity;
}

/// The lease scope of the code calling this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Not inside [`under_lease`] (a static leader, a probe, a tool).
    NoScope,
    /// Inside [`under_lease`] and the lease is live now.
    Live,
    /// Inside [`under_lease`] and the lease has lapsed or ended: send nothing.
    Lapsed,
}

/// Whether the code calling this runs under a live lease (judged now, on the monotonic clock).
pub fn lease_state() -> LeaseState {
    LEASE
        .try_with(|v| {
            if v.is_live() {
                LeaseState::Live
            } else {
                LeaseState::Lapsed
            }
        })
        .unwrap_or(LeaseState::NoScope)
}

/// The work was abandoned because its lease lapsed or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the lease lapsed; the work was abandoned")]
pub struct Lapsed;

/// Runs `fut` under `validity` (`None`: unfenced, runs as is): not at all when the validity is
/// not live now, and dropped — cancelling whatever it has in flight — the moment it lapses.
/// Inside, [`lease_state`] answers for this validity.
pub async fn under_lease<F: Future>(
    validity: Option<Validity>,
    fut: F,
) -> Result<F::Output, Lapsed> {
    let Some(validity) = validity else {
        return Ok(fut.await);
    };
    if !validity.is_live() {
        return Err(Lapsed);
    }
    let watch = validity.clone();
    tokio::select! {
        biased;
        () = watch.lapsed() => Err(Lapsed),
        out = LEASE.scope(validity, fut) => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn validity_is_judged_at_read_time() {
        let v = Validity::until(Instant::now() + Duration::from_secs(2));
        assert!(v.is_live());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(
            !v.is_live(),
            "the deadline passed: not live, whoever has run"
        );
        v.extend_to(Instant::now() + Duration::from_secs(1));
        assert!(v.is_live(), "a renewal moves the deadline");
        v.end();
        v.extend_to(Instant::now() + Duration::from_secs(10));
        assert!(!v.is_live(), "an ended validity never comes back");
        assert!(!Validity::pending().is_live());
        assert!(Validity::forever().is_live());
    }

    #[tokio::test(start_paused = true)]
    async fn work_is_cancelled_at_the_deadline_and_sees_its_scope() {
        let v = Validity::until(Instant::now() + Duration::from_secs(2));
        let inside = under_lease(Some(v.clone()), async { lease_state() }).await;
        assert_eq!(inside, Ok(LeaseState::Live));
        assert_eq!(lease_state(), LeaseState::NoScope);

        let started = Instant::now();
        let out = under_lease(Some(v.clone()), async {
            tokio::time::sleep(Duration::from_secs(60)).await;
        })
        .await;
        assert_eq!(out, Err(Lapsed));
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(2),
            "cancelled at the deadline"
        );
        assert_eq!(
            under_lease(Some(v), async {}).await,
            Err(Lapsed),
            "nothing starts under a lapsed lease"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn renewals_keep_work_running_and_an_end_stops_it_at_once() {
        let v = Validity::until(Instant::now() + Duration::from_secs(2));
        let renew = v.clone();
        let work = tokio::spawn(under_lease(Some(v.clone()), async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            lease_state()
        }));
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            renew.extend_to(Instant::now() + Duration::from_secs(2));
        }
        assert_eq!(work.await.ok(), Some(Ok(LeaseState::Live)));

        let started = Instant::now();
        let ender = v.clone();
        let work = tokio::spawn(under_lease(Some(v), async {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }));
        tokio::time::sleep(Duration::from_millis(100)).await;
        ender.end();
        assert_eq!(work.await.ok(), Some(Err(Lapsed)));
        assert_eq!(started.elapsed(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn lease_state_inside_reports_a_lapse_before_any_timer_ran() {
        // As after SIGCONT: the deadline passed while nothing ran; code inside the scope that
        // is polled before the lapse timer fires still sees the lease as lapsed.
        let v = Validity::until(Instant::now() + Duration::from_secs(1));
        let state = LEASE
            .scope(v.clone(), async {
                tokio::time::advance(Duration::from_secs(5)).await;
                lease_state()
            })
            .await;
        assert_eq!(state, LeaseState::Lapsed);
    }
}
