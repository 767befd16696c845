//! [`MemCollector`]: exposes a [`MemRecorder`]'s series through a `prometheus-client`
//! `Registry`, so `/metrics/replica` (rendered by the OpenMetrics text encoder) carries them.
//!
//! The collector builds const metrics from a fresh snapshot on every scrape (the "writing
//! exporters" advice: never mutate long-lived metrics from a collector). Families and series
//! come out in the snapshot's sorted order, so the exposition is deterministic. Counter names
//! in the taxonomy lack `_total`; the encoder appends it exactly once.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use super::recorder::{MemRecorder, Series, SeriesValue};
use super::taxonomy::MetricKind;

/// A `prometheus_client` [`Collector`] over a shared [`MemRecorder`].
///
/// Register it in a registry **without** a prefix: taxonomy names are already complete.
///
/// ```
/// use std::sync::Arc;
/// use gse_actors::observe::{taxonomy, MemCollector, MemRecorder, Recorder};
/// use prometheus_client::registry::Registry;
///
/// let recorder = Arc::new(MemRecorder::new());
/// let mut registry = Registry::default();
/// registry.register_collector(Box::new(MemCollector::new(recorder.clone())));
/// recorder.count(&taxonomy::ACTOR_RESTARTS, &[("actor", "store")], 1);
///
/// let mut body = String::new();
/// prometheus_client::encoding::text::encode(&mut body, &registry).unwrap();
/// assert!(body.contains("gh_exporter_actor_restarts_total{actor=\"store\"} 1\n"));
/// ```
#[derive(Debug, Clone)]
pub struct MemCollector {
    recorder: Arc<MemRecorder>,
}

impl MemCollector {
    /// A collector reading `recorder` on every scrape.
    pub fn new(recorder: Arc<MemRecorder>) -> Self {
        Self { recorder }
    }
}

impl Collector for MemCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snapshot = self.recorder.snapshot();
        // Series are sorted by family name, so each family is one contiguous run.
        for family in snapshot
            .series
            .chunk_by(|a, b| a.metric.name == b.metric.name)
        {
            let metric = family[0].metric;
            let metric_type = match metric.kind {
                MetricKind::Counter => MetricType::Counter,
                MetricKind::Gauge => MetricType::Gauge,
                MetricKind::Histogram { .. } => MetricType::Histogram,
            };
            let mut family_encoder =
                encoder.encode_descriptor(metric.name, metric.help, None, metric_type)?;
            for series in family {
                if series.labels.is_empty() {
                    // `encode_family` with an empty set would print `name{}`; encode bare.
                    encode_value(&mut family_encoder, series)?;
                } else {
                    let labels: Vec<(&str, &str)> = series
                        .labels
                        .iter()
                        .map(|(key, value)| (*key, value.as_str()))
                        .collect();
                    let mut series_encoder = family_encoder.encode_family(&labels)?;
                    encode_value(&mut series_encoder, series)?;
                }
            }
        }
        Ok(())
    }
}

