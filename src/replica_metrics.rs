//! Per-process series served on `/metrics/replica` (scraped per pod, unlike the shared
//! `/metrics`): process resources, HTTP requests, build info, and whatever collectors the
//! supervision tree registers (actor restarts and up-ness). Built on `prometheus-client`, whose
//! encoder writes OpenMetrics text.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of `gh_exporter_http_requests_total`: one of the fixed [`ROUTES`] (or `other`), never
/// the raw request path, so a client cannot grow the label set; `code` is the status code.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub path: &'static str,
    pub code: u16,
}

/// Label of `gh_exporter_http_request_duration_seconds`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PathLabel {
    pub path: &'static str,
}

/// Every route the server registers; any other request path is counted as `other`.
pub const ROUTES: [&str; 6] = [
    "/",
    "/metrics",
    "/metrics/replica",
    "/livez",
    "/readyz",
    "/healthz",
];

/// The `path` label of a request whose matched route pattern is `pattern`.
pub fn path_label(pattern: Option<&str>) -> &'static str {
    pattern
        .and_then(|p| ROUTES.iter().find(|r| **r == p).copied())
        .unwrap_or("other")
}

/// Bucket bounds (seconds) of the request-duration histogram: the handlers serve pre-rendered
/// bodies in well under a millisecond; a slow one waits for the HealthActor or the queue sample.
const DURATION_BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

/// The per-process registry and the handles the HTTP layer updates.
pub struct ReplicaMetrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_request_duration: Family<PathLabel, Histogram>,
    pub http_rejected_overload: Counter,
}

impl std::fmt::Debug for ReplicaMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaMetrics").finish_non_exhaustive()
    }
}

impl ReplicaMetrics {
    /// A registry with process and HTTP metrics plus `collectors`.
    pub fn new(collectors: Vec<Box<dyn Collector>>) -> ReplicaMetrics {
        let mut registry = Registry::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "gh_exporter_http_requests",
            "HTTP requests answered by this replica, by route and status code",
            http_requests.clone(),
        );
        let http_request_duration = Family::<PathLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(DURATION_BUCKETS)
        });
        registry.register(
            "gh_exporter_http_request_duration_seconds",
            "Time from a request reaching the handlers to its response, by route",
            http_request_duration.clone(),
        );
        let http_rejected_overload = Counter::default();
        registry.register(
            "gh_exporter_http_rejected_overload",
            "HTTP requests rejected with 503 because the concurrent-request cap was reached",
            http_rejected_overload.clone(),
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        registry.register(
            "gh_exporter_build_info",
            "Build information; always 1",
            build_info,
        );
        registry.register_collector(Box::new(ProcessCollector::new()));
        registry.register_collector(Box::new(crate::telemetry::TraceCollector));
        for collector in collectors {
            registry.register_collector(collector);
        }
        ReplicaMetrics {
            registry,
            http_requests,
            http_request_duration,
            http_rejected_overload,
        }
    }

    /// Counts one answered request and its duration.
    pub fn observe_request(&self, path: &'static str, code: u16, seconds: f64) {
        self.http_requests
            .get_or_create(&HttpLabels { path, code })
            .inc();
        self.http_request_duration
            .get_or_create(&PathLabel { path })
            .observe(seconds);
    }

    /// Help texts are registered without a final period: the encoder appends one.
    ///
    /// OpenMetrics text of the registry followed by `extra` (already-rendered OpenMetrics
    /// families without `# EOF`), then `# EOF`.
    pub fn encode(&self, extra: &str) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(4096 + extra.len());
        prometheus_client::encoding::text::encode_registry(&mut out, &self.registry)?;
        out.push_str(extra);
        prometheus_client::encoding::text::encode_eof(&mut out)?;
        Ok(out)
    }
}

/// Process metrics read from `/proc/self` at scrape time (Linux; absent elsewhere).
#[derive(Debug)]
struct ProcessCollector {
    start_time: f64,
}

impl ProcessCollector {
    fn new() -> ProcessCollector {
        let start_time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        ProcessCollector { start_time }
    }
}

