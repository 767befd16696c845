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
    use super::*;

    #[test]
    fn ratio_bounds_match_the_extremes() {
        assert_eq!(ratio_bound(0.0), 0);
        assert_eq!(ratio_bound(1.0), 1u64 << 63);
    }
}
