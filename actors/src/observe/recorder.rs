//! The metrics sink behind [`MetricsObserver`](super::MetricsObserver): the [`Recorder`] trait
//! and [`MemRecorder`], its in-memory, concurrent-safe implementation.
//!
//! `MemRecorder` is both the test double observers are checked against and the store of the
//! per-process series `/metrics/replica` renders (through
//! [`MemCollector`](super::MemCollector)). It holds a std `Mutex` around a `BTreeMap`: every
//! call is one short map write with no `.await` while locked, so callers never block for long,
//! and the map's order makes snapshots sorted and deterministic for free.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::taxonomy::{MetricDef, MetricKind};

/// One label: a key from the taxonomy and a value.
pub type Label<'a> = (&'static str, &'a str);

/// A metrics sink: the one seam a metrics stack plugs into.
///
/// Every method runs synchronously on the caller's path and must not block. `labels` is a small
/// slice the implementation must not retain past the call.
pub trait Recorder: Send + Sync + 'static {
    /// Adds `delta` to a counter series.
    fn count(&self, metric: &'static MetricDef, labels: &[Label<'_>], delta: u64);
    /// Sets a gauge series to `value`.
    fn gauge(&self, metric: &'static MetricDef, labels: &[Label<'_>], value: f64);
    /// Records one `value` into a histogram series.
    fn observe(&self, metric: &'static MetricDef, labels: &[Label<'_>], value: f64);
}

/// The value of one series in a [`Snapshot`].
#[derive(Debug, Clone, PartialEq)]
pub enum SeriesValue {
    /// A counter's running total.
    Counter(u64),
    /// A gauge's last value.
    Gauge(f64),
    /// A histogram: the sum and count of observations, and per bucket its upper bound and the
    /// number of observations that fell into it (not cumulative; the last bound is `+Inf`).
    Histogram {
        sum: f64,
        count: u64,
        buckets: Vec<(f64, u64)>,
    },
}

/// One series in a [`Snapshot`].
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The family this series belongs to.
    pub metric: &'static MetricDef,
    /// Its labels, sorted by key.
    pub labels: Vec<(&'static str, String)>,
    /// Its current value.
    pub value: SeriesValue,
}

/// A copy of every series, sorted by family name then labels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The series, sorted.
    pub series: Vec<Series>,
}

