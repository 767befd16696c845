//! In-memory [`MetricStore`]: the embedded default when `store.redis_url` is unset. One process
//! only, so replicas never share it; it honours the same contract as the Redis adapter (org
//! batches replace atomically, a batch whose epoch is older than the one that last wrote its org
//! is rejected — per org, like Redis — counter packets are applied once per id, the version
//! changes on every write). It has no leases: a leased grant is compared by its epoch only.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::future::{self, BoxFuture, FutureExt};
use gse_actors::metrics;
use gse_actors::ports::{MetricStore, OrgBatch, Sample, StoreError, StoreSnapshot};

/// Shared series of one process.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    version: u64,
    orgs: BTreeMap<String, OrgBatch>,
    /// Shared counters: (metric, labels) → accumulated value.
    counters: BTreeMap<(String, Vec<(String, String)>), f64>,
    /// Ids of the counter packets applied, newest last (bounded), so a packet re-sent is
    /// added once.
    applied: std::collections::VecDeque<String>,
    applied_set: std::collections::HashSet<String>,
}

/// Counter packet ids the memory store remembers (far more than a retry can span).
const APPLIED_IDS_KEPT: usize = 100_000;

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves consistent data (every update is one
        // assignment), so a poisoned lock is safe to keep using.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl MetricStore for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn write_org_batch(&self, batch: OrgBatch) -> BoxFuture<'static, Result<(), StoreError>> {
        let mut inner = self.lock();
        let current = inner.orgs.get(&batch.org).map_or(0, OrgBatch::epoch);
        let result = if batch.epoch() < current {
            Err(StoreError::StaleEpoch {
                attempted: batch.epoch(),
                current,
            })
        } else {
            // The empty store reports version 1 (see `load_if_changed`): the first write must
            // move past it, or a reader that loaded the empty store never sees that write.
            inner.version = inner.version.max(1) + 1;
            for packet in &batch.counter_deltas {
                if !inner.applied_set.insert(packet.id.clone()) {
                    continue;
                }
                inner.applied.push_back(packet.id.clone());
                if inner.applied.len() > APPLIED_IDS_KEPT {
                    if let Some(old) = inner.applied.pop_front() {
                        inner.applied_set.remove(&old);
                    }
                }
                for delta in &packet.deltas {
                    *inner
                        .counters
                        .entry((delta.metric.clone(), delta.labels.clone()))
                        .or_insert(0.0) += delta.value;
                }
            }
            inner.orgs.insert(batch.org.clone(), batch);
            Ok(())
        };
        future::ready(result).boxed()
    }

    fn load_if_changed(
        &self,
        known_version: u64,
    ) -> BoxFuture<'static, Result<Option<StoreSnapshot>, StoreError>> {
        let inner = self.lock();
        let result = if inner.version == known_version && known_version != 0 {
            None
        } else {
            let counters: Vec<Sample> = inner
                .counters
                .iter()
                .map(|((metric, labels), value)| Sample {
                    metric: metric.clone(),
                    labels: labels.clone(),
                    value: *value,
                })
                .collect();
            let families = metrics::assemble(
                inner
                    .orgs
                    .values()
                    .flat_map(|b| b.all_samples())
                    .chain(&counters),
            );
            Some(StoreSnapshot {
                version: inner.version.max(1),
                families,
            })
        };
        future::ready(Ok(result)).boxed()
    }

    fn ping(&self) -> BoxFuture<'static, Result<(), StoreError>> {
        future::ready(Ok(())).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gse_actors::ports::CounterDeltas;

    fn batch(org: &str, epoch: u64, users: &[(&str, f64)]) -> OrgBatch {
        OrgBatch {
            org: org.into(),
            grant: Some(gse_actors::election::Grant::epoch_only(epoch)),
            shared: Default::default(),
            counter_deltas: Vec::new(),
            samples: users
                .iter()
                .map(|(user, value)| Sample {
                    metric: "gh_activity_commits_24h".into(),
                    labels: vec![
                        ("org".into(), org.into()),
                        ("repo".into(), "r".into()),
                        ("user".into(), user.to_string()),
                    ],
                    value: *value,
                })
                .collect(),
        }
    }

    /// A reader that loaded the empty store sees the first write (it once reported the same
    /// version before and after it, so the first cycle stayed invisible until a second write).
    #[tokio::test]
    async fn first_write_after_an_empty_load_is_seen() {
        let store = MemoryStore::new();
        let empty = store.load_if_changed(0).await.unwrap().expect("first load");
        store
            .write_org_batch(batch("a", 0, &[("u1", 1.0)]))
            .await
            .unwrap();
        let after = store
            .load_if_changed(empty.version)
            .await
            .unwrap()
            .expect("the write changed the version");
        assert!(after.version > empty.version);
        assert!(store
            .load_if_changed(after.version)
            .await
            .unwrap()
            .is_none());
    }

    /// A new batch replaces the org's old series entirely: departed users disappear.
    #[tokio::test]
    async fn batch_replaces_org_series() {
        let store = MemoryStore::new();
        store
            .write_org_batch(batch("a", 1, &[("u1", 1.0), ("u2", 2.0)]))
            .await
            .unwrap();
        store
            .write_org_batch(batch("b", 1, &[("u9", 9.0)]))
            .await
            .unwrap();
        store
            .write_org_batch(batch("a", 1, &[("u2", 5.0)]))
            .await
            .unwrap();
        let snapshot = store.load_if_changed(0).await.unwrap().unwrap();
        let labels: Vec<_> = snapshot.families[0]
            .series
            .iter()
            .map(|s| (s.labels.as_str().to_string(), s.value))
            .collect();
        assert_eq!(
            labels,
            vec![
                ("{org=\"a\",repo=\"r\",user=\"u2\"}".to_string(), 5.0),
                ("{org=\"b\",repo=\"r\",user=\"u9\"}".to_string(), 9.0)
            ]
        );
        assert!(store
            .load_if_changed(snapshot.version)
            .await
            .unwrap()
            .is_none());
    }

    /// A write from an older epoch is rejected and changes nothing.
    #[tokio::test]
    async fn stale_epoch_write_is_rejected() {
        let store = MemoryStore::new();
        store
            .write_org_batch(batch("a", 2, &[("u1", 1.0)]))
            .await
            .unwrap();
        let error = store
            .write_org_batch(batch("a", 1, &[("u1", 7.0)]))
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            StoreError::StaleEpoch {
                attempted: 1,
                current: 2
            }
        ));
        let snapshot = store.load_if_changed(0).await.unwrap().unwrap();
        assert_eq!(snapshot.families[0].series[0].value, 1.0);
    }

    /// Epochs are per org: orgs written by different tenures (epochs 7 and 3) both land, and
    /// only an older epoch for the same org is rejected.
    #[tokio::test]
    async fn epochs_are_compared_per_org() {
        let store = MemoryStore::new();
        store
            .write_org_batch(batch("a", 7, &[("u1", 1.0)]))
            .await
            .unwrap();
        store
            .write_org_batch(batch("b", 3, &[("u2", 2.0)]))
            .await
            .unwrap();
        store
            .write_org_batch(batch("b", 3, &[("u2", 3.0)]))
            .await
            .unwrap();
        let error = store
            .write_org_batch(batch("b", 2, &[("u2", 9.0)]))
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            StoreError::StaleEpoch {
                attempted: 2,
                current: 3
            }
        ));
        let snapshot = store.load_if_changed(0).await.unwrap().unwrap();
        let values: Vec<f64> = snapshot.families[0]
            .series
            .iter()
            .map(|s| s.value)
            .collect();
        assert_eq!(values, vec![1.0, 3.0]);
    }

    /// Counter deltas accumulate across batches, a packet re-sent (same id) is added once, and
    /// a stale-epoch batch adds nothing.
    #[tokio::test]
    async fn counter_deltas_accumulate_and_stale_batches_add_nothing() {
        let store = MemoryStore::new();
        let runs = |value: f64| Sample {
            metric: "gh_exporter_store_write".into(),
            labels: vec![("result".into(), "success".into())],
            value,
        };
        let mut first = batch("a", 2, &[("u1", 1.0)]);
        first.counter_deltas = vec![CounterDeltas::new(vec![runs(1.0)])];
        store.write_org_batch(first.clone()).await.unwrap();
        store.write_org_batch(first).await.unwrap();
        let mut second = batch("a", 2, &[("u1", 1.0)]);
        second.counter_deltas = vec![CounterDeltas::new(vec![runs(1.0)])];
        store.write_org_batch(second).await.unwrap();
        let mut stale = batch("a", 1, &[("u1", 1.0)]);
        stale.counter_deltas = vec![CounterDeltas::new(vec![runs(5.0)])];
        store.write_org_batch(stale).await.unwrap_err();
        let snapshot = store.load_if_changed(0).await.unwrap().unwrap();
        let family = snapshot
            .families
            .iter()
            .find(|f| f.name == "gh_exporter_store_write")
            .unwrap();
        assert_eq!(family.series[0].value, 2.0);
        assert_eq!(family.kind, gse_actors::exposition::MetricKind::Counter);
    }
}