/// Resident memory in bytes and CPU seconds (user + system) from `/proc/self/stat`.
fn read_proc_stat() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; the name itself may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = 100.0; // USER_HZ is 100 on every Linux ABI we target.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let rss_pages: f64 = fields.get(21)?.parse().ok()?;
    Some((rss_pages * 4096.0, (utime + stime) / ticks))
}

fn open_fds() -> Option<i64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as i64)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let start = ConstGauge::new(self.start_time);
        start.encode(encoder.encode_descriptor(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds",
            None,
            start.metric_type(),
        )?)?;
        if let Some((rss, cpu)) = read_proc_stat() {
            let rss = ConstGauge::new(rss);
            rss.encode(encoder.encode_descriptor(
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                None,
                rss.metric_type(),
            )?)?;
            let cpu = ConstCounter::new(cpu);
            cpu.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                cpu.metric_type(),
            )?)?;
        }
        if let Some(fds) = open_fds() {
            let fds = ConstGauge::new(fds);
            fds.encode(encoder.encode_descriptor(
                "process_open_fds",
                "Number of open file descriptors",
                None,
                fds.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

/// Converts prometheus-client's OpenMetrics text into Prometheus text 0.0.4: counter families
/// are named with their `_total` in `# HELP`/`# TYPE`, `# UNIT` and `# EOF` lines are dropped.
/// Only the metric types this process registers (counter, gauge, histogram) are handled.
pub fn openmetrics_to_text004(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len() + 256);
    let mut counters: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some(name) = rest.strip_suffix(" counter") {
                counters.insert(name);
            }
        }
    }
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let header = line
            .strip_prefix("# HELP ")
            .map(|r| ("# HELP ", r))
            .or_else(|| line.strip_prefix("# TYPE ").map(|r| ("# TYPE ", r)));
        match header {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                out.push_str(prefix);
                out.push_str(name);
                if counters.contains(name) {
                    out.push_str("_total");
                }
                out.push(' ');
                out.push_str(tail);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Shared handle type the HTTP layer holds.
pub type SharedReplicaMetrics = Arc<ReplicaMetrics>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The replica exposition has process series, counters with one `_total`, and one `# EOF`.
    #[test]
    fn encodes_process_and_http_series() {
        let metrics = ReplicaMetrics::new(Vec::new());
        metrics.observe_request("/metrics", 200, 0.003);
        let text = metrics.encode("").unwrap();
        assert!(
            text.contains("gh_exporter_http_requests_total{path=\"/metrics\",code=\"200\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "gh_exporter_http_request_duration_seconds_bucket{le=\"0.005\",path=\"/metrics\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "gh_exporter_http_request_duration_seconds_bucket{le=\"0.0025\",path=\"/metrics\"} 0\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("gh_exporter_http_request_duration_seconds_count{path=\"/metrics\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("process_resident_memory_bytes "), "{text}");
        assert!(!text.contains("_total_total"));
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(text.matches("# EOF").count(), 1);
    }

    /// Only registered routes become `path` values; anything else is `other`.
    #[test]
    fn path_label_is_bounded() {
        assert_eq!(path_label(Some("/metrics/replica")), "/metrics/replica");
        assert_eq!(path_label(Some("/anything/{tail}")), "other");
        assert_eq!(path_label(None), "other");
    }

    /// The text-0.0.4 conversion names counters with `_total` and drops OpenMetrics-only lines.
    #[test]
    fn converts_openmetrics_to_text004() {
        let om = "# HELP a_requests Requests.\n# TYPE a_requests counter\na_requests_total{x=\"1\"} 2\n# HELP b Bytes.\n# TYPE b gauge\n# UNIT b bytes\nb 3\n# EOF\n";
        assert_eq!(
            openmetrics_to_text004(om),
            "# HELP a_requests_total Requests.\n# TYPE a_requests_total counter\na_requests_total{x=\"1\"} 2\n# HELP b Bytes.\n# TYPE b gauge\nb 3\n"
        );
    }
}