impl Snapshot {
    /// The value of the series `name{labels}`, if it was ever recorded. `labels` may be given in
    /// any order.
    pub fn get(&self, name: &str, labels: &[Label<'_>]) -> Option<&SeriesValue> {
        let wanted = sorted_labels(labels);
        self.series
            .iter()
            .find(|s| s.metric.name == name && s.labels == wanted)
            .map(|s| &s.value)
    }

    /// The counter `name{labels}`, or `None` when absent or not a counter.
    pub fn counter(&self, name: &str, labels: &[Label<'_>]) -> Option<u64> {
        match self.get(name, labels) {
            Some(SeriesValue::Counter(v)) => Some(*v),
            _ => None,
        }
    }

    /// The gauge `name{labels}`, or `None` when absent or not a gauge.
    pub fn gauge(&self, name: &str, labels: &[Label<'_>]) -> Option<f64> {
        match self.get(name, labels) {
            Some(SeriesValue::Gauge(v)) => Some(*v),
            _ => None,
        }
    }
}

/// Concurrent-safe in-memory [`Recorder`]. A series is its family plus its sorted label set, so
/// equal labels in any order accumulate into one cell.
///
/// ```
/// use gse_actors::observe::{taxonomy, MemRecorder, Recorder};
///
/// let rec = MemRecorder::new();
/// rec.count(&taxonomy::ACTOR_RESTARTS, &[("actor", "store")], 1);
/// rec.count(&taxonomy::ACTOR_RESTARTS, &[("actor", "store")], 2);
/// let snap = rec.snapshot();
/// assert_eq!(snap.counter("gh_exporter_actor_restarts", &[("actor", "store")]), Some(3));
/// ```
#[derive(Debug, Default)]
pub struct MemRecorder {
    series: Mutex<BTreeMap<SeriesKey, Cell>>,
}

/// Map key: family name first so a family's series are adjacent and sorted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SeriesKey {
    name: &'static str,
    labels: Vec<(&'static str, String)>,
}

#[derive(Debug)]
struct Cell {
    metric: &'static MetricDef,
    value: SeriesValue,
}

impl MemRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Copies every series out under the lock, sorted by name then labels.
    pub fn snapshot(&self) -> Snapshot {
        let series = self
            .lock()
            .iter()
            .map(|(key, cell)| Series {
                metric: cell.metric,
                labels: key.labels.clone(),
                value: cell.value.clone(),
            })
            .collect();
        Snapshot { series }
    }

    /// Applies `update` to the series' cell, creating it from `initial` first. A call whose
    /// kind does not match the family's (a taxonomy bug) is ignored in release builds.
    fn update(
        &self,
        metric: &'static MetricDef,
        labels: &[Label<'_>],
        initial: impl FnOnce() -> SeriesValue,
        update: impl FnOnce(&mut SeriesValue) -> bool,
    ) {
        let key = SeriesKey {
            name: metric.name,
            labels: sorted_labels(labels),
        };
        let mut map = self.lock();
        let cell = map.entry(key).or_insert_with(|| Cell {
            metric,
            value: initial(),
        });
        let matched = update(&mut cell.value);
        debug_assert!(matched, "metric {} used with the wrong kind", metric.name);
    }

    /// Locks the map. A panic while holding this lock cannot leave a half-written cell (each
    /// critical section is one assignment), so a poisoned lock is still consistent: recover it.
    fn lock(&self) -> MutexGuard<'_, BTreeMap<SeriesKey, Cell>> {
        self.series.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Recorder for MemRecorder {
    fn count(&self, metric: &'static MetricDef, labels: &[Label<'_>], delta: u64) {
        self.update(
            metric,
            labels,
            || SeriesValue::Counter(0),
            |value| match value {
                SeriesValue::Counter(total) => {
                    *total = total.saturating_add(delta);
                    true
                }
                _ => false,
            },
        );
    }

    fn gauge(&self, metric: &'static MetricDef, labels: &[Label<'_>], value: f64) {
        self.update(
            metric,
            labels,
            || SeriesValue::Gauge(value),
            |cell| match cell {
                SeriesValue::Gauge(current) => {
                    *current = value;
                    true
                }
                _ => false,
            },
        );
    }

    fn observe(&self, metric: &'static MetricDef, labels: &[Label<'_>], value: f64) {
        let bounds: &[f64] = match metric.kind {
            MetricKind::Histogram { buckets } => buckets,
            _ => &[],
        };
        self.update(
            metric,
            labels,
            || SeriesValue::Histogram {
                sum: 0.0,
                count: 0,
                buckets: bounds
                    .iter()
                    .copied()
                    .chain(std::iter::once(f64::INFINITY))
                    .map(|bound| (bound, 0))
                    .collect(),
            },
            |cell| match cell {
                SeriesValue::Histogram {
                    sum,
                    count,
                    buckets,
                } => {
                    *sum += value;
                    *count += 1;
                    // The last bucket is +Inf, so some bucket always matches (NaN lands there too).
                    let slot = buckets
                        .iter()
                        .position(|(bound, _)| value <= *bound)
                        .unwrap_or(buckets.len() - 1);
                    buckets[slot].1 += 1;
                    true
                }
                _ => false,
            },
        );
    }
}

fn sorted_labels(labels: &[Label<'_>]) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = labels
        .iter()
        .map(|(key, value)| (*key, (*value).to_owned()))
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::taxonomy::{
        ACTOR_RESTARTS, ACTOR_UP, BACKFILL_JOBS_FINISHED, BACKFILL_JOB_DURATION,
    };

    /// Series come out sorted by name then label values, whatever the recording order, and equal
    /// label sets accumulate into one series.
    #[test]
    fn snapshot_is_sorted_and_accumulates_equal_series() {
        let rec = MemRecorder::new();
        rec.count(&BACKFILL_JOBS_FINISHED, &[("outcome", "success")], 1);
        rec.gauge(&ACTOR_UP, &[("actor", "store")], 1.0);
        rec.count(&ACTOR_RESTARTS, &[("actor", "store")], 1);
        rec.count(&ACTOR_RESTARTS, &[("actor", "health")], 1);
        rec.count(&ACTOR_RESTARTS, &[("actor", "store")], 4);
        rec.gauge(&ACTOR_UP, &[("actor", "store")], 0.0);

        let order: Vec<(&str, Vec<(&str, String)>)> = rec
            .snapshot()
            .series
            .into_iter()
            .map(|s| (s.metric.name, s.labels))
            .collect();
        assert_eq!(
            order,
            vec![
                (
                    "gh_exporter_actor_restarts",
                    vec![("actor", "health".into())]
                ),
                (
                    "gh_exporter_actor_restarts",
                    vec![("actor", "store".into())]
                ),
                ("gh_exporter_actor_up", vec![("actor", "store".into())]),
                (
                    "gh_exporter_backfill_jobs_finished",
                    vec![("outcome", "success".into())]
                ),
            ]
        );
        let snap = rec.snapshot();
        assert_eq!(
            snap.counter("gh_exporter_actor_restarts", &[("actor", "store")]),
            Some(5)
        );
        assert_eq!(
            snap.gauge("gh_exporter_actor_up", &[("actor", "store")]),
            Some(0.0)
        );
    }

    /// Each observation lands in the first bucket whose bound is >= the value; values past the
    /// last bound land in +Inf; sum and count track every value.
    #[test]
    fn histogram_buckets_observations_by_upper_bound() {
        let rec = MemRecorder::new();
        for value in [0.05, 0.07, 3.0, 1000.0] {
            rec.observe(&BACKFILL_JOB_DURATION, &[], value);
        }
        let snap = rec.snapshot();
        let Some(SeriesValue::Histogram {
            sum,
            count,
            buckets,
        }) = snap.get("gh_exporter_backfill_job_duration_seconds", &[])
        else {
            panic!("histogram missing: {snap:?}");
        };
        assert_eq!(*count, 4);
        assert!((sum - 1003.12).abs() < 1e-9);
        let nonzero: Vec<(f64, u64)> = buckets.iter().copied().filter(|b| b.1 > 0).collect();
        assert_eq!(
            nonzero,
            vec![(0.05, 1), (0.1, 1), (5.0, 1), (f64::INFINITY, 1)]
        );
    }

    /// Concurrent writers from several threads lose no increment.
    #[test]
    fn concurrent_counts_are_not_lost() {
        let rec = std::sync::Arc::new(MemRecorder::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let rec = rec.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        rec.count(&ACTOR_RESTARTS, &[("actor", "x")], 1);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("writer thread panicked");
        }
        assert_eq!(
            rec.snapshot()
                .counter("gh_exporter_actor_restarts", &[("actor", "x")]),
            Some(4000)
        );
    }
}
