//! [`MemoryDedup`]: the in-process dedup lock table, bounded so it cannot grow without limit.
//! Expired keys are pruned on every acquire; at capacity the entry expiring soonest is evicted
//! (a missed dedup costs one redundant, idempotent job — never a lost one).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::{self, BoxFuture, FutureExt as _};
use tokio::time::Instant;

use super::port::{DedupError, DedupLocks};

/// The in-memory [`DedupLocks`], on tokio's clock (tests pause it).
#[derive(Debug, Clone)]
pub struct MemoryDedup {
    inner: Arc<Mutex<Table>>,
}

#[derive(Debug, Default)]
struct Table {
    capacity: usize,
    expiry: HashMap<String, Instant>,
    by_expiry: BTreeSet<(Instant, String)>,
}

impl MemoryDedup {
    /// A table holding at most `capacity` keys.
    pub fn new(capacity: usize) -> MemoryDedup {
        MemoryDedup {
            inner: Arc::new(Mutex::new(Table {
                capacity: capacity.max(1),
                ..Table::default()
            })),
        }
    }

    /// Keys currently stored (expired ones included until pruned).
    pub fn len(&self) -> usize {
        self.lock().expiry.len()
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn held_now(&self, key: &str) -> bool {
        let now = Instant::now();
        self.lock()
            .expiry
            .get(key)
            .is_some_and(|until| *until > now)
    }

    fn take(&self, key: &str, ttl: Duration) {
        let now = Instant::now();
        let mut table = self.lock();
        while let Some(first) = table.by_expiry.first().cloned() {
            if first.0 > now {
                break;
            }
            table.by_expiry.remove(&first);
            table.expiry.remove(&first.1);
        }
        if let Some(old) = table.expiry.remove(key) {
            table.by_expiry.remove(&(old, key.to_string()));
        }
        while table.expiry.len() >= table.capacity {
            let Some(first) = table.by_expiry.pop_first() else {
                break;
            };
            table.expiry.remove(&first.1);
        }
        let until = now + ttl;
        table.expiry.insert(key.to_string(), until);
        table.by_expiry.insert((until, key.to_string()));
    }
}

impl DedupLocks for MemoryDedup {
    fn is_held(&self, key: &str) -> BoxFuture<'static, Result<bool, DedupError>> {
        future::ready(Ok(self.held_now(key))).boxed()
    }

    fn acquire(&self, key: &str, ttl: Duration) -> BoxFuture<'static, Result<(), DedupError>> {
        self.take(key, ttl);
        future::ready(Ok(())).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key is held for its TTL, then free again; the table never exceeds its capacity.
    #[tokio::test(start_paused = true)]
    async fn keys_expire_and_capacity_is_bounded() {
        let table = MemoryDedup::new(2);
        table.acquire("a", Duration::from_secs(10)).await.unwrap();
        assert!(table.is_held("a").await.unwrap());
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(!table.is_held("a").await.unwrap());
        for key in ["b", "c", "d"] {
            table.acquire(key, Duration::from_secs(60)).await.unwrap();
        }
        assert_eq!(table.len(), 2);
        assert!(table.is_held("d").await.unwrap());
    }
}
