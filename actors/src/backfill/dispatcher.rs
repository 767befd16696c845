//! [`BackfillDispatcher`]: turns [`BackfillRequest`]s into confirmed publishes.
//!
//! Per request, in this order:
//! 1. **Coalesce** the window onto `coalesce_window` buckets, only ever widening it (a Copilot
//!    job's window is its report day, kept as it is).
//! 2. **Dedup** on org, repo, window and reason: a key being published or buffered right now,
//!    or held in the [`DedupLocks`] table, is counted as deduped.
//! 3. **Per-org cap** ([`OrgMinuteCap`]): over the cap the request is counted as dropped.
//! 4. **Publish** to the work queue and wait for the broker's confirmation (a spawned future:
//!    the mailbox never waits on I/O). Only then is the dedup lock taken, so a failed publish
//!    never suppresses the window for the dedup TTL.
//! 5. A publish that fails (broker away) puts the job in a bounded **outage buffer**, flushed on
//!    a timer until the broker confirms; when the buffer is full the oldest job is dropped and
//!    counted. Nothing is dropped silently.
//! 6. **Stop**: the outage buffer and the publishes not yet confirmed go to the [`JobStash`]
//!    (Redis when configured, else process memory) before the actor stops — on shutdown and
//!    whenever rest_for_one restarts it — and a starting dispatcher takes them back and
//!    publishes them; an idle dispatcher also polls the stash (`stash_poll_interval`), so jobs
//!    of a replica that stopped for good are published by the others. A job that cannot be
//!    stashed (no stash, stash unreachable or full) is counted in
//!    `gh_exporter_backfill_jobs_lost_total` and logged at error with the count.
//!
//! Each publish is a `backfill.publish` span, a child of the unit of work that missed the window
//! (its context arrives with [`EnqueueMissing`](crate::messages::EnqueueMissing)); the message
//! carries the publish span's context, so the consumer joins the same trace.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use futures::future::join_all;

use super::dedup::MemoryDedup;
use super::job::{unix_seconds, BackfillJob, BackfillRequest, Reason};
use super::limiter::OrgMinuteCap;
use super::metrics::{BUFFERED, DEDUPED, DROPPED, ENQUEUED, LABEL_ORG, LABEL_REASON, LOST};
use super::port::{DedupLocks, JobQueue, JobStash, QueueError, StashError, Target};
use super::window::coalesce;
use crate::observe::Recorder;
use crate::store::error_chain;

/// The dispatcher's configuration (from `backfill.*`).
#[derive(Debug, Clone)]
pub struct DispatcherSettings {
    pub coalesce_window: Duration,
    pub dedup_ttl: Duration,
    pub max_enqueues_per_org_per_minute: u32,
    pub max_attempts: u32,
    /// Jobs held while the broker is away; beyond it the oldest is dropped and counted.
    pub buffer_capacity: usize,
    /// How often the outage buffer is retried.
    pub flush_interval: Duration,
    /// How often an idle dispatcher (nothing buffered, nothing in flight) takes over jobs
    /// other dispatchers stashed (a replica that stopped for good leaves its jobs to the
    /// others).
    pub stash_poll_interval: Duration,
}

/// The outage buffer's default capacity (`backfill.buffer_capacity`).
pub const DEFAULT_BUFFER_CAPACITY: usize = 10_000;

impl DispatcherSettings {
    /// Defaults for the rest: a [`DEFAULT_BUFFER_CAPACITY`]-job buffer flushed every 2 s, the
    /// stash polled every 30 s while idle.
    pub fn new(
        coalesce_window: Duration,
        dedup_ttl: Duration,
        max_enqueues_per_org_per_minute: u32,
        max_attempts: u32,
    ) -> DispatcherSettings {
        DispatcherSettings {
            coalesce_window,
            dedup_ttl,
            max_enqueues_per_org_per_minute,
            max_attempts,
            buffer_capacity: DEFAULT_BUFFER_CAPACITY,
            flush_interval: Duration::from_secs(2),
            stash_poll_interval: Duration::from_secs(30),
        }
    }
}

