//! The trace-context seam: actors create their spans with plain `tracing`, and a unit of work
//! that crosses an actor or a queue (a scrape cycle's missed window becoming a backfill job)
//! carries its span's context as opaque W3C `traceparent` text. The binary installs the
//! [`Propagator`] that reads and sets those contexts (OpenTelemetry lives in the main package);
//! without one, every call here is a no-op and jobs carry no context.

use std::sync::OnceLock;

use tracing::Span;

/// Reads and sets the trace context of `tracing` spans.
pub trait Propagator: Send + Sync + 'static {
    /// The W3C `traceparent` of `span`, when it is recorded and sampled.
    fn context_of(&self, span: &Span) -> Option<String>;
    /// Makes `span` (not yet entered) a child of the remote context `traceparent`.
    fn set_parent(&self, span: &Span, traceparent: &str);
}

static PROPAGATOR: OnceLock<Box<dyn Propagator>> = OnceLock::new();

/// Installs the process's propagator; a second call is ignored.
pub fn install(propagator: Box<dyn Propagator>) {
    let _ = PROPAGATOR.set(propagator);
}

/// The W3C `traceparent` of `span` (`None` without a propagator or an exported span).
pub fn context_of(span: &Span) -> Option<String> {
    PROPAGATOR.get()?.context_of(span)
}

/// Makes `span` a child of `traceparent`, when both a propagator and a context exist.
pub fn set_parent(span: &Span, traceparent: Option<&str>) {
    if let (Some(propagator), Some(parent)) = (PROPAGATOR.get(), traceparent) {
        propagator.set_parent(span, parent);
    }
}
