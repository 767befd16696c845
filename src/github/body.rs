//! Reading a GitHub response body under a size cap, checked while it streams: a server (or a
//! proxy) that sends an endless or huge body costs at most the cap in memory, never the whole
//! body, and the call fails with an error naming the limit. An [`InFlightBudget`] shared by
//! every client of the process bounds the bytes of all bodies being read at once, so many
//! concurrent huge answers cannot add up either.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body (or its announced `content-length`) is longer than `limit` bytes.
    #[error("response body exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// The bodies being read at once already use the whole in-flight budget (worth a retry).
    #[error("response bodies being read exceed the in-flight budget of {budget} bytes")]
    Busy { budget: u64 },
    /// The connection failed or timed out mid-body.
    #[error("reading the response body")]
    Read(#[source] reqwest::Error),
}

/// Bytes of response bodies that may be buffered at once, across every client sharing it.
/// A read that would pass it fails at once (never waits: readers holding part of the budget
/// while waiting for more could block each other until their timeouts).
#[derive(Debug, Clone)]
pub struct InFlightBudget {
    permits: Arc<Semaphore>,
    bytes: u64,
}

impl InFlightBudget {
    pub fn new(bytes: u64) -> InFlightBudget {
        let bytes = bytes.min(Semaphore::MAX_PERMITS as u64);
        InFlightBudget {
            permits: Arc::new(Semaphore::new(usize::try_from(bytes).unwrap_or(0))),
            bytes,
        }
    }

    /// The budget's size in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Bytes not in use right now.
    pub fn available(&self) -> u64 {
        self.permits.available_permits() as u64
    }
}

/// Reads `response`'s body, failing as soon as it grows past `limit` bytes or past what is
/// left of `budget`. The budget is held only while the body streams.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: u64,
    budget: Option<&InFlightBudget>,
) -> Result<Bytes, BodyError> {
    if response.content_length().is_some_and(|len| len > limit) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut held: Option<OwnedSemaphorePermit> = None;
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut len: u64 = 0;
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        len = len.saturating_add(chunk.len() as u64);
        if len > limit {
            return Err(BodyError::TooLarge { limit });
        }
        if let Some(budget) = budget {
            let n = u32::try_from(chunk.len()).map_err(|_| BodyError::TooLarge { limit })?;
            let permit = budget
                .permits
                .clone()
                .try_acquire_many_owned(n)
                .map_err(|_| BodyError::Busy {
                    budget: budget.bytes,
                })?;
            match held.as_mut() {
                Some(h) => h.merge(permit),
                None => held = Some(permit),
            }
        }
        chunks.push(chunk);
    }
    // Chunks kept as received, then copied once at their exact total size: no buffer
    // doubling past the limit while the body streams.
    if chunks.len() == 1 {
        return Ok(chunks.pop().unwrap_or_default());
    }
    let mut body = BytesMut::with_capacity(usize::try_from(len).unwrap_or(0));
    for chunk in &chunks {
        body.extend_from_slice(chunk);
    }
    drop(held);
    Ok(body.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budget never exceeds what a semaphore can count, and starts whole.
    #[test]
    fn budget_starts_whole() {
        let b = InFlightBudget::new(64 << 20);
        assert_eq!(b.bytes(), 64 << 20);
        assert_eq!(b.available(), 64 << 20);
        assert_eq!(
            InFlightBudget::new(u64::MAX).bytes(),
            Semaphore::MAX_PERMITS as u64
        );
    }
}
