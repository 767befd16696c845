//! StoreActor: owns the [`MetricStore`], writes org batches to it, and keeps the rendered
//! `/metrics` bodies fresh.
//!
//! A background refresh (every `refresh_interval`, and promptly after a local write) loads the
//! snapshot **only when the store's version changed**, renders both formats and their gzip off
//! the actor thread, and publishes the result into an [`ExpositionCell`]. HTTP handlers read
//! that cell: serving `/metrics` costs an `Arc` clone, never a store query. Store I/O runs as
//! futures spawned into the actor's context, so the mailbox never waits on Redis.
//!
//! Writes are ordered per org: at most one write per org is in flight, and a newer batch that
//! arrives meanwhile waits (only the newest is kept), so an older batch never lands after a
//! newer one. A failed write is kept (the newest batch per org) and retried on every refresh
//! tick until it lands or a newer batch for the same org supersedes it. A superseded batch's
//! counter packets are carried into its successor **with their ids**, so a packet whose first
//! write did land (only the reply was lost) is skipped by the store, never added twice.
//!
//! A budget rejection is final (the batch landed without the rejected series, which are
//! counted). So is a stale-epoch rejection (the writer's lease is gone, or a newer tenure wrote
//! the org): the [`StaleWriteHook`] (see [`StoreActor::with_stale_hook`]) is called with the
//! batch's grant so the tenure steps down, and the batch is dropped together with any batch of
//! the same grant waiting behind it — including their counter packets: the increments an
//! ex-leader counted after losing its lease are lost, never added by a tenure that no longer
//! owns the org.
//!
//! While the store is failing, recovery attempts (refresh + pending writes) also run on an
//! exponential backoff (200 ms doubling up to `refresh_interval`, at most 5 s), so a replica
//! catches up soon after the backend returns instead of a whole interval later.

use crate::run_again::RunAgain;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, ActorFutureExt, AsyncContext, Context, Handler, WrapFuture};
use arc_swap::ArcSwap;

use crate::election::StaleWriteHook;
use crate::exposition::RenderedExposition;
use crate::health::{ComponentStatus, HealthReporter};
use crate::messages::{RefreshSnapshot, UpsertBatch};
use crate::observe::taxonomy::REPLICA_STORE_WRITES;
use crate::observe::Recorder;
use crate::ports::{CounterDeltas, MetricStore, OrgBatch, StoreError};

/// The published `/metrics` bodies plus when they were last confirmed current.
pub struct ExpositionCell {
    current: ArcSwap<RenderedExposition>,
    /// When the served snapshot was last confirmed equal to the store (load or no-change check).
    confirmed_at: ArcSwap<Instant>,
}

impl ExpositionCell {
    pub fn new() -> ExpositionCell {
        ExpositionCell {
            current: ArcSwap::from_pointee(RenderedExposition::empty()),
            confirmed_at: ArcSwap::from_pointee(Instant::now()),
        }
    }

    /// The bodies to serve now.
    pub fn load(&self) -> Arc<RenderedExposition> {
        self.current.load_full()
    }

    /// Seconds since the served snapshot was last confirmed current
    /// (`gh_exporter_store_snapshot_age_seconds`).
    pub fn age(&self) -> Duration {
        self.confirmed_at.load().elapsed()
    }

    fn publish(&self, rendered: RenderedExposition) {
        self.current.store(Arc::new(rendered));
        self.confirm();
    }

    fn confirm(&self) {
        self.confirmed_at.store(Arc::new(Instant::now()));
    }
}

impl Default for ExpositionCell {
    fn default() -> Self {
        ExpositionCell::new()
    }
}

