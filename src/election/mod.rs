//! Leader election backends of [`gse_actors::election::LeaderElector`]: Redis leases (below)
//! and Kubernetes Leases fenced in Redis ([`kubernetes`]).
//!
//! This module owns the election's Redis keys, its Lua scripts and its connections (one
//! multiplexed connection for the calls, one pub/sub connection per event stream — never the
//! metric store's, so lease traffic is never queued behind multi-MB pipelines). The decisions
//! (when to acquire, renew, release, which orgs this replica should hold) belong to the
//! RoleManager in `gse-actors`; the assignment itself is `gse_actors::election::assign`.
//!
//! # Keys (all under `<namespace>:`, see [`LeaseKeys`])
//! - `lease:<lease_name>`: the global lease; `lease:<lease_name>:org:<org>`: one per org.
//!   Value `epoch|token|identity`, `PX lease_duration` (Redis time, never local clocks); the
//!   token is 128 random bits, new per acquisition, so a restarted process with the same
//!   identity never inherits its predecessor's lease.
//! - `lease-seq`: the `INCR` counter issuing every epoch (global and per org alike, so epochs
//!   are comparable across orgs).
//! - `members`: ZSET identity → Redis `TIME` (ms) of its last heartbeat; `members:info`: HASH
//!   identity → `nonce|orgs-fingerprint`. The nonce is random per [`RedisElector`]: a second
//!   live process announcing the same identity gets
//!   [`ElectionError::DuplicateIdentity`](gse_actors::election::ElectionError::DuplicateIdentity).
//!   Members silent for `lease_duration` are dropped by the next heartbeat of anyone.
//! - Pub/sub channel `lease-events`: `released <lease key>` (a clean release) and
//!   `left <identity>` (a clean leave), so waiting candidates retry at once.
//!
//! # Scripts (`scripts/*.lua`, each atomic)
//! `acquire` (GET; held → `{'held', value, PTTL}`; else INCR seq, `SET PX` →
//! `{'ok', epoch, value}`), `renew` (many keys: compare value → PEXPIRE), `release` (many
//! keys: compare value → DEL + PUBLISH), `heartbeat` (duplicate check, ZADD, prune stale),
//! `leave` (ZREM + HDEL + PUBLISH, only if the announced nonce is ours).
//!
//! # Fencing (for the metric store, `src/store/redis/`)
//! A writer carries the [`gse_actors::election::Grant`] of its tenure; the store's commit and
//! state scripts must check `GET grant.lease_key == grant.value` atomically with each write
//! and mutate nothing otherwise. The lease key names above (built by [`LeaseKeys`]) are that
//! contract: a grant's `lease_key` is exactly the key the lease lives in, and its `value` is
//! exactly what the key holds while the tenure lasts.
//!
//! # Deadlines
//! Every call times out after `min(retry_period, 1 s)` with
//! [`ElectionError::Timeout`](gse_actors::election::ElectionError::Timeout); other failures are
//! [`ElectionError::Backend`](gse_actors::election::ElectionError::Backend) with the Redis error as source. The Redis URL is a
//! `SecretString` and never logged.

pub mod kubernetes;
pub mod redis;

pub use self::kubernetes::{KubeElector, KubeSettings, KubeSetupError};
pub use self::redis::{ElectorSettings, ElectorSetupError, LeaseKeys, RedisElector};