/// Wall-clock source (job timestamps, per-minute cap); injectable for tests.
pub type NowFn = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The dispatcher actor. Runs on every replica (only the leader's scraper sends to it today).
pub struct BackfillDispatcher {
    settings: DispatcherSettings,
    queue: Arc<dyn JobQueue>,
    dedup: Arc<dyn DedupLocks>,
    recorder: Arc<dyn Recorder>,
    now: NowFn,
    cap: OrgMinuteCap,
    /// Dedup keys published or buffered but not yet confirmed.
    pending: HashSet<String>,
    buffer: VecDeque<BackfillJob>,
    /// Jobs whose publish is under way (dedup key → job), stashed too if the actor stops.
    in_flight: HashMap<String, BackfillJob>,
    flushing: bool,
    /// Where unpublished jobs go when the actor stops; `None`: they are counted lost.
    stash: Option<Arc<dyn JobStash>>,
    /// The stash still has to be read (the first attempt failed or is under way).
    reload_due: bool,
    reloading: bool,
    /// When the stash was last read (idle dispatchers poll it).
    last_reload: Option<std::time::Instant>,
    /// The actor is stopping: nothing new is published, everything goes to the stash.
    stopping: bool,
    /// A save to the stash is under way (the stop waits for it).
    saving: bool,
}

impl BackfillDispatcher {
    /// A dispatcher over `queue`, with an in-memory dedup table and the system clock.
    pub fn new(
        settings: DispatcherSettings,
        queue: Arc<dyn JobQueue>,
        recorder: Arc<dyn Recorder>,
    ) -> BackfillDispatcher {
        let dedup: Arc<dyn DedupLocks> = Arc::new(MemoryDedup::new(100_000));
        BackfillDispatcher {
            cap: OrgMinuteCap::new(settings.max_enqueues_per_org_per_minute),
            settings,
            queue,
            dedup,
            recorder,
            now: Arc::new(SystemTime::now),
            pending: HashSet::new(),
            buffer: VecDeque::new(),
            in_flight: HashMap::new(),
            flushing: false,
            stash: None,
            reload_due: false,
            reloading: false,
            last_reload: None,
            stopping: false,
            saving: false,
        }
    }

    /// Keeps unpublished jobs in `stash` when the actor stops, and publishes what the stash
    /// holds when it starts. Without a stash they are counted lost.
    pub fn with_stash(mut self, stash: Arc<dyn JobStash>) -> Self {
        self.stash = Some(stash);
        self
    }

    /// Replaces the dedup table (e.g. a shared one that survives restarts, or Redis).
    pub fn with_dedup(mut self, dedup: Arc<dyn DedupLocks>) -> Self {
        self.dedup = dedup;
        self
    }

    /// Replaces the wall clock.
    pub fn with_clock(mut self, now: NowFn) -> Self {
        self.now = now;
        self
    }

    fn count(&self, metric: &'static crate::observe::taxonomy::MetricDef, job: &BackfillJob) {
        self.recorder.count(
            metric,
            &[(LABEL_ORG, &job.org), (LABEL_REASON, job.reason.as_str())],
            1,
        );
    }

    fn after_dedup_check(&mut self, job: BackfillJob, held: bool, ctx: &mut Context<Self>) {
        if held {
            self.pending.remove(&job.dedup_key);
            self.count(&DEDUPED, &job);
            return;
        }
        if !self.cap.try_take(&job.org, unix_seconds((self.now)())) {
            self.pending.remove(&job.dedup_key);
            self.count(&DROPPED, &job);
            tracing::warn!(org = %job.org, repo = %job.repo, reason = %job.reason,
                cap = self.settings.max_enqueues_per_org_per_minute,
                "backfill enqueue dropped: per-org per-minute cap reached");
            return;
        }
        if !self.buffer.is_empty() || self.stopping {
            // The broker is away (keep order behind the jobs already waiting), or the actor
            // is stopping (the stash takes the buffer).
            self.buffer_push(job);
            return;
        }
        let publish = traced_publish(self.queue.as_ref(), &job);
        let key = job.dedup_key.clone();
        self.in_flight.insert(key.clone(), job);
        ctx.spawn(
            publish
                .into_actor(self)
                .map(move |result, act, _ctx| act.after_publish(&key, result)),
        );
    }

    fn after_publish(&mut self, key: &str, result: Result<(), QueueError>) {
        // Absent: the actor is stopping and already handed the job to the stash; a confirmed
        // publish is still counted (the stashed copy becomes an idempotent duplicate).
        let Some(job) = self.in_flight.remove(key) else {
            if result.is_ok() {
                tracing::debug!(key, "backfill publish confirmed after the job was stashed");
            }
            return;
        };
        match result {
            Ok(()) => self.confirmed(job),
            Err(error) => {
                tracing::warn!(org = %job.org, repo = %job.repo, error = %error_chain(&error),
                    "backfill publish failed; job buffered until the broker confirms");
                self.buffer_push(job);
            }
        }
    }

    fn confirmed(&mut self, job: BackfillJob) {
        self.count(&ENQUEUED, &job);
        self.pending.remove(&job.dedup_key);
        // The lock only now: a publish that never confirmed must not suppress the window.
        let acquire = self.dedup.acquire(&job.dedup_key, self.settings.dedup_ttl);
        let key = job.dedup_key;
        actix_rt::spawn(async move {
            if let Err(error) = acquire.await {
                tracing::warn!(key = %key, error = %error_chain(&error),
                    "taking the backfill dedup lock failed; a duplicate job may follow");
            }
        });
    }

    fn buffer_push(&mut self, job: BackfillJob) {
        if self.buffer.len() >= self.settings.buffer_capacity {
            if let Some(oldest) = self.buffer.pop_front() {
                self.pending.remove(&oldest.dedup_key);
                self.count(&DROPPED, &oldest);
                tracing::error!(org = %oldest.org, repo = %oldest.repo, reason = %oldest.reason,
                    capacity = self.settings.buffer_capacity,
                    "backfill outage buffer full: oldest job dropped");
            }
        }
        self.buffer.push_back(job);
        self.record_buffered();
    }

    fn record_buffered(&self) {
        self.recorder
            .gauge(&BUFFERED, &[], self.buffer.len() as f64);
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.stopping {
            return;
        }
        let idle = self.buffer.is_empty() && self.in_flight.is_empty();
        let poll_due = self
            .last_reload
            .is_none_or(|at| at.elapsed() >= self.settings.stash_poll_interval);
        if self.reload_due || (idle && poll_due) {
            self.reload(ctx);
        }
        if self.flushing || self.buffer.is_empty() {
            return;
        }
        self.flushing = true;
        let keys: Vec<String> = self.buffer.iter().map(|j| j.dedup_key.clone()).collect();
        let publishes: Vec<_> = self
            .buffer
            .iter()
            .map(|job| traced_publish(self.queue.as_ref(), job))
            .collect();
        for job in self.buffer.drain(..) {
            self.in_flight.insert(job.dedup_key.clone(), job);
        }
        ctx.spawn(
            join_all(publishes)
                .into_actor(self)
                .map(move |results, act, _ctx| {
                    act.flushing = false;
                    let mut failed = VecDeque::new();
                    let mut first_error = None;
                    for (key, result) in keys.into_iter().zip(results) {
                        // Absent: stashed by a stop under way.
                        let Some(job) = act.in_flight.remove(&key) else {
                            continue;
                        };
                        match result {
                            Ok(()) => act.confirmed(job),
                            Err(error) => {
                                first_error.get_or_insert(error);
                                failed.push_back(job);
                            }
                        }
                    }
                    if let Some(error) = first_error {
                        tracing::warn!(waiting = failed.len(), error = %error_chain(&error),
                        "backfill outage buffer not flushed yet");
                    }
                    // Jobs that arrived during the flush go after the ones that were waiting.
                    failed.extend(act.buffer.drain(..));
                    act.buffer = failed;
                    act.record_buffered();
                }),
        );
    }

    /// Takes the stashed jobs (a previous dispatcher's) into the outage buffer; the next
    /// flush publishes them. A failed read is retried at every flush tick.
    fn reload(&mut self, ctx: &mut Context<Self>) {
        let Some(stash) = self.stash.clone() else {
            self.reload_due = false;
            return;
        };
        if self.reloading {
            return;
        }
        self.reloading = true;
        self.last_reload = Some(std::time::Instant::now());
        ctx.spawn(stash.take_all().into_actor(self).map(|result, act, ctx| {
            act.reloading = false;
            match result {
                Ok(jobs) => {
                    act.reload_due = false;
                    if !jobs.is_empty() {
                        tracing::info!(
                            jobs = jobs.len(),
                            stash = act.stash_backend(),
                            "backfill jobs taken back from the stash; publishing them"
                        );
                    }
                    for job in jobs {
                        if act.pending.insert(job.dedup_key.clone()) {
                            act.buffer_push(job);
                        } else {
                            act.count(&DEDUPED, &job);
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error),
                        "reading the backfill job stash failed; retrying at the next flush");
                }
            }
            if act.stopping {
                // The stop waited for these jobs (already gone from the stash): save them back.
                ctx.stop();
            }
        }));
    }

    fn stash_backend(&self) -> &'static str {
        self.stash.as_ref().map_or("none", |s| s.backend())
    }

    /// Counts and logs jobs that are neither published nor stashed.
    fn lost(&self, jobs: &[BackfillJob], why: &str) {
        if jobs.is_empty() {
            return;
        }
        for job in jobs {
            self.count(&LOST, job);
        }
        tracing::error!(
            jobs = jobs.len(),
            stash = self.stash_backend(),
            why,
            "backfill jobs lost: neither published nor stashed"
        );
    }

    /// Hands the buffer and the unconfirmed publishes to the stash; `true` when a save is
    /// under way (the stop waits for it and then asks again).
    fn stash_unpublished(&mut self, ctx: &mut Context<Self>) -> bool {
        let mut jobs: Vec<BackfillJob> = self.buffer.drain(..).collect();
        jobs.extend(self.in_flight.drain().map(|(_, job)| job));
        self.record_buffered();
        if jobs.is_empty() {
            return false;
        }
        let Some(stash) = self.stash.clone() else {
            self.lost(&jobs, "no job stash");
            return false;
        };
        self.saving = true;
        let count = jobs.len();
        let save = stash.save(jobs.clone());
        ctx.spawn(save.into_actor(self).map(move |result, act, ctx| {
            act.saving = false;
            act.after_save(jobs, count, result);
            ctx.stop();
        }));
        true
    }

    fn after_save(
        &mut self,
        jobs: Vec<BackfillJob>,
        count: usize,
        result: Result<Vec<BackfillJob>, StashError>,
    ) {
        match result {
            Ok(dropped) => {
                tracing::warn!(jobs = count, stash = self.stash_backend(),
                    "backfill dispatcher stopping: unpublished jobs stashed for the next dispatcher");
                self.lost(&dropped, "job stash full");
            }
            Err(error) => {
                tracing::error!(error = %error_chain(&error), "stashing backfill jobs failed");
                self.lost(&jobs, "job stash unreachable");
            }
        }
    }
}