/// Owns the metric store and the published exposition.
pub struct StoreActor {
    store: Arc<dyn MetricStore>,
    cell: Arc<ExpositionCell>,
    health: HealthReporter,
    refresh_interval: Duration,
    /// Store version of the published snapshot.
    version: u64,
    /// Snapshot refreshes: one at a time; one requested meanwhile runs when it ends.
    refresh_run: RunAgain,
    /// Batches not sent yet, newest per org: a failed write's batch (retried on every refresh
    /// and recovery attempt), or a batch waiting behind its org's write in flight.
    pending: BTreeMap<String, OrgBatch>,
    /// Orgs with a write in flight (at most one each).
    in_flight: BTreeSet<String>,
    /// Orgs whose last write failed and has not landed since.
    failing: BTreeSet<String>,
    /// Told about every stale-epoch rejection.
    stale_hook: Option<StaleWriteHook>,
    /// Counts this process's write outcomes (`gh_exporter_replica_store_writes_total`).
    recorder: Option<Arc<dyn Recorder>>,
    last_status: Option<ComponentStatus>,
    /// Delay of the next recovery attempt while the store fails; `None` while healthy.
    backoff: Option<Duration>,
    /// A recovery attempt is scheduled.
    recovery_scheduled: bool,
}

/// First delay of the recovery backoff.
const BACKOFF_MIN: Duration = Duration::from_millis(200);
/// Upper bound of the recovery backoff (also bounded by the refresh interval).
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Health component name of the store.
pub const COMPONENT: &str = "store";

impl StoreActor {
    pub fn new(
        store: Arc<dyn MetricStore>,
        cell: Arc<ExpositionCell>,
        health: HealthReporter,
        refresh_interval: Duration,
    ) -> StoreActor {
        StoreActor {
            store,
            cell,
            health,
            refresh_interval,
            version: 0,
            refresh_run: RunAgain::default(),
            pending: BTreeMap::new(),
            in_flight: BTreeSet::new(),
            failing: BTreeSet::new(),
            stale_hook: None,
            recorder: None,
            last_status: None,
            backoff: None,
            recovery_scheduled: false,
        }
    }

    /// Calls `hook` with the grant of every batch the store rejects as stale (the RoleManager
    /// then steps that tenure down).
    pub fn with_stale_hook(mut self, hook: StaleWriteHook) -> StoreActor {
        self.stale_hook = Some(hook);
        self
    }

    fn set_status(&mut self, status: ComponentStatus) {
        if self.last_status.as_ref() == Some(&status) {
            return;
        }
        self.last_status = Some(status.clone());
        if let Some(dependency) = self.store.dependency() {
            self.health.report(dependency, status.clone(), true);
        }
        self.health.report(COMPONENT, status, true);
    }

    /// The store answered: stop the recovery backoff.
    fn recovered(&mut self) {
        self.backoff = None;
    }

    /// The store failed: schedule a recovery attempt after the current backoff, then grow it.
    fn schedule_recovery(&mut self, ctx: &mut Context<Self>) {
        let cap = BACKOFF_MAX.min(self.refresh_interval);
        let delay = self.backoff.unwrap_or(BACKOFF_MIN).min(cap);
        self.backoff = Some((delay * 2).min(cap));
        if self.recovery_scheduled {
            return;
        }
        self.recovery_scheduled = true;
        ctx.run_later(delay, |act, ctx| {
            act.recovery_scheduled = false;
            act.retry_pending(ctx);
            act.refresh(ctx);
        });
    }

    /// Sends every pending batch whose org has no write in flight.
    fn retry_pending(&mut self, ctx: &mut Context<Self>) {
        let ready: Vec<String> = self
            .pending
            .keys()
            .filter(|org| !self.in_flight.contains(*org))
            .cloned()
            .collect();
        for org in ready {
            if let Some(batch) = self.pending.remove(&org) {
                self.write(batch, ctx);
            }
        }
    }

    /// Sends `org`'s pending batch now if one waits (its predecessor's write just ended).
    fn send_next(&mut self, org: &str, ctx: &mut Context<Self>) {
        if let Some(batch) = self.pending.remove(org) {
            self.write(batch, ctx);
        }
    }

    /// Counts every write outcome of this process in
    /// `gh_exporter_replica_store_writes_total{result}` (success, stale, budget, error).
    pub fn with_recorder(mut self, recorder: Arc<dyn Recorder>) -> StoreActor {
        self.recorder = Some(recorder);
        self
    }

