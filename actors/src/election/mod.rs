//! Election: who may scrape which org (the roles a replica holds), and the proof a writer carries.
//!
//! - [`Grant`]: the fencing token of one lease tenure (epoch, lease key, lease value). Every
//!   leader write (metric batch, scrape state, counter deltas) carries the grant its writer was
//!   started with; the store checks it against the **live lease** atomically with the write.
//! - [`LeaderElector`]: the port the RoleManager drives (Redis leases in the main package).
//! - [`assign`]: the balanced org → replica assignment every replica computes alike.
//! - [`tenures`]: the election's decisions as plain data (what a round's outcome means).
//! - [`manager`]: the RoleManager actor, the shell that carries them out.
//! - [`validity`]: a tenure's local validity, judged at read time, and the lease scope work on
//!   behalf of an org runs in.
//! - [`board`]: the roles as readers see them (`/healthz`, `/metrics/replica`), derived from
//!   the validities at the moment they are read.

pub mod assign;
pub mod board;
pub mod fenced_state;
pub mod manager;
pub mod tenures;
#[cfg(test)]
mod tests;
pub mod validity;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;

pub use validity::Validity;

/// Proof of one lease tenure. Cheap to clone.
///
/// `value` is what the lease key holds while this tenure lasts (`epoch|token|identity`); the
/// token is 128 random bits, new per acquisition, so a restarted process with the same identity
/// never inherits its predecessor's lease. `Debug` shows the epoch and key only.
///
/// Every clone shares the tenure's [`Validity`] (set by the RoleManager, judged at read time);
/// equality and hashing ignore it.
#[derive(Clone)]
pub struct Grant {
    /// Issued by one counter for every lease (comparable across orgs).
    pub epoch: u64,
    /// The Redis key of the lease (global or per org).
    pub lease_key: Arc<str>,
    /// The lease key's value while this tenure lasts.
    pub value: Arc<str>,
    /// The tenure's local validity (pending until the RoleManager confirms it).
    pub validity: Validity,
}

impl PartialEq for Grant {
    fn eq(&self, other: &Grant) -> bool {
        self.epoch == other.epoch && self.lease_key == other.lease_key && self.value == other.value
    }
}

impl Eq for Grant {}

impl std::hash::Hash for Grant {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.epoch, &self.lease_key, &self.value).hash(state);
    }
}

impl Grant {
    /// A grant of a freshly acquired lease: its validity is pending until the RoleManager
    /// confirms it.
    pub fn leased(epoch: u64, lease_key: Arc<str>, value: Arc<str>) -> Grant {
        Grant {
            epoch,
            lease_key,
            value,
            validity: Validity::pending(),
        }
    }

    /// A grant with no lease behind it: stores compare only its epoch (the embedded store,
    /// tools and tests). Always valid.
    pub fn epoch_only(epoch: u64) -> Grant {
        Grant {
            epoch,
            lease_key: Arc::from(""),
            value: Arc::from(""),
            validity: Validity::forever(),
        }
    }

    /// Whether the tenure is locally valid now (monotonic clock, read at this call).
    pub fn is_live(&self) -> bool {
        self.validity.is_live()
    }

    /// Whether a lease key backs this grant (else only the epoch is checked).
    pub fn is_leased(&self) -> bool {
        !self.lease_key.is_empty()
    }
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("epoch", &self.epoch)
            .field("lease_key", &self.lease_key)
            .finish_non_exhaustive()
    }
}

/// Called by a writer whose write the store rejected because its grant's lease is no longer
/// live: the RoleManager steps that tenure down. Must not block (it sends a message).
pub type StaleWriteHook = Arc<dyn Fn(Grant) + Send + Sync>;

/// Which lease: the global one (`is_leader`, singleton jobs, every org in `single` mode) or
/// one org's (`per_org` mode).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LeaseScope {
    Global,
    Org(String),
}

/// The answer to an acquisition attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquire {
    /// The lease is ours.
    Acquired(Grant),
    /// Someone holds it: their identity and the time left on the lease (Redis `PTTL`).
    Held { holder: String, ttl: Duration },
}

/// A signal from other replicas that makes waiting candidates retry at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseEvent {
    /// A lease key was released cleanly.
    Released { lease_key: String },
    /// A member left the cluster cleanly.
    Left { identity: String },
}

/// Errors of a [`LeaderElector`].
#[derive(Debug, thiserror::Error)]
pub enum ElectionError {
    /// Another live process announces the same identity (two pods with one hostname, a
    /// copy-pasted `leader_election.identity`): refused, never silently shared.
    #[error("another live process uses the identity {identity:?}; set a unique leader_election.identity")]
    DuplicateIdentity { identity: String },
    /// The backend did not answer within the deadline.
    #[error("{operation} timed out after {timeout:?}")]
    Timeout {
        operation: &'static str,
        timeout: Duration,
    },
    /// Any other backend failure, with its source.
    #[error("{operation} failed on the {backend} elector")]
    Backend {
        backend: &'static str,
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ElectionError {
    /// A short label for `gh_exporter_lease_renew_failures_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            ElectionError::DuplicateIdentity { .. } => "duplicate_identity",
            ElectionError::Timeout { .. } => "timeout",
            ElectionError::Backend { .. } => "backend_error",
        }
    }
}

/// The live cluster as the backend sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Membership {
    /// Identities with a heartbeat within the lease duration, sorted (this replica included).
    pub members: Vec<String>,
    /// Time until the stalest other member drops out unless it beats again (`None`: no
    /// other member): a replica looks again right then, so a vanished member's orgs move
    /// as soon as its leases expire.
    pub next_expiry: Option<Duration>,
}

/// The lease backend the RoleManager drives. Every call has a deadline of at most
/// `min(retry_period, 1s)` and runs on the elector's own connection.
pub trait LeaderElector: Send + Sync + 'static {
    /// Short backend name (`redis`, `static`).
    fn backend(&self) -> &'static str;

    /// This replica's identity.
    fn identity(&self) -> &str;

    /// Tries to take the lease of `scope` (never by force: a held lease is reported as held).
    fn try_acquire(&self, scope: &LeaseScope)
        -> BoxFuture<'static, Result<Acquire, ElectionError>>;

    /// Extends every grant in one call; `result[i]` says whether `grants[i]` is still ours
    /// (false: the lease expired or someone else holds it now).
    fn renew(&self, grants: &[Grant]) -> BoxFuture<'static, Result<Vec<bool>, ElectionError>>;

    /// Gives the grants up (only where the lease still holds our value) and signals waiting
    /// candidates ([`LeaseEvent::Released`]).
    fn release(&self, grants: &[Grant]) -> BoxFuture<'static, Result<(), ElectionError>>;

    /// Announces this replica as a live member (with the fingerprint of its org list) and
    /// returns the live members. Fails with [`ElectionError::DuplicateIdentity`] when another
    /// live process announces the same identity.
    fn heartbeat(&self) -> BoxFuture<'static, Result<Membership, ElectionError>>;

    /// Removes this replica from the members and signals [`LeaseEvent::Left`].
    fn leave(&self) -> BoxFuture<'static, Result<(), ElectionError>>;

    /// Lease events from other replicas. The stream reconnects by itself; it may miss events
    /// while the backend is away (candidates then retry on their own schedule).
    fn events(&self) -> BoxStream<'static, LeaseEvent>;
}
