//! The `errors` mode's tail decision: every span is recorded, and each trace's spans wait here
//! until its local root (a span without a parent, or with a remote one) ends. Then the whole
//! trace is exported if any of its spans has error status, else only if its trace id falls
//! under the ratio (the rule of the SDK's trace-id ratio sampler, so every replica and every
//! part of one trace decides alike). A span that ends after its root's decision follows it; it
//! is exported alone when it has an error itself. The buffer is bounded: a span beyond it is
//! dropped and counted.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use opentelemetry::trace::{SpanId, Status, TraceId};
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchSpanProcessor, Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;

/// Decisions remembered for spans that end after their trace's root.
const DECISIONS_KEPT: usize = 4096;

#[derive(Debug)]
pub(super) struct ErrorTail {
    inner: BatchSpanProcessor,
    /// Trace ids whose low 63 bits are below this are kept without an error.
    bound: u64,
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    traces: HashMap<TraceId, Vec<SpanData>>,
    buffered: usize,
    decided: HashMap<TraceId, bool>,
    order: VecDeque<TraceId>,
}

impl ErrorTail {
    pub(super) fn new(inner: BatchSpanProcessor, ratio: f64, capacity: usize) -> ErrorTail {
        ErrorTail {
            inner,
            bound: ratio_bound(ratio),
            capacity,
            state: Mutex::new(State::default()),
        }
    }

    fn under_ratio(&self, trace_id: TraceId) -> bool {
        let bytes = trace_id.to_bytes();
        let mut low = [0u8; 8];
        low.copy_from_slice(&bytes[8..16]);
        (u64::from_be_bytes(low) >> 1) < self.bound
    }
}

/// The SDK's trace-id ratio rule: keep when the id's low 63 bits are below `ratio · 2⁶³`.
fn ratio_bound(ratio: f64) -> u64 {
    (ratio.clamp(0.0, 1.0) * (1u64 << 63) as f64) as u64
}

fn is_error(span: &SpanData) -> bool {
    matches!(span.status, Status::Error { .. })
}

impl SpanProcessor for ErrorTail {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        let trace_id = span.span_context.trace_id();
        let local_root = span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote;
        let export = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(&keep) = state.decided.get(&trace_id) {
                if keep || is_error(&span) {
                    vec![span]
                } else {
                    Vec::new()
                }
            } else if local_root {
                let mut spans = state.traces.remove(&trace_id).unwrap_or_default();
                state.buffered -= spans.len();
                spans.push(span);
                let keep = spans.iter().any(is_error) || self.under_ratio(trace_id);
                state.decided.insert(trace_id, keep);
                state.order.push_back(trace_id);
                if state.order.len() > DECISIONS_KEPT {
                    if let Some(old) = state.order.pop_front() {
                        state.decided.remove(&old);
                    }
                }
                if keep {
                    spans
                } else {
                    Vec::new()
                }
            } else if state.buffered >= self.capacity {
                super::count_dropped(1);
                Vec::new()
            } else {
                state.buffered += 1;
                state.traces.entry(trace_id).or_default().push(span);
                Vec::new()
            }
        };
        for span in export {
            self.inner.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::SystemTime;

    use opentelemetry::trace::{SpanContext, SpanKind, TraceFlags, TraceState};
    use opentelemetry::InstrumentationScope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanExporter, SpanLinks};

    use super::*;

    /// Collects what the batch processor exports.
    #[derive(Debug, Clone, Default)]
    struct Sink(Arc<Mutex<Vec<String>>>);

    impl SpanExporter for Sink {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            let mut names = self.0.lock().unwrap_or_else(|p| p.into_inner());
            names.extend(batch.into_iter().map(|s| s.name.into_owned()));
            Ok(())
        }
    }

    fn span(trace: u128, id: u64, parent: u64, name: &'static str, error: bool) -> SpanData {
        let context = SpanContext::new(
            TraceId::from(trace),
            SpanId::from(id),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        SpanData {
            span_context: context,
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: name.into(),
            start_time: SystemTime::now(),
            end_time: SystemTime::now(),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: if error {
                Status::error("")
            } else {
                Status::Unset
            },
            instrumentation_scope: InstrumentationScope::default(),
        }
    }

    fn tail(ratio: f64, capacity: usize) -> (ErrorTail, Sink) {
        let sink = Sink::default();
        let batch = BatchSpanProcessor::builder(sink.clone()).build();
        (ErrorTail::new(batch, ratio, capacity), sink)
    }

    fn exported(tail: &ErrorTail, sink: &Sink) -> Vec<String> {
        assert!(tail.force_flush().is_ok());
        let mut names = sink.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        names.sort();
        names
    }

    /// Ratio 0: a trace without an error is dropped whole; one whose child failed is exported
    /// whole when its root ends, and a span ending after that follows the decision.
    #[test]
    fn keeps_exactly_the_traces_with_an_error() {
        let (tail, sink) = tail(0.0, 100);
        tail.on_end(span(1, 11, 0, "quiet.child", false));
        tail.on_end(span(1, 10, 0, "quiet.root", false));
        tail.on_end(span(2, 21, 20, "failed.child", true));
        tail.on_end(span(2, 22, 20, "ok.child", false));
        assert!(
            exported(&tail, &sink).is_empty(),
            "nothing before the root ends"
        );
        tail.on_end(span(2, 20, 0, "root", false));
        tail.on_end(span(2, 23, 20, "late.child", false));
        tail.on_end(span(1, 12, 10, "late.quiet", false));
        assert_eq!(
            exported(&tail, &sink),
            ["failed.child", "late.child", "ok.child", "root"]
        );
    }

    /// Ratio 1 keeps every trace; a full buffer drops new spans instead of growing.
    #[test]
    fn ratio_one_keeps_all_and_the_buffer_is_bounded() {
        let (tail, sink) = tail(1.0, 1);
        tail.on_end(span(3, 31, 30, "held", false));
        tail.on_end(span(3, 32, 30, "dropped", false));
        tail.on_end(span(3, 30, 0, "root", false));
        assert_eq!(exported(&tail, &sink), ["held", "root"]);
    }

    #[test]
    fn ratio_bounds_match_the_extremes() {
        assert_eq!(ratio_bound(0.0), 0);
        assert_eq!(ratio_bound(1.0), 1u64 << 63);
    }
}