    fn count_write(&self, result: &'static str) {
        if let Some(recorder) = &self.recorder {
            recorder.count(&REPLICA_STORE_WRITES, &[("result", result)], 1);
        }
    }

    /// Writes `batch`; the caller has checked that its org has no write in flight.
    fn write(&mut self, batch: OrgBatch, ctx: &mut Context<Self>) {
        let org = batch.org.clone();
        self.in_flight.insert(org.clone());
        let sent = batch.clone();
        let fut = self.store.write_org_batch(batch);
        ctx.spawn(fut.into_actor(self).map(move |result, act, ctx| {
            act.in_flight.remove(&org);
            act.count_write(match &result {
                Ok(()) => "success",
                Err(StoreError::BudgetExceeded { .. }) => "budget",
                Err(StoreError::StaleEpoch { .. }) => "stale",
                Err(_) => "error",
            });
            match result {
                Ok(()) => {
                    act.failing.remove(&org);
                    act.recovered();
                    ctx.notify(RefreshSnapshot);
                    act.send_next(&org, ctx);
                }
                Err(StoreError::BudgetExceeded { budget, rejected }) => {
                    tracing::warn!(org = %org, budget, rejected, "series budget reached: new series dropped (counted in gh_exporter_store_series_rejected_total)");
                    act.failing.remove(&org);
                    act.recovered();
                    ctx.notify(RefreshSnapshot);
                    act.send_next(&org, ctx);
                }
                Err(StoreError::StaleEpoch { attempted, current }) => {
                    tracing::warn!(org = %org, attempted, current, "store rejected a stale batch: its lease is gone or a newer tenure wrote the org; batch and counter increments dropped");
                    act.failing.remove(&org);
                    // A batch of the same tenure waiting behind it would be rejected as well.
                    if act.pending.get(&org).is_some_and(|p| p.grant == sent.grant) {
                        act.pending.remove(&org);
                    }
                    if let (Some(hook), Some(grant)) = (&act.stale_hook, sent.grant) {
                        hook(grant);
                    }
                    act.send_next(&org, ctx);
                }
                Err(error) => {
                    tracing::warn!(org = %org, error = %error_chain(&error), "store write failed; will retry");
                    match act.pending.get_mut(&org) {
                        // A newer batch waits: it supersedes this one and carries its packets.
                        Some(newer) => {
                            merge_counter_deltas(&mut newer.counter_deltas, &sent.counter_deltas)
                        }
                        None => {
                            act.pending.insert(org.clone(), sent);
                        }
                    }
                    act.failing.insert(org);
                    act.set_status(ComponentStatus::Down(format!("write failed: {error}")));
                    act.schedule_recovery(ctx);
                }
            }
        }));
    }

    fn refresh(&mut self, ctx: &mut Context<Self>) {
        if !self.refresh_run.start() {
            return;
        }
        let known = self.version;
        let load = self.store.load_if_changed(known);
        let fut = async move {
            match load.await {
                Ok(Some(snapshot)) => {
                    let version = snapshot.version;
                    // Rendering and gzip are CPU work: keep them off the actor's thread.
                    let rendered = tokio::task::spawn_blocking(move || {
                        RenderedExposition::build(&snapshot.families, snapshot.version)
                    })
                    .await;
                    match rendered {
                        Ok(rendered) => Ok(Some((version, rendered))),
                        Err(join) => Err(format!("render task failed: {join}")),
                    }
                }
                Ok(None) => Ok(None),
                Err(error) => Err(error_chain(&error)),
            }
        };
        ctx.spawn(fut.into_actor(self).map(|result, act, ctx| {
            let again = act.refresh_run.finish();
            match result {
                Ok(Some((version, rendered))) => {
                    act.version = version;
                    act.cell.publish(rendered);
                    act.refreshed_ok(ctx);
                }
                Ok(None) => {
                    act.cell.confirm();
                    act.refreshed_ok(ctx);
                }
                Err(error) => {
                    tracing::warn!(backend = act.store.backend(), error = %error, "snapshot refresh failed; serving the last snapshot");
                    act.set_status(ComponentStatus::Down(format!("refresh failed: {error}")));
                    act.schedule_recovery(ctx);
                }
            }
            if again {
                ctx.notify(RefreshSnapshot);
            }
        }));
    }
}

