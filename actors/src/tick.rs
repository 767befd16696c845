//! TEMPORARY stand-in for the periodic-work helper (being written separately).

use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceHealthSnapshot {
    pub name: String,
}

#[derive(Debug, Clone, Default)]
pub struct ServiceHealthRegistry(Arc<Mutex<Vec<ServiceHealthSnapshot>>>);

impl ServiceHealthRegistry {
    pub fn snapshot(&self) -> Vec<ServiceHealthSnapshot> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}