impl Actor for BackfillDispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.record_buffered();
        self.reload_due = self.stash.is_some();
        self.reload(ctx);
        ctx.run_interval(self.settings.flush_interval, |act, ctx| act.flush(ctx));
    }

    /// Stashes what is not published yet and stops once the stash answered (within the
    /// child's shutdown timeout: the stash's calls have their own deadlines).
    fn stopping(&mut self, ctx: &mut Self::Context) -> Running {
        self.stopping = true;
        // A read of the stash under way has taken its jobs out already: wait for them.
        if self.saving || self.reloading || self.stash_unpublished(ctx) {
            return Running::Continue;
        }
        Running::Stop
    }
}

/// Publishes `job` to the work queue inside a `backfill.publish` span, a child of the context
/// the job carries (the unit of work that missed the window); the message carries the publish
/// span's own context, so the consuming span joins the same trace.
fn traced_publish(
    queue: &dyn JobQueue,
    job: &BackfillJob,
) -> futures::future::BoxFuture<'static, Result<(), QueueError>> {
    use futures::FutureExt as _;
    use tracing::Instrument as _;
    let span = tracing::info_span!(parent: None, "backfill.publish", org = %job.org,
        repo = %job.repo, reason = %job.reason, attempt = i64::from(job.attempt),
        otel.status_code = tracing::field::Empty);
    crate::trace::set_parent(&span, job.trace_parent.as_deref());
    let publish = match crate::trace::context_of(&span) {
        Some(context) => {
            let mut sent = job.clone();
            sent.trace_parent = Some(context);
            queue.publish(&sent, Target::Work)
        }
        None => queue.publish(job, Target::Work),
    };
    let traced = span.clone();
    async move {
        let result = publish.await;
        if result.is_err() {
            traced.record("otel.status_code", "ERROR");
        }
        result
    }
    .instrument(span)
    .boxed()
}