fn encode_value(encoder: &mut MetricEncoder<'_>, series: &Series) -> Result<(), std::fmt::Error> {
    match &series.value {
        SeriesValue::Counter(total) => encoder.encode_counter::<NoLabelSet, u64, u64>(total, None),
        // A whole number prints as one (`2`, not `2.0`): these gauges are mostly counts.
        SeriesValue::Gauge(value) if value.fract() == 0.0 && value.abs() < 9.0e15 => {
            encoder.encode_gauge(&(*value as i64))
        }
        SeriesValue::Gauge(value) => encoder.encode_gauge(value),
        SeriesValue::Histogram {
            sum,
            count,
            buckets,
        } => encoder.encode_histogram::<NoLabelSet>(*sum, *count, buckets, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::taxonomy::{
        ACTOR_RESTARTS, ACTOR_UP, BACKFILL_JOBS_CLAIMED, BACKFILL_JOB_DURATION,
    };
    use crate::observe::Recorder;
    use prometheus_client::registry::Registry;

    fn render(recorder: &Arc<MemRecorder>) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(MemCollector::new(recorder.clone())));
        let mut body = String::new();
        prometheus_client::encoding::text::encode(&mut body, &registry)
            .expect("encoding into a String cannot fail");
        body
    }

    /// The OpenMetrics exposition is exact: families sorted by name, series by labels, counters
    /// suffixed `_total` once, histograms cumulative with `+Inf`, unlabelled series without `{}`,
    /// and `# EOF` last.
    #[test]
    fn exposition_is_sorted_exact_and_suffixes_total_once() {
        let rec = Arc::new(MemRecorder::new());
        rec.gauge(&ACTOR_UP, &[("actor", "store")], 1.0);
        rec.gauge(&ACTOR_UP, &[("actor", "health")], 0.0);
        rec.count(&ACTOR_RESTARTS, &[("actor", "store")], 2);
        rec.count(&BACKFILL_JOBS_CLAIMED, &[], 5);
        rec.observe(&BACKFILL_JOB_DURATION, &[], 0.2);
        rec.observe(&BACKFILL_JOB_DURATION, &[], 400.0);

        let expected = "\
# HELP gh_exporter_actor_restarts Restarts of a supervised actor or service, by child name.
# TYPE gh_exporter_actor_restarts counter
gh_exporter_actor_restarts_total{actor=\"store\"} 2
# HELP gh_exporter_actor_up 1 while a supervised actor or service runs, 0 while it is stopped or waiting to restart.
# TYPE gh_exporter_actor_up gauge
gh_exporter_actor_up{actor=\"health\"} 0
gh_exporter_actor_up{actor=\"store\"} 1
# HELP gh_exporter_backfill_job_duration_seconds Duration of backfill job attempts on this replica.
# TYPE gh_exporter_backfill_job_duration_seconds histogram
gh_exporter_backfill_job_duration_seconds_sum 400.2
gh_exporter_backfill_job_duration_seconds_count 2
gh_exporter_backfill_job_duration_seconds_bucket{le=\"0.05\"} 0
gh_exporter_backfill_job_duration_seconds_bucket{le=\"0.1\"} 0
gh_exporter_backfill_job_duration_seconds_bucket{le=\"0.25\"} 1
gh_exporter_backfill_job_duration_seconds_bucket{le=\"0.5\"} 1
gh_exporter_backfill_job_duration_seconds_bucket{le=\"1.0\"} 1
gh_exporter_backfill_job_duration_seconds_bucket{le=\"2.5\"} 1
gh_exporter_backfill_job_duration_seconds_bucket{le=\"5.0\"} 1
gh_exporter_backfill_job_duration_seconds_bucket{le=\"10.0\"} 1
gh_exporter_backfill_job_duration_seconds_bucket{le=\"30.0\"} 1
gh_exporter_backfill_job_duration_seconds_bucket{le=\"60.0\"} 1
gh_exporter_backfill_job_duration_seconds_bucket{le=\"120.0\"} 1
gh_exporter_backfill_job_duration_seconds_bucket{le=\"300.0\"} 1
gh_exporter_backfill_job_duration_seconds_bucket{le=\"+Inf\"} 2
# HELP gh_exporter_backfill_jobs_claimed Backfill jobs taken from the queue by this replica's consumers.
# TYPE gh_exporter_backfill_jobs_claimed counter
gh_exporter_backfill_jobs_claimed_total 5
# EOF
";
        assert_eq!(render(&rec), expected);
    }

    /// Rendering twice without new records gives byte-identical output.
    #[test]
    fn exposition_is_stable_across_scrapes() {
        let rec = Arc::new(MemRecorder::new());
        for actor in ["c", "a", "b"] {
            rec.count(&ACTOR_RESTARTS, &[("actor", actor)], 1);
        }
        let first = render(&rec);
        assert_eq!(first, render(&rec));
        let a = first.find("actor=\"a\"").expect("series a present");
        let c = first.find("actor=\"c\"").expect("series c present");
        assert!(a < c, "series not sorted:\n{first}");
    }
}
