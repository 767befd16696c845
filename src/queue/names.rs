//! Queue names: the work queue, one `<queue>.retry.<delay>` queue per `backfill.requeue_delays`
//! entry, and the dead-letter queue. Delays are written as Go's `time.Duration` prints them
//! (`1m0s`, `2h0m0s`, `500ms`, with `.` → `_`): existing retry queues keep their names and
//! arguments (docs/wire-compatibility.md).

use std::time::Duration;

/// Every queue of the topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueNames {
    pub exchange: String,
    pub work: String,
    /// One per retry tier, in order: the queue name and its delay.
    pub retry: Vec<(String, Duration)>,
    pub dlq: String,
}

impl QueueNames {
    /// Names for `exchange`, `queue`, `dlq` and the retry `delays`.
    pub fn new(exchange: &str, queue: &str, dlq: &str, delays: &[Duration]) -> QueueNames {
        QueueNames {
            exchange: exchange.to_string(),
            work: queue.to_string(),
            retry: delays
                .iter()
                .map(|d| (format!("{queue}.retry.{}", go_duration(*d)), *d))
                .collect(),
            dlq: dlq.to_string(),
        }
    }
}

/// Go's `time.Duration.String()` for whole milliseconds and up, with `.` replaced by `_`.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let total_secs = d.as_secs();
    let frac_ms = d.subsec_millis();
    let secs_part = if frac_ms == 0 {
        format!("{}s", total_secs % 60)
    } else {
        let frac = format!("{frac_ms:03}");
        format!("{}_{}s", total_secs % 60, frac.trim_end_matches('0'))
    };
    let hours = total_secs / 3600;
    let minutes = (total_secs % 3600) / 60;
    if hours > 0 {
        format!("{hours}h{minutes}m{secs_part}")
    } else if minutes > 0 {
        format!("{minutes}m{secs_part}")
    } else {
        secs_part
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default delays give the existing deployments' queue names.
    #[test]
    fn retry_queue_names_match_the_go_version() {
        let names = QueueNames::new(
            "gh.backfill",
            "gh.backfill.jobs",
            "gh.backfill.dlq",
            &[60, 300, 1800, 7200].map(Duration::from_secs),
        );
        let retry: Vec<&str> = names.retry.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            retry,
            [
                "gh.backfill.jobs.retry.1m0s",
                "gh.backfill.jobs.retry.5m0s",
                "gh.backfill.jobs.retry.30m0s",
                "gh.backfill.jobs.retry.2h0m0s"
            ]
        );
        assert_eq!(go_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1_5s");
    }
}
