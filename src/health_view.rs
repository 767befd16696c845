//! Presentation of periodic-service health (the tick runners' records) for `/healthz` and the
//! landing page.

use gse_actors::service_health::ServiceHealthSnapshot;
use serde_json::json;

/// One service as JSON: `{interval_seconds, runs, last_success, last_failure, last_error,
/// consecutive_failures}` with Unix-second timestamps (null before the first such outcome).
pub fn service_json(service: &ServiceHealthSnapshot) -> serde_json::Value {
    json!({
        "interval_seconds": service.interval.as_secs_f64(),
        "runs": service.runs,
        "last_success": service.last_success_unix,
        "last_failure": service.last_failure_unix,
        "last_error": service.last_error,
        "consecutive_failures": service.consecutive_failures,
    })
}

/// One service as a line of text for the landing page.
pub fn service_line(service: &ServiceHealthSnapshot) -> String {
    let outcome = match (&service.last_error, service.consecutive_failures) {
        (_, 0) if service.runs == 0 => "not run yet".to_string(),
        (_, 0) => "ok".to_string(),
        (Some(error), n) => format!("failing ({n} in a row): {error}"),
        (None, n) => format!("failing ({n} in a row)"),
    };
    format!(
        "{}: every {:?}, {} runs, {}",
        service.name, service.interval, service.runs, outcome
    )
}
