//! Caches of snapshots and rendered pages, so the hot path of a request is a lookup.
//!
//! Each repository has one slot holding the snapshot for the current interval of its life in
//! which nothing happens. A request at an instant inside that interval reuses it and its rendered
//! pages; otherwise a new snapshot is built outside any lock and swapped in. Rendering (JSON
//! encoding) always happens outside the locks; the locks only guard `Arc` swaps and map lookups.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use actix_web::web::Bytes;

use crate::snapshot::{self, ContributorWeeks, RepoSnapshot};
use crate::world::World;

/// A rendered page of a list (or a single object): body, its ETag and the page count.
#[derive(Debug)]
pub struct Page {
    pub body: Bytes,
    pub etag: String,
    /// Number of pages of the whole list (1 for a single object).
    pub last_page: u32,
}

impl Page {
    pub fn new(body: Vec<u8>, last_page: u32) -> Page {
        let etag = etag_of(&body);
        Page {
            body: Bytes::from(body),
            etag,
            last_page,
        }
    }
}

/// A weak ETag over the body bytes, in GitHub's `W/"…"` form.
pub fn etag_of(body: &[u8]) -> String {
    // FNV-1a 64 twice with different offsets: stable, fast, and enough to tell bodies apart.
    let fnv = |basis: u64| {
        body.iter().fold(basis, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01B3)
        })
    };
    format!(
        "W/\"{:016x}{:016x}\"",
        fnv(0xCBF2_9CE4_8422_2325),
        fnv(0x8422_2325_CBF2_9CE4)
    )
}

/// Rendered pages keyed by endpoint and normalised query. Bounded: cleared when full, since the
/// keys of a real-clock client (e.g. `since=now-24h`) change on every request.
#[derive(Debug, Default)]
pub struct PageCache {
    pages: Mutex<HashMap<String, Arc<Page>>>,
}

/// A page of 100 pull requests is about 1 MB (each embeds its head and base repository), so
/// the cap keeps a repository's cache in the tens of MB at worst.
const PAGE_CACHE_CAP: usize = 64;

impl PageCache {
    pub fn get_or_render(&self, key: String, render: impl FnOnce() -> Page) -> Arc<Page> {
        if let Some(p) = lock(&self.pages).get(&key) {
            return p.clone();
        }
        let page = Arc::new(render());
        let mut pages = lock(&self.pages);
        if pages.len() >= PAGE_CACHE_CAP {
            pages.clear();
        }
        pages.insert(key, page.clone());
        page
    }
}

/// A repository snapshot with its page cache and lazily computed contributor stats.
#[derive(Debug)]
pub struct CachedRepo {
    pub snap: RepoSnapshot,
    pub pages: PageCache,
    stats: OnceLock<Vec<ContributorWeeks>>,
}

impl CachedRepo {
    pub fn stats(&self, world: &World) -> &[ContributorWeeks] {
        self.stats
            .get_or_init(|| snapshot::contributor_stats(world, &self.snap))
    }

    fn covers(&self, at: f64) -> bool {
        self.snap.valid_from <= at && at < self.snap.valid_until
    }
}

/// Pages of an organization-wide list, valid while none of its repositories changes.
#[derive(Debug)]
pub struct CachedOrg {
    pub repos: Vec<Arc<CachedRepo>>,
    pub pages: PageCache,
    valid_from: f64,
    valid_until: f64,
}

#[derive(Debug)]
pub struct Store {
    pub world: Arc<World>,
    history_weeks: u32,
    repos: Vec<RwLock<Option<Arc<CachedRepo>>>>,
    orgs: Vec<RwLock<Option<Arc<CachedOrg>>>>,
}

impl Store {
    pub fn new(world: Arc<World>, history_weeks: u32) -> Store {
        let repos = (0..world.repos.len()).map(|_| RwLock::new(None)).collect();
        let orgs = (0..world.orgs.len()).map(|_| RwLock::new(None)).collect();
        Store {
            world,
            history_weeks,
            repos,
            orgs,
        }
    }

    /// The snapshot of repository `gid` at `at`, from the cache when it covers `at`.
    pub fn repo(&self, gid: usize, at: f64) -> Arc<CachedRepo> {
        if let Some(c) = read(&self.repos[gid]).as_ref() {
            if c.covers(at) {
                return c.clone();
            }
        }
        let fresh = Arc::new(CachedRepo {
            snap: snapshot::build(&self.world, gid, at, self.history_weeks),
            pages: PageCache::default(),
            stats: OnceLock::new(),
        });
        *write(&self.repos[gid]) = Some(fresh.clone());
        fresh
    }

    /// All repositories of org `idx` at `at`, with a page cache for org-wide lists.
    pub fn org(&self, idx: usize, at: f64) -> Arc<CachedOrg> {
        if let Some(c) = read(&self.orgs[idx]).as_ref() {
            if c.valid_from <= at && at < c.valid_until {
                return c.clone();
            }
        }
        let repos: Vec<Arc<CachedRepo>> = self.world.orgs[idx]
            .repos
            .iter()
            .map(|gid| self.repo(*gid, at))
            .collect();
        let valid_from = repos
            .iter()
            .map(|r| r.snap.valid_from)
            .fold(f64::MIN, f64::max);
        let valid_until = repos
            .iter()
            .map(|r| r.snap.valid_until)
            .fold(f64::MAX, f64::min);
        let fresh = Arc::new(CachedOrg {
            repos,
            pages: PageCache::default(),
            valid_from,
            valid_until,
        });
        *write(&self.orgs[idx]) = Some(fresh.clone());
        fresh
    }

    pub fn history_weeks(&self) -> u32 {
        self.history_weeks
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded maps stay consistent even if a holder panicked: every update is a single insert.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

impl Store {
    /// The snapshot at `at` without replacing the cached one (for truth at arbitrary instants).
    pub fn snapshot_at(&self, gid: usize, at: f64) -> Arc<CachedRepo> {
        if let Some(c) = read(&self.repos[gid]).as_ref() {
            if c.covers(at) {
                return c.clone();
            }
        }
        Arc::new(CachedRepo {
            snap: snapshot::build(&self.world, gid, at, self.history_weeks),
            pages: PageCache::default(),
            stats: OnceLock::new(),
        })
    }
}
