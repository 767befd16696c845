//! The queue gauges of `/metrics/replica`, sampled fresh on every scrape:
//! `gh_exporter_queue_depth{queue}` (ready messages of the work queue, each retry tier and the
//! dead-letter queue) and `gh_exporter_queue_oldest_message_age_seconds{queue}` (the work queue's
//! oldest ready message, 0 when empty). A sample that fails or times out is an error, which the
//! endpoint answers with 500 — a missing gauge would hide exactly the lag it exists to show.

use std::time::Duration;

use gse_actors::backfill::{JobQueue, QueueError};
use gse_actors::exposition::{Family, LabelSet, MetricKind, Series};

/// Why the queue could not be sampled.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("sampling the backfill queue failed")]
    Queue(#[source] QueueError),
    #[error("sampling the backfill queue timed out after {0:?}")]
    Timeout(Duration),
}

/// Samples `queue` within `timeout` and renders the two gauge families.
pub async fn queue_families(
    queue: &dyn JobQueue,
    timeout: Duration,
) -> Result<Vec<Family>, SampleError> {
    let samples = tokio::time::timeout(timeout, queue.sample())
        .await
        .map_err(|_| SampleError::Timeout(timeout))?
        .map_err(SampleError::Queue)?;
    let depth = samples
        .iter()
        .map(|s| Series {
            labels: LabelSet::render(&[("queue", s.queue.as_str())]),
            value: s.ready as f64,
        })
        .collect();
    let age = samples
        .iter()
        .filter_map(|s| {
            s.oldest_ready_age.map(|age| Series {
                labels: LabelSet::render(&[("queue", s.queue.as_str())]),
                value: age.as_secs_f64(),
            })
        })
        .collect();
    Ok(vec![
        Family {
            name: "gh_exporter_queue_depth".into(),
            help: "Messages ready in each backfill queue, sampled at scrape time.".into(),
            kind: MetricKind::Gauge,
            series: depth,
        },
        Family {
            name: "gh_exporter_queue_oldest_message_age_seconds".into(),
            help: "Age of the oldest ready message of the backfill work queue, sampled at scrape time."
                .into(),
            kind: MetricKind::Gauge,
            series: age,
        },
    ])
}
