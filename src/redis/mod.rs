//! The Redis layer every Redis user of the process shares — the metric store
//! ([`crate::store::redis`]), the lease elector ([`crate::election`]), the backfill dedup table
//! and job stash ([`crate::queue`]) — and none of them imports another: where Redis is and how
//! to reach it ([`settings`]: URL, Sentinel, TLS CA), the connections ([`connection`]: the
//! one builder of clients, Sentinel master lookup and re-resolution), one call with a
//! deadline ([`call`]) and the random tokens stored in Redis values ([`token`]).

pub mod call;
pub mod connection;
pub mod settings;
pub mod token;

pub use call::{with_deadline, CallError};
pub use settings::{RedisSettings, RedisTopology, SentinelAuth};
