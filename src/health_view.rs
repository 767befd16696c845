//! Presentation of periodic-service health for `/healthz` and the landing page.

use gse_actors::tick::ServiceHealthSnapshot;
use serde_json::json;

/// One service as JSON.
pub fn service_json(service: &ServiceHealthSnapshot) -> serde_json::Value {
    json!({ "name": service.name })
}

/// One service as a line of text.
pub fn service_line(service: &ServiceHealthSnapshot) -> String {
    service.name.clone()
}