impl StoreActor {
    /// A refresh succeeded: the store is up unless writes are still waiting to land, in which
    /// case they are retried now (the backend is evidently reachable again).
    fn refreshed_ok(&mut self, ctx: &mut Context<Self>) {
        if self.pending.is_empty() && self.failing.is_empty() {
            self.recovered();
            self.set_status(ComponentStatus::Up);
        } else {
            self.retry_pending(ctx);
        }
    }
}

impl Actor for StoreActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.set_status(ComponentStatus::Starting);
        ctx.notify(RefreshSnapshot);
        ctx.run_interval(self.refresh_interval, |act, ctx| {
            act.retry_pending(ctx);
            act.refresh(ctx);
        });
    }
}

impl Handler<UpsertBatch> for StoreActor {
    type Result = ();

    fn handle(&mut self, msg: UpsertBatch, ctx: &mut Context<Self>) {
        let mut batch = msg.0;
        // A newer batch for the org supersedes a pending one (a failed write, or one waiting
        // behind the org's write in flight); the older one's counter packets are carried over.
        if let Some(older) = self.pending.remove(&batch.org) {
            merge_counter_deltas(&mut batch.counter_deltas, &older.counter_deltas);
        }
        if self.in_flight.contains(&batch.org) {
            self.pending.insert(batch.org.clone(), batch);
        } else {
            self.write(batch, ctx);
        }
    }
}

impl Handler<RefreshSnapshot> for StoreActor {
    type Result = ();

    fn handle(&mut self, _: RefreshSnapshot, ctx: &mut Context<Self>) {
        self.refresh(ctx);
    }
}

/// Carries `older` packets into `newer`, each with its own idempotency id: a packet whose
/// earlier write did land (its reply was lost) is then skipped by the store, never added twice.
fn merge_counter_deltas(newer: &mut Vec<CounterDeltas>, older: &[CounterDeltas]) {
    for packet in older {
        if !newer.iter().any(|p| p.id == packet.id) {
            newer.push(packet.clone());
        }
    }
}

