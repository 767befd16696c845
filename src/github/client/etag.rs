//! The ETag cache of one org: the validator and a compact copy of each stable listing page, so
//! a 304 answers from memory. Bounded in entries and bytes; when full it is emptied (every page
//! is re-validated once, and a 200 refills it).

use std::collections::HashMap;

use bytes::Bytes;
use url::Url;

/// What a 304 answers from: the validator, and the page as the scraper reads it — re-encoded
/// from the decoded value, so only the fields we use are kept (a GitHub repository object is
/// kilobytes; what we keep of it is a name, two flags and a date).
pub(super) struct Cached {
    pub(super) etag: String,
    pub(super) compact: Bytes,
    pub(super) next: Option<Url>,
}

/// Remembered pages of one org, bounded in entries and in bytes.
#[derive(Default)]
pub(super) struct EtagCache {
    pages: HashMap<String, Cached>,
    bytes: usize,
}

impl EtagCache {
    /// The remembered page of `key`, if any.
    pub(super) fn get(&self, key: &str) -> Option<&Cached> {
        self.pages.get(key)
    }

    pub(super) fn insert(&mut self, key: String, cached: Cached) {
        let size = key.len() + cached.etag.len() + cached.compact.len();
        if self.pages.len() >= ETAG_CACHE_CAP || self.bytes + size > ETAG_CACHE_MAX_BYTES {
            // Everything is re-validated once (a 200 refills it): simpler than LRU, and rare.
            self.pages.clear();
            self.bytes = 0;
        }
        if let Some(old) = self.pages.insert(key, cached) {
            self.bytes -= old.etag.len() + old.compact.len();
        }
        self.bytes += size;
    }

    pub(super) fn remove(&mut self, key: &str) {
        if let Some(old) = self.pages.remove(key) {
            self.bytes -= key.len() + old.etag.len() + old.compact.len();
        }
    }
}

/// Cap on remembered ETag pages per org (stable listings only).
const ETAG_CACHE_CAP: usize = 4096;
/// Cap on the bytes they hold per org.
const ETAG_CACHE_MAX_BYTES: usize = 4 << 20;
