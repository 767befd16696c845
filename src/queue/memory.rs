//! The in-memory [`JobQueue`] (embedded default when `amqp.url` is unset). Retries and dead
//! letters work here too: each retry tier holds jobs until their delay passes and then returns
//! them to the work queue.
//! An unsettled delivery that is dropped (a panicking handler) goes back to the head of the
//! work queue, marked redelivered. Time is tokio's, so tests pause it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::future::{self, BoxFuture, FutureExt as _};
use gse_actors::backfill::{
    Acker, BackfillJob, Delivery, DeliveryStream, JobQueue, QueueError, QueueSample, Target,
};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::names::QueueNames;

const BACKEND: &str = "memory";

/// A dead letter as the memory queue keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub job: BackfillJob,
    pub last_error: String,
}

#[derive(Debug, Clone)]
struct Stored {
    job: BackfillJob,
    published: Instant,
    redelivered: bool,
}

#[derive(Debug, Default)]
struct State {
    work: VecDeque<Stored>,
    /// Per tier, in publish order; one delay per tier keeps due times ordered.
    retry: Vec<VecDeque<(Instant, Stored)>>,
    dead: Vec<DeadLetter>,
    unacked: usize,
}

impl State {
    fn total(&self) -> usize {
        self.work.len() + self.retry.iter().map(VecDeque::len).sum::<usize>() + self.unacked
    }

    /// Moves due retries back to the work queue; returns the next due time, if any.
    fn promote(&mut self, now: Instant) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        for tier in &mut self.retry {
            while tier.front().is_some_and(|(due, _)| *due <= now) {
                if let Some((_, stored)) = tier.pop_front() {
                    self.work.push_back(stored);
                }
            }
            if let Some((due, _)) = tier.front() {
                next = Some(next.map_or(*due, |n| n.min(*due)));
            }
        }
        next
    }
}

struct Inner {
    names: QueueNames,
    capacity: usize,
    state: Mutex<State>,
    changed: Notify,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The in-memory queue. Cheap to clone; clones share the queues.
#[derive(Clone)]
pub struct MemoryQueue {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MemoryQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryQueue")
            .field("names", &self.inner.names)
            .finish_non_exhaustive()
    }
}

impl MemoryQueue {
    /// A queue with the given names (one retry tier per delay) holding at most `capacity`
    /// jobs outside the dead-letter queue.
    pub fn new(names: QueueNames, capacity: usize) -> MemoryQueue {
        let tiers = names.retry.len();
        MemoryQueue {
            inner: Arc::new(Inner {
                names,
                capacity,
                state: Mutex::new(State {
                    retry: vec![VecDeque::new(); tiers],
                    ..State::default()
                }),
                changed: Notify::new(),
            }),
        }
    }

    /// The dead letters so far, oldest first.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.inner.lock().dead.clone()
    }

    fn delay(&self, tier: usize) -> Duration {
        self.inner
            .names
            .retry
            .get(tier)
            .map_or(Duration::ZERO, |(_, d)| *d)
    }

    fn put(&self, job: &BackfillJob, target: Target) -> Result<(), QueueError> {
        let now = Instant::now();
        let mut state = self.inner.lock();
        let stored = Stored {
            job: job.clone(),
            published: now,
            redelivered: false,
        };
        match target {
            Target::DeadLetter { last_error } => state.dead.push(DeadLetter {
                job: job.clone(),
                last_error,
            }),
            other => {
                if state.total() >= self.inner.capacity {
                    return Err(QueueError::Full {
                        backend: BACKEND,
                        capacity: self.inner.capacity,
                    });
                }
                match other {
                    Target::Retry { tier } if tier < state.retry.len() => {
                        let due = now + self.delay(tier);
                        state.retry[tier].push_back((due, stored));
                    }
                    _ => state.work.push_back(stored),
                }
            }
        }
        drop(state);
        self.inner.changed.notify_waiters();
        Ok(())
    }
}

impl JobQueue for MemoryQueue {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn retry_tiers(&self) -> usize {
        self.inner.names.retry.len()
    }

