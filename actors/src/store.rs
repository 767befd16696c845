//! StoreActor: owns the [`MetricStore`], writes org batches to it, and keeps the rendered
//! `/metrics` bodies fresh.
//!
//! A background refresh (every `refresh_interval`, and promptly after a local write) loads the
//! snapshot **only when the store's version changed**, renders both formats and their gzip off
//! the actor thread, and publishes the result into an [`ExpositionCell`]. HTTP handlers read
//! that cell: serving `/metrics` costs an `Arc` clone, never a store query. Store I/O runs as
//! futures spawned into the actor's context, so the mailbox never waits on Redis.
//!
//! A failed write is kept (the newest batch per org) and retried on every refresh tick until it
//! lands or a newer batch for the same org supersedes it; a stale-epoch rejection is final, and
//! so is a budget rejection (the batch landed without the rejected series, which are counted).
//! While the store is failing, recovery attempts (refresh + pending writes) also run on an
//! exponential backoff (200 ms doubling up to `refresh_interval`, at most 5 s), so a replica
//! catches up soon after the backend returns instead of a whole interval later.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, ActorFutureExt, AsyncContext, Context, Handler, WrapFuture};
use arc_swap::ArcSwap;

use crate::exposition::RenderedExposition;
use crate::health::{ComponentStatus, HealthReporter};
use crate::messages::{RefreshSnapshot, UpsertBatch};
use crate::ports::{MetricStore, OrgBatch, StoreError};

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
    refreshing: bool,
    /// A refresh was requested while one ran: run another when it ends.
    refresh_again: bool,
    /// Batches whose write failed, newest per org, retried on every refresh.
    pending: BTreeMap<String, OrgBatch>,
    writes_in_flight: usize,
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
            refreshing: false,
            refresh_again: false,
            pending: BTreeMap::new(),
            writes_in_flight: 0,
            last_status: None,
            backoff: None,
            recovery_scheduled: false,
        }
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

    /// Re-sends every pending batch, unless writes are still in flight.
    fn retry_pending(&mut self, ctx: &mut Context<Self>) {
        if self.writes_in_flight == 0 {
            let retries: Vec<OrgBatch> = self.pending.values().cloned().collect();
            for batch in retries {
                self.write(batch, ctx);
            }
        }
    }

    fn write(&mut self, batch: OrgBatch, ctx: &mut Context<Self>) {
        self.writes_in_flight += 1;
        let org = batch.org.clone();
        let retry_copy = batch.clone();
        let fut = self.store.write_org_batch(batch);
        ctx.spawn(fut.into_actor(self).map(move |result, act, ctx| {
            act.writes_in_flight -= 1;
            match result {
                Ok(()) => {
                    // Drop a pending retry only if it is this very batch (a newer one may be queued).
                    if act.pending.get(&org) == Some(&retry_copy) {
                        act.pending.remove(&org);
                    }
                    act.recovered();
                    ctx.notify(RefreshSnapshot);
                }
                Err(StoreError::BudgetExceeded { budget, rejected }) => {
                    tracing::warn!(org = %org, budget, rejected, "series budget reached: new series dropped (counted in gh_exporter_store_series_rejected_total)");
                    if act.pending.get(&org) == Some(&retry_copy) {
                        act.pending.remove(&org);
                    }
                    act.recovered();
                    ctx.notify(RefreshSnapshot);
                }
                Err(StoreError::StaleEpoch { attempted, current }) => {
                    tracing::warn!(org = %org, attempted, current, "store rejected a stale-epoch batch");
                    if act.pending.get(&org) == Some(&retry_copy) {
                        act.pending.remove(&org);
                    }
                }
                Err(error) => {
                    tracing::warn!(org = %org, error = %error_chain(&error), "store write failed; will retry");
                    act.pending.entry(org).or_insert(retry_copy);
                    act.set_status(ComponentStatus::Down(format!("write failed: {error}")));
                    act.schedule_recovery(ctx);
                }
            }
        }));
    }

    fn refresh(&mut self, ctx: &mut Context<Self>) {
        if self.refreshing {
            self.refresh_again = true;
            return;
        }
        self.refreshing = true;
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
            act.refreshing = false;
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
            if act.refresh_again {
                act.refresh_again = false;
                ctx.notify(RefreshSnapshot);
            }
        }));
    }
}

impl StoreActor {
    /// A refresh succeeded: the store is up unless writes are still waiting to land, in which
    /// case they are retried now (the backend is evidently reachable again).
    fn refreshed_ok(&mut self, ctx: &mut Context<Self>) {
        if self.pending.is_empty() {
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
        // A newer batch for the org supersedes a pending retry of an older one; the older
        // one's counter increments are carried over so none is lost.
        if let Some(pending) = self.pending.get_mut(&batch.org) {
            merge_counter_deltas(&mut batch.counter_deltas, &pending.counter_deltas);
            *pending = batch.clone();
        }
        self.write(batch, ctx);
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
fn merge_counter_deltas(
    newer: &mut Vec<crate::ports::CounterDeltas>,
    older: &[crate::ports::CounterDeltas],
) {
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

    use futures::future::{self, BoxFuture, FutureExt};

    use super::*;
    use crate::messages::ReportComponent;
    use crate::ports::{Sample, StoreSnapshot};

    #[derive(Default)]
    struct ScriptedStore {
        orgs: Mutex<BTreeMap<String, OrgBatch>>,
        version: AtomicUsize,
        down: AtomicBool,
        loads: AtomicUsize,
    }

    impl MetricStore for Arc<ScriptedStore> {
        fn backend(&self) -> &'static str {
            "scripted"
        }
        fn write_org_batch(&self, batch: OrgBatch) -> BoxFuture<'static, Result<(), StoreError>> {
            if self.down.load(Ordering::SeqCst) {
                return future::ready(Err(backend_down())).boxed();
            }
            self.orgs.lock().unwrap().insert(batch.org.clone(), batch);
            self.version.fetch_add(1, Ordering::SeqCst);
            future::ready(Ok(())).boxed()
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
            let families = crate::metrics::assemble(orgs.values().flat_map(|b| b.samples.iter()));
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
        String::from_utf8(cell.load().text.plain.to_vec()).unwrap()
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
}