/// Formats an error with its whole `source()` chain, for one log field.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    //! StoreActor logic against a scriptable in-test store (a mock at the port boundary).

    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Mutex;

    use actix::Addr;
    use futures::future::{self, BoxFuture, FutureExt};

    use super::*;
    use crate::election::Grant;
    use crate::messages::ReportComponent;
    use crate::ports::{Sample, StoreSnapshot};

    #[derive(Default)]
    struct ScriptedStore {
        orgs: Mutex<BTreeMap<String, OrgBatch>>,
        version: AtomicUsize,
        down: AtomicBool,
        loads: AtomicUsize,
        /// Every write attempt, in the order the store saw them.
        writes: Mutex<Vec<OrgBatch>>,
        /// Writes are rejected as stale (a newer tenure exists).
        stale: AtomicBool,
        /// Writes wait for `release` before answering (then `down`/`stale` decide).
        hold: AtomicBool,
        release: tokio::sync::Notify,
    }

    impl MetricStore for Arc<ScriptedStore> {
        fn backend(&self) -> &'static str {
            "scripted"
        }
        fn write_org_batch(&self, batch: OrgBatch) -> BoxFuture<'static, Result<(), StoreError>> {
            let store = self.clone();
            async move {
                store.writes.lock().unwrap().push(batch.clone());
                if store.hold.load(Ordering::SeqCst) {
                    store.release.notified().await;
                }
                if store.down.load(Ordering::SeqCst) {
                    return Err(backend_down());
                }
                if store.stale.load(Ordering::SeqCst) {
                    return Err(StoreError::StaleEpoch {
                        attempted: batch.epoch(),
                        current: batch.epoch() + 1,
                    });
                }
                store.orgs.lock().unwrap().insert(batch.org.clone(), batch);
                store.version.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            .boxed()
        }
        fn load_if_changed(
            &self,
            known: u64,
        ) -> BoxFuture<'static, Result<Option<StoreSnapshot>, StoreError>> {
            if self.down.load(Ordering::SeqCst) {
                return future::ready(Err(backend_down())).boxed();
            }
            let version = self.version.load(Ordering::SeqCst) as u64 + 1;
            if version == known {
                return future::ready(Ok(None)).boxed();
            }
            self.loads.fetch_add(1, Ordering::SeqCst);
            let orgs = self.orgs.lock().unwrap();
            let families = crate::metrics::assemble(orgs.values().flat_map(|b| b.all_samples()));
            future::ready(Ok(Some(StoreSnapshot { version, families }))).boxed()
        }
        fn ping(&self) -> BoxFuture<'static, Result<(), StoreError>> {
            future::ready(Ok(())).boxed()
        }
    }

    fn backend_down() -> StoreError {
        StoreError::Backend {
            backend: "scripted",
            operation: "call",
            source: "connection refused".into(),
        }
    }

    /// Collects the health reports the StoreActor sends.
    struct HealthProbe(Arc<Mutex<Vec<ComponentStatus>>>);
    impl Actor for HealthProbe {
        type Context = Context<Self>;
    }
    impl Handler<ReportComponent> for HealthProbe {
        type Result = ();
        fn handle(&mut self, msg: ReportComponent, _: &mut Context<Self>) {
            self.0.lock().unwrap().push(msg.status);
        }
    }

    fn batch(org: &str, user: &str, value: f64) -> OrgBatch {
        OrgBatch {
            org: org.into(),
            grant: None,
            shared: Default::default(),
            counter_deltas: Vec::new(),
            samples: vec![Sample {
                metric: "gh_activity_commits_24h".into(),
                labels: vec![
                    ("org".into(), org.into()),
                    ("repo".into(), "r".into()),
                    ("user".into(), user.into()),
                ],
                value,
            }],
        }
    }

    async fn until(what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !check() {
            assert!(Instant::now() < deadline, "timed out waiting for: {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn text(cell: &ExpositionCell) -> String {
        String::from_utf8(cell.load().text.plain().to_vec()).unwrap()
    }

    /// A written batch is published promptly (not only at the next interval).
    #[actix_rt::test]
    async fn write_is_published_promptly() {
        let store = Arc::new(ScriptedStore::default());
        let cell = Arc::new(ExpositionCell::new());
        let statuses = Arc::new(Mutex::new(Vec::new()));
        let probe = HealthProbe(statuses.clone()).start();
        let actor = StoreActor::new(
            Arc::new(store.clone()),
            cell.clone(),
            HealthReporter::from_recipient(probe.recipient()),
            Duration::from_secs(3600),
        )
        .start();
        actor
            .send(UpsertBatch(batch("a", "u1", 4.0)))
            .await
            .unwrap();
        until("batch published", || {
            text(&cell).contains("gh_activity_commits_24h{org=\"a\",repo=\"r\",user=\"u1\"} 4\n")
        })
        .await;
        until("store reported up", || {
            statuses.lock().unwrap().last() == Some(&ComponentStatus::Up)
        })
        .await;
    }

    /// A write that fails while the store is down is retried and lands after recovery; the last
    /// snapshot keeps being served meanwhile and health reports the outage.
    #[actix_rt::test]
    async fn failed_write_is_retried_after_recovery() {
        let store = Arc::new(ScriptedStore::default());
        let cell = Arc::new(ExpositionCell::new());
        let statuses = Arc::new(Mutex::new(Vec::new()));
        let probe = HealthProbe(statuses.clone()).start();
        let actor = StoreActor::new(
            Arc::new(store.clone()),
            cell.clone(),
            HealthReporter::from_recipient(probe.recipient()),
            Duration::from_millis(20),
        )
        .start();
        actor
            .send(UpsertBatch(batch("a", "u1", 1.0)))
            .await
            .unwrap();
        until("first batch", || text(&cell).contains("user=\"u1\"} 1\n")).await;

        store.down.store(true, Ordering::SeqCst);
        actor
            .send(UpsertBatch(batch("a", "u1", 2.0)))
            .await
            .unwrap();
        until("outage reported", || {
            matches!(
                statuses.lock().unwrap().last(),
                Some(ComponentStatus::Down(_))
            )
        })
        .await;
        assert!(
            text(&cell).contains("user=\"u1\"} 1\n"),
            "last snapshot keeps being served"
        );

        store.down.store(false, Ordering::SeqCst);
        until("retried write published", || {
            text(&cell).contains("user=\"u1\"} 2\n")
        })
        .await;
        until("store back up", || {
            statuses.lock().unwrap().last() == Some(&ComponentStatus::Up)
        })
        .await;
    }

    /// Refreshes with no change in the store do not reload or re-render.
    #[actix_rt::test]
    async fn unchanged_store_is_not_reloaded() {
        let store = Arc::new(ScriptedStore::default());
        let cell = Arc::new(ExpositionCell::new());
        let probe = HealthProbe(Arc::default()).start();
        let actor = StoreActor::new(
            Arc::new(store.clone()),
            cell.clone(),
            HealthReporter::from_recipient(probe.recipient()),
            Duration::from_millis(10),
        )
        .start();
        actor
            .send(UpsertBatch(batch("a", "u1", 1.0)))
            .await
            .unwrap();
        until("published", || text(&cell).contains("user=\"u1\"} 1\n")).await;
        let published = cell.load();
        let loads = store.loads.load(Ordering::SeqCst);
        for _ in 0..5 {
            actor.send(RefreshSnapshot).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(store.loads.load(Ordering::SeqCst), loads);
        assert!(Arc::ptr_eq(&published, &cell.load()));
    }

    fn packet(id: &str, value: f64) -> CounterDeltas {
        CounterDeltas {
            id: id.into(),
            deltas: vec![Sample {
                metric: "gh_exporter_scrape_runs".into(),
                labels: vec![("org".into(), "a".into())],
                value,
            }],
        }
    }

    fn with_packets(mut batch: OrgBatch, packets: &[CounterDeltas]) -> OrgBatch {
        batch.counter_deltas = packets.to_vec();
        batch
    }

    fn ids(batch: &OrgBatch) -> Vec<&str> {
        batch.counter_deltas.iter().map(|p| p.id.as_str()).collect()
    }

    fn start_actor(store: &Arc<ScriptedStore>, cell: &Arc<ExpositionCell>) -> Addr<StoreActor> {
        let probe = HealthProbe(Arc::default()).start();
        StoreActor::new(
            Arc::new(store.clone()),
            cell.clone(),
            HealthReporter::from_recipient(probe.recipient()),
            Duration::from_secs(3600),
        )
        .start()
    }

    /// A batch whose write failed is superseded by a newer batch for the same org: the newer
    /// write carries the older batch's counter packet with the SAME id (so a store that did
    /// commit the first write, only losing its reply, skips it) next to its own.
    #[actix_rt::test]
    async fn newer_batch_carries_failed_packets_with_their_ids() {
        let store = Arc::new(ScriptedStore::default());
        let cell = Arc::new(ExpositionCell::new());
        let actor = start_actor(&store, &cell);
        store.down.store(true, Ordering::SeqCst);
        let first = with_packets(batch("a", "u1", 1.0), &[packet("p1", 1.0)]);
        actor.send(UpsertBatch(first)).await.unwrap();
        until("first write attempted", || {
            !store.writes.lock().unwrap().is_empty()
        })
        .await;

        let second = with_packets(batch("a", "u1", 2.0), &[packet("p2", 5.0)]);
        actor.send(UpsertBatch(second)).await.unwrap();
        until("newer batch attempted", || {
            store
                .writes
                .lock()
                .unwrap()
                .iter()
                .any(|b| b.samples[0].value == 2.0)
        })
        .await;
        {
            let writes = store.writes.lock().unwrap();
            let newer = writes.iter().find(|b| b.samples[0].value == 2.0).unwrap();
            assert_eq!(ids(newer), vec!["p2", "p1"]);
            assert_eq!(newer.counter_deltas[1], packet("p1", 1.0));
        }

        store.down.store(false, Ordering::SeqCst);
        until("newer batch lands", || {
            store
                .orgs
                .lock()
                .unwrap()
                .get("a")
                .is_some_and(|b| b.samples[0].value == 2.0)
        })
        .await;
        assert_eq!(ids(&store.orgs.lock().unwrap()["a"]), vec!["p2", "p1"]);
    }

    /// Writes are ordered per org: a batch arriving while the org's write is in flight waits
    /// for it; when that write fails, the waiting batch supersedes it (carrying its packets),
    /// and the older batch is never sent again.
    #[actix_rt::test]
    async fn older_batch_never_lands_after_a_newer_one() {
        let store = Arc::new(ScriptedStore::default());
        let cell = Arc::new(ExpositionCell::new());
        let actor = start_actor(&store, &cell);
        store.hold.store(true, Ordering::SeqCst);
        store.down.store(true, Ordering::SeqCst);
        let first = with_packets(batch("a", "u1", 1.0), &[packet("p1", 1.0)]);
        actor.send(UpsertBatch(first)).await.unwrap();
        until("first write in flight", || {
            store.writes.lock().unwrap().len() == 1
        })
        .await;
        let second = with_packets(batch("a", "u1", 2.0), &[packet("p2", 5.0)]);
        actor.send(UpsertBatch(second)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            store.writes.lock().unwrap().len(),
            1,
            "the newer batch waits for the org's write in flight"
        );

        // The held write fails (the store is still down when it answers).
        store.hold.store(false, Ordering::SeqCst);
        store.release.notify_one();
        until("newer batch attempted", || {
            store.writes.lock().unwrap().len() >= 2
        })
        .await;
        store.down.store(false, Ordering::SeqCst);
        until("newer batch lands", || {
            store.orgs.lock().unwrap().contains_key("a")
        })
        .await;
        let writes = store.writes.lock().unwrap();
        assert!(
            writes[1..].iter().all(|b| b.samples[0].value == 2.0),
            "only the newer batch is sent after the first attempt"
        );
        let landed = &store.orgs.lock().unwrap()["a"];
        assert_eq!(landed.samples[0].value, 2.0);
        assert_eq!(ids(landed), vec!["p2", "p1"]);
    }

    /// A stale-epoch rejection calls the stale hook once with the batch's grant and drops the
    /// pending batch: it is not retried.
    #[actix_rt::test]
    async fn stale_rejection_calls_the_hook_once_and_drops_the_batch() {
        let store = Arc::new(ScriptedStore::default());
        let cell = Arc::new(ExpositionCell::new());
        let grants = Arc::new(Mutex::new(Vec::new()));
        let probe = HealthProbe(Arc::default()).start();
        let hook: StaleWriteHook = {
            let grants = grants.clone();
            Arc::new(move |grant| grants.lock().unwrap().push(grant))
        };
        let actor = StoreActor::new(
            Arc::new(store.clone()),
            cell.clone(),
            HealthReporter::from_recipient(probe.recipient()),
            Duration::from_millis(50),
        )
        .with_stale_hook(hook)
        .start();
        let grant = Grant::leased(5, Arc::from("ns:lease:leader"), Arc::from("5|token|pod-a"));
        let mut fenced = with_packets(batch("a", "u1", 1.0), &[packet("p1", 1.0)]);
        fenced.grant = Some(grant.clone());

        store.down.store(true, Ordering::SeqCst);
        actor.send(UpsertBatch(fenced)).await.unwrap();
        until("write failed", || !store.writes.lock().unwrap().is_empty()).await;
        store.stale.store(true, Ordering::SeqCst);
        store.down.store(false, Ordering::SeqCst);
        until("stale hook called", || !grants.lock().unwrap().is_empty()).await;
        let attempts = store.writes.lock().unwrap().len();
        // Several refresh ticks and recovery attempts later: no retry, no second call.
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(store.writes.lock().unwrap().len(), attempts, "not retried");
        assert_eq!(*grants.lock().unwrap(), vec![grant]);
        assert!(store.orgs.lock().unwrap().is_empty());
    }
}
