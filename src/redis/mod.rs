//! The Redis layer every Redis user of the process shares — the metric store
//! ([`crate::store::redis`]), the lease elector ([`crate::election`]), the backfill dedup table
//! and job stash ([`crate::queue`]) — and none of them imports another: where Redis is and how
//! to reach it ([`settings`]: URL, Sentinel, TLS CA), the connections ([`connection`]: the
//! one builder of clients, Sentinel master lookup and re-resolution) and one call with a
//! deadline ([`call`]).

pub mod call;
pub mod connection;
pub mod settings;

pub use call::{with_deadline, CallError};
pub use settings::{RedisSettings, RedisTopology, SentinelAuth};
