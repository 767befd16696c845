//! [`FencedState`]: the scrape-state store as one scraper sees it — every write carries the
//! scraper's [`Grant`], and a write the backend rejects as stale tells the RoleManager (through
//! the [`StaleWriteHook`]) so the tenure steps down.

use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};

use super::{Grant, StaleWriteHook};
use crate::scrape::port::{ScrapeStateStore, StateError, Versioned};

/// A [`ScrapeStateStore`] whose `put`s are fenced by one grant.
pub struct FencedState {
    inner: Arc<dyn ScrapeStateStore>,
    grant: Option<Grant>,
    on_stale: Option<StaleWriteHook>,
}

impl FencedState {
    /// Writes through `inner` under `grant` (`None`: unfenced, the static leader).
    pub fn new(
        inner: Arc<dyn ScrapeStateStore>,
        grant: Option<Grant>,
        on_stale: Option<StaleWriteHook>,
    ) -> FencedState {
        FencedState {
            inner,
            grant,
            on_stale,
        }
    }
}

impl ScrapeStateStore for FencedState {
    fn get(&self, key: &str) -> BoxFuture<'static, Result<Option<Versioned>, StateError>> {
        self.inner.get(key)
    }

    fn put(&self, key: &str, value: Versioned) -> BoxFuture<'static, Result<(), StateError>> {
        let Some(grant) = self.grant.clone() else {
            return self.inner.put(key, value);
        };
        let write = self.inner.put_fenced(key, value, &grant);
        let on_stale = self.on_stale.clone();
        async move {
            let result = write.await;
            if let (Err(error), Some(hook)) = (&result, on_stale) {
                if error.is_stale_lease() {
                    hook(grant);
                }
            }
            result
        }
        .boxed()
    }

    fn put_fenced(
        &self,
        key: &str,
        value: Versioned,
        grant: &Grant,
    ) -> BoxFuture<'static, Result<(), StateError>> {
        self.inner.put_fenced(key, value, grant)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::scrape::port::StaleLease;

    /// Rejects every fenced write; records unfenced ones.
    #[derive(Default)]
    struct Rejecting(Mutex<Vec<String>>);

    impl ScrapeStateStore for Rejecting {
        fn get(&self, _: &str) -> BoxFuture<'static, Result<Option<Versioned>, StateError>> {
            futures::future::ready(Ok(None)).boxed()
        }
        fn put(&self, key: &str, _: Versioned) -> BoxFuture<'static, Result<(), StateError>> {
            self.0.lock().unwrap().push(format!("put {key}"));
            futures::future::ready(Ok(())).boxed()
        }
        fn put_fenced(
            &self,
            key: &str,
            _: Versioned,
            grant: &Grant,
        ) -> BoxFuture<'static, Result<(), StateError>> {
            self.0.lock().unwrap().push(format!("fenced {key}"));
            futures::future::ready(Err(StateError {
                backend: "test",
                operation: "put",
                source: Box::new(StaleLease { epoch: grant.epoch }),
            }))
            .boxed()
        }
    }

    fn value() -> Versioned {
        Versioned {
            version: 1,
            bytes: vec![1],
        }
    }

    #[tokio::test]
    async fn a_rejected_fenced_write_calls_the_hook_with_its_grant() {
        let inner = Arc::new(Rejecting::default());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let hook: StaleWriteHook = {
            let seen = seen.clone();
            Arc::new(move |g: Grant| seen.lock().unwrap().push(g.epoch))
        };
        let fenced = FencedState::new(inner.clone(), Some(Grant::epoch_only(7)), Some(hook));
        let error = fenced.put("k", value()).await.unwrap_err();
        assert!(error.is_stale_lease());
        assert_eq!(*seen.lock().unwrap(), vec![7]);
        let unfenced = FencedState::new(inner.clone(), None, None);
        unfenced.put("k", value()).await.unwrap();
        assert_eq!(*inner.0.lock().unwrap(), vec!["fenced k", "put k"]);
    }
}
