//! The in-memory [`ScrapeStateStore`]: the embedded default (and the test double). It lives as
//! long as the process, so a restarted ScrapeActor resumes incrementally; the Redis adapter
//! makes the state survive a leader change across replicas.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::future::{self, BoxFuture, FutureExt};

use super::port::{ScrapeStateStore, StateError, Versioned};

#[derive(Debug, Default, Clone)]
pub struct MemoryStateStore {
    inner: Arc<Mutex<HashMap<String, Versioned>>>,
}

impl MemoryStateStore {
    pub fn new() -> MemoryStateStore {
        MemoryStateStore::default()
    }
}

impl ScrapeStateStore for MemoryStateStore {
    fn get(&self, key: &str) -> BoxFuture<'static, Result<Option<Versioned>, StateError>> {
        // Values are replaced whole, so a poisoned lock still holds consistent data.
        let value = self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned();
        future::ready(Ok(value)).boxed()
    }

    fn put(&self, key: &str, value: Versioned) -> BoxFuture<'static, Result<(), StateError>> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), value);
        future::ready(Ok(())).boxed()
    }
}