    fn publish(
        &self,
        job: &BackfillJob,
        target: Target,
    ) -> BoxFuture<'static, Result<(), QueueError>> {
        future::ready(self.put(job, target)).boxed()
    }

    fn consume(
        &self,
        _consumer: &str,
        prefetch: u16,
    ) -> BoxFuture<'static, Result<DeliveryStream, QueueError>> {
        let inner = self.inner.clone();
        let held = Arc::new(AtomicUsize::new(0));
        let prefetch = usize::from(prefetch.max(1));
        let stream = futures::stream::unfold((inner, held), move |(inner, held)| async move {
            loop {
                let waiter = inner.clone();
                let notified = waiter.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let next_due = {
                    let mut state = inner.lock();
                    let next_due = state.promote(Instant::now());
                    if held.load(Ordering::SeqCst) < prefetch {
                        if let Some(stored) = state.work.pop_front() {
                            state.unacked += 1;
                            held.fetch_add(1, Ordering::SeqCst);
                            drop(state);
                            let delivery = Delivery {
                                job: Ok(stored.job.clone()),
                                redelivered: stored.redelivered,
                                acker: Box::new(MemoryAcker {
                                    inner: inner.clone(),
                                    held: held.clone(),
                                    stored: Some(stored),
                                }),
                            };
                            return Some((Ok(delivery), (inner, held)));
                        }
                    }
                    next_due
                };
                match next_due {
                    Some(due) => {
                        tokio::select! {
                            () = &mut notified => {}
                            () = tokio::time::sleep_until(due) => {}
                        }
                    }
                    None => notified.await,
                }
            }
        });
        future::ready(Ok(Box::pin(stream) as DeliveryStream)).boxed()
    }

    fn sample(&self) -> BoxFuture<'static, Result<Vec<QueueSample>, QueueError>> {
        let now = Instant::now();
        let mut state = self.inner.lock();
        state.promote(now);
        let names = &self.inner.names;
        let mut samples = vec![QueueSample {
            queue: names.work.clone(),
            ready: state.work.len() as u64,
            oldest_ready_age: state
                .work
                .iter()
                .map(|s| s.published)
                .min()
                .map(|oldest| now.saturating_duration_since(oldest))
                .or(Some(Duration::ZERO)),
        }];
        for ((name, _), tier) in names.retry.iter().zip(&state.retry) {
            samples.push(QueueSample {
                queue: name.clone(),
                ready: tier.len() as u64,
                oldest_ready_age: None,
            });
        }
        samples.push(QueueSample {
            queue: names.dlq.clone(),
            ready: state.dead.len() as u64,
            oldest_ready_age: None,
        });
        future::ready(Ok(samples)).boxed()
    }
}

/// Settles one memory delivery; dropped unsettled, it requeues at the head.
struct MemoryAcker {
    inner: Arc<Inner>,
    held: Arc<AtomicUsize>,
    stored: Option<Stored>,
}

impl MemoryAcker {
    fn settle(&mut self, requeue: bool) {
        let Some(mut stored) = self.stored.take() else {
            return;
        };
        let mut state = self.inner.lock();
        state.unacked = state.unacked.saturating_sub(1);
        if requeue {
            stored.redelivered = true;
            state.work.push_front(stored);
        }
        drop(state);
        self.held.fetch_sub(1, Ordering::SeqCst);
        self.inner.changed.notify_waiters();
    }
}

impl Drop for MemoryAcker {
    fn drop(&mut self) {
        self.settle(true);
    }
}

impl Acker for MemoryAcker {
    fn ack(mut self: Box<Self>) -> BoxFuture<'static, Result<(), QueueError>> {
        self.settle(false);
        future::ready(Ok(())).boxed()
    }

    fn requeue(mut self: Box<Self>) -> BoxFuture<'static, Result<(), QueueError>> {
        self.settle(true);
        future::ready(Ok(())).boxed()
    }

    fn dead_letter_raw(
        mut self: Box<Self>,
        last_error: String,
    ) -> BoxFuture<'static, Result<(), QueueError>> {
        // Memory deliveries are always decoded; keep the job anyway so nothing is lost.
        if let Some(stored) = &self.stored {
            self.inner.lock().dead.push(DeadLetter {
                job: stored.job.clone(),
                last_error,
            });
        }
        self.settle(false);
        future::ready(Ok(())).boxed()
    }
}