impl Handler<BackfillRequest> for BackfillDispatcher {
    type Result = ();

    fn handle(&mut self, request: BackfillRequest, ctx: &mut Self::Context) {
        self.enqueue(request, None, ctx);
    }
}

impl BackfillDispatcher {
    /// Coalesces, dedups and publishes one request; `trace_parent` is the context of the unit
    /// of work that asked for it.
    fn enqueue(
        &mut self,
        request: BackfillRequest,
        trace_parent: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        // A Copilot job names one report day: its window is never widened.
        let window = if request.reason == Reason::CopilotReportFailed {
            (request.window_start, request.window_end)
        } else {
            coalesce(
                request.window_start,
                request.window_end,
                self.settings.coalesce_window,
            )
        };
        let job = BackfillJob::new(
            &request.org,
            &request.repo,
            window,
            request.reason,
            self.settings.max_attempts,
            (self.now)(),
        );
        let job = BackfillJob {
            trace_parent,
            ..job
        };
        if !self.pending.insert(job.dedup_key.clone()) {
            self.count(&DEDUPED, &job);
            return;
        }
        let check = self.dedup.is_held(&job.dedup_key);
        ctx.spawn(check.into_actor(self).map(move |held, act, ctx| {
            let held = held.unwrap_or_else(|error| {
                // Publishing a redundant (idempotent) job beats losing one.
                tracing::warn!(error = %error_chain(&error), "backfill dedup check failed");
                false
            });
            act.after_dedup_check(job, held, ctx);
        }));
    }
}

/// The scrapers' missed windows enter backfill here: an [`EnqueueMissing`] becomes a
/// [`BackfillRequest`].
impl Handler<crate::messages::EnqueueMissing> for BackfillDispatcher {
    type Result = ();

    fn handle(&mut self, missing: crate::messages::EnqueueMissing, ctx: &mut Self::Context) {
        let reason = missing.reason;
        let at = |secs: f64| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs.max(0.0));
        let request = BackfillRequest {
            org: missing.org,
            repo: missing.repo,
            window_start: at(missing.window_start),
            window_end: at(missing.window_end.max(missing.window_start)),
            reason,
        };
        self.enqueue(request, missing.trace_parent, ctx);
    }
}
