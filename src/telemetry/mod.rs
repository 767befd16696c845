//! OpenTelemetry traces (`telemetry.*`): the tracer provider, its OTLP/HTTP exporter (protobuf
//! over reqwest's blocking client, on the batch processor's own thread, never an actor's), the
//! `tracing` layer that turns the actors' spans into OpenTelemetry spans, and the W3C
//! trace-context propagator the actors reach through `gse_actors::trace`.
//!
//! Modes: `off` (or `otel_enabled=false`) installs nothing; `detailed` samples every trace;
//! `sampled` is parent-based with `otel_trace_sample_ratio`; `errors` records every span and
//! decides per trace when its local root ends ([`tail`]). Exporting never fails or slows a unit
//! of work: spans queue in a bounded buffer (overflow dropped), a failed export is counted in
//! `gh_exporter_trace_export_failures_total` and otherwise ignored.

mod tail;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, SpanData, SpanExporter,
};
use opentelemetry_sdk::Resource;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::counter::ConstCounter;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::config::{TelemetryConfig, TraceMode};

/// Spans waiting for export at most; beyond, new spans are dropped.
const QUEUE_CAPACITY: usize = 4096;
/// Spans the `errors` mode holds for traces whose root has not ended yet (a cold cycle of a
/// large org makes a few thousand); beyond, new spans are dropped and counted.
const TAIL_CAPACITY: usize = 16_384;
/// Spans wait this long for a batch (or until 512 are queued): fewer, larger POSTs cost less
/// CPU per span; the end of the process flushes what waits.
const EXPORT_DELAY: Duration = Duration::from_secs(5);
/// One export (a POST) gives up after this long.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the end of the process waits for the last spans to leave.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

static EXPORT_FAILURES: AtomicU64 = AtomicU64::new(0);
static SPANS_DROPPED: AtomicU64 = AtomicU64::new(0);

/// Why tracing could not be set up (the exporter refused its configuration).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the OTLP trace exporter for {endpoint}")]
pub struct TelemetryError {
    /// The endpoint with any password redacted.
    endpoint: String,
    #[source]
    source: opentelemetry_otlp::ExporterBuildError,
}

/// The installed pipeline; [`Tracing::shutdown`] flushes what is queued.
#[derive(Debug)]
pub struct Tracing {
    provider: SdkTracerProvider,
}

impl Tracing {
    /// Exports what is still queued (bounded by a timeout) and stops the exporter thread.
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT) {
            tracing::warn!(error = %error, "trace export shutdown incomplete");
        }
    }
}

/// The `tracing` layer that turns spans into OpenTelemetry spans.
pub type TraceLayer<S> =
    tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>;

/// The `tracing` layer of the configured pipeline, or `None` when traces are off. Call before
/// any async runtime starts (the blocking HTTP client runs its own).
pub fn build<S>(
    config: &TelemetryConfig,
) -> Result<Option<(Tracing, TraceLayer<S>)>, TelemetryError>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let Some(endpoint) = config.endpoint.as_ref() else {
        return Ok(None);
    };
    if !config.otel_enabled || config.trace_mode == TraceMode::Off {
        return Ok(None);
    }
    use opentelemetry_otlp::WithExportConfig as _;
    // The exporter's HTTP client (an https:// endpoint) uses rustls with ring, as everywhere.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let failed = |source| TelemetryError {
        endpoint: endpoint.to_string(),
        source,
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(endpoint.expose_secret())
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(failed)?;
    let batch = BatchSpanProcessor::builder(Counting(exporter))
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(QUEUE_CAPACITY)
                .with_scheduled_delay(EXPORT_DELAY)
                .build(),
        )
        .build();
    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .build();
    let ratio = config.sample_ratio;
    let builder = SdkTracerProvider::builder().with_resource(resource);
    let provider = match config.trace_mode {
        TraceMode::Errors => builder
            .with_sampler(Sampler::AlwaysOn)
            .with_span_processor(tail::ErrorTail::new(batch, ratio, TAIL_CAPACITY))
            .build(),
        TraceMode::Sampled => builder
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                ratio,
            ))))
            .with_span_processor(batch)
            .build(),
        TraceMode::Detailed | TraceMode::Off => builder
            .with_sampler(Sampler::AlwaysOn)
            .with_span_processor(batch)
            .build(),
    };
    let tracer = provider.tracer("github-stats-exporter");
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_target(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_error_events_to_status(false);
    gse_actors::trace::install(Box::new(W3cPropagator));
    Ok(Some((Tracing { provider }, layer)))
}

/// Whether the `tracing` metadata is one of our spans (the only thing the trace layer sees:
/// log events stay logs, dependencies' spans stay out).
pub fn is_traced(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.is_span()
        && (metadata.target().starts_with("github_stats_exporter")
            || metadata.target().starts_with("gse_actors"))
}

/// Failed exports (`gh_exporter_trace_export_failures_total`).
pub fn export_failures() -> u64 {
    EXPORT_FAILURES.load(Ordering::Relaxed)
}

/// Spans dropped before export (`gh_exporter_trace_spans_dropped_total`).
pub(crate) fn count_dropped(n: u64) {
    SPANS_DROPPED.fetch_add(n, Ordering::Relaxed);
}

/// The exporter, counting each failed export.
#[derive(Debug)]
struct Counting<E>(E);

impl<E: SpanExporter> SpanExporter for Counting<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.0.export(batch).await;
        if result.is_err() {
            let failures = EXPORT_FAILURES.fetch_add(1, Ordering::Relaxed) + 1;
            // Without the error's text: it may quote the endpoint, credentials included.
            if failures == 1 || failures % 100 == 0 {
                tracing::warn!(
                    failures,
                    "trace export failed (collector unreachable, refusing or slow); spans dropped"
                );
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

/// W3C `traceparent` text for the actors' [`gse_actors::trace`] seam.
struct W3cPropagator;

impl gse_actors::trace::Propagator for W3cPropagator {
    fn context_of(&self, span: &tracing::Span) -> Option<String> {
        let context = span.context();
        if !context.span().span_context().is_valid() {
            return None;
        }
        let mut carrier = HashMap::new();
        TraceContextPropagator::new().inject_context(&context, &mut carrier);
        carrier.remove("traceparent")
    }

    fn set_parent(&self, span: &tracing::Span, traceparent: &str) {
        let carrier = HashMap::from([("traceparent".to_string(), traceparent.to_string())]);
        let context = TraceContextPropagator::new().extract(&carrier);
        if context.span().span_context().is_valid() {
            // Fails only for a span that is not recorded or already started: then it stays a root.
            let _ = span.set_parent(context);
        }
    }
}

/// `gh_exporter_trace_export_failures_total` and `gh_exporter_trace_spans_dropped_total` for
/// `/metrics/replica` (0 while tracing is off).
#[derive(Debug)]
pub struct TraceCollector;

impl Collector for TraceCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let failures = ConstCounter::new(export_failures());
        failures.encode(encoder.encode_descriptor(
            "gh_exporter_trace_export_failures",
            "Trace exports (batches of spans) that failed: collector unreachable, refused or slow",
            None,
            failures.metric_type(),
        )?)?;
        let dropped = ConstCounter::new(SPANS_DROPPED.load(Ordering::Relaxed));
        dropped.encode(encoder.encode_descriptor(
            "gh_exporter_trace_spans_dropped",
            "Spans dropped before export because the errors-mode buffer was full",
            None,
            dropped.metric_type(),
        )?)?;
        Ok(())
    }
}
