//! What a Kubernetes Lease says, judged the skew-tolerant way, and the names of this election's
//! Lease objects. Plain data: no client, no clock of its own.
//!
//! A candidate never compares a Lease's `renewTime` with its own wall clock. It notes when it
//! **itself** saw the Lease's `resourceVersion` change ([`Observations`], monotonic clock), and
//! considers the Lease expired only after the Lease's `leaseDurationSeconds` of its own time
//! without a change. A holder that renews changes `renewTime`, so the version moves at every
//! renewal; a replica whose clock is an hour off judges exactly as one whose clock is right.

use std::collections::HashMap;
use std::time::Duration;

use gse_actors::election::assign::stable_hash;
use tokio::time::Instant;

/// The parts of a Lease the election reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `spec.holderIdentity`; `None` or empty: free (released).
    pub holder: Option<String>,
    /// `spec.leaseDurationSeconds`.
    pub duration: Duration,
    /// `spec.leaseTransitions`: the epoch of the current tenure.
    pub transitions: u64,
    /// `metadata.resourceVersion`: changes at every write.
    pub resource_version: String,
    /// The tenure's token (annotation), new per acquisition.
    pub token: Option<String>,
}

impl Record {
    /// The holder, if any (an empty identity is no holder).
    pub fn holder(&self) -> Option<&str> {
        self.holder.as_deref().filter(|h| !h.is_empty())
    }
}

/// How a candidate judges a Lease at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// No holder: released, or never held.
    Free,
    /// Held, but unchanged for its whole duration on this replica's clock.
    Expired { holder: String },
    /// Held by `holder`; expires in `ttl` unless it changes.
    Held { holder: String, ttl: Duration },
}

#[derive(Debug, Clone)]
struct Observed {
    resource_version: String,
    seen_at: Instant,
}

/// When this replica last saw each Lease change (monotonic). A Lease seen for the first time
/// counts as changed now.
#[derive(Debug, Default)]
pub struct Observations {
    by_name: HashMap<String, Observed>,
}

impl Observations {
    /// Notes `version` of Lease `name` seen at `now`; returns how long it has been unchanged.
    pub fn note(&mut self, name: &str, version: &str, now: Instant) -> Duration {
        let observed = self
            .by_name
            .entry(name.to_string())
            .or_insert_with(|| Observed {
                resource_version: version.to_string(),
                seen_at: now,
            });
        if observed.resource_version != version {
            observed.resource_version = version.to_string();
            observed.seen_at = now;
        }
        now.saturating_duration_since(observed.seen_at)
    }

    /// Notes `record` of Lease `name` seen at `now` and judges it.
    pub fn judge(&mut self, name: &str, record: &Record, now: Instant) -> Judgement {
        let unchanged = self.note(name, &record.resource_version, now);
        let Some(holder) = record.holder() else {
            return Judgement::Free;
        };
        let holder = holder.to_string();
        if unchanged >= record.duration {
            Judgement::Expired { holder }
        } else {
            Judgement::Held {
                holder,
                ttl: record.duration - unchanged,
            }
        }
    }

    /// Forgets Leases not in `names` (members that left, orgs no longer configured).
    pub fn retain(&mut self, names: &dyn Fn(&str) -> bool) {
        self.by_name.retain(|name, _| names(name));
    }
}

/// Most characters of a Kubernetes object name (DNS-1123 subdomain).
const MAX_NAME: usize = 253;

/// A DNS-1123 name part for `text`: lowercase letters, digits and `-`; any other character
/// becomes `-`. When that changed anything (or the result is too long), a hash of the original
/// is appended, so two identities never share a name.
pub fn name_part(text: &str, room: usize) -> String {
    let mut part: String = text
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-') => c,
            _ => '-',
        })
        .collect();
    let exact = part == text && part.len() <= room;
    if !exact {
        let hash = format!("{:08x}", stable_hash(&[text]) as u32);
        part.truncate(room.saturating_sub(hash.len() + 1));
        part = format!("{part}-{hash}");
    }
    part.trim_matches('-').to_string()
}

/// The names of this election's Lease objects.
#[derive(Debug, Clone)]
pub struct LeaseNames {
    lease_name: String,
}

impl LeaseNames {
    pub fn new(lease_name: &str) -> LeaseNames {
        LeaseNames {
            lease_name: lease_name.to_string(),
        }
    }

    /// The global Lease: `<lease_name>`.
    pub fn global(&self) -> String {
        self.lease_name.clone()
    }

    /// One org's Lease: `<lease_name>-<org>`.
    pub fn org(&self, org: &str) -> String {
        let room = MAX_NAME - self.lease_name.len() - 1;
        format!("{}-{}", self.lease_name, name_part(org, room))
    }

    /// A member's Lease: `<lease_name>-member-<identity>`.
    pub fn member(&self, identity: &str) -> String {
        let room = MAX_NAME - self.lease_name.len() - 8;
        format!("{}-member-{}", self.lease_name, name_part(identity, room))
    }

    /// The label every Lease of this election carries (`key`, `value`), for listing and
    /// watching them.
    pub fn election_label(&self) -> (&'static str, String) {
        (ELECTION_LABEL, self.lease_name.clone())
    }
}

/// Label naming the election a Lease belongs to (its `lease_name`).
pub const ELECTION_LABEL: &str = "github-stats-exporter.io/election";
/// Label saying what a Lease is for: [`KIND_LOCK`] or [`KIND_MEMBER`].
pub const KIND_LABEL: &str = "github-stats-exporter.io/lease-kind";
pub const KIND_LOCK: &str = "lock";
pub const KIND_MEMBER: &str = "member";
/// Annotation holding the tenure's token (lock) or the process's nonce (member).
pub const TOKEN_ANNOTATION: &str = "github-stats-exporter.io/token";
/// Annotation holding the configured orgs' fingerprint (member).
pub const ORGS_ANNOTATION: &str = "github-stats-exporter.io/orgs";

#[cfg(test)]
mod tests {
    use super::*;

    fn record(holder: Option<&str>, version: &str) -> Record {
        Record {
            holder: holder.map(str::to_string),
            duration: Duration::from_secs(15),
            transitions: 3,
            resource_version: version.to_string(),
            token: None,
        }
    }

    #[test]
    fn expiry_is_judged_on_the_observers_clock_only() {
        let t0 = Instant::now();
        let mut seen = Observations::default();
        let s = Duration::from_secs;
        // First sight: counts as changed now, whatever renewTime says.
        assert_eq!(
            seen.judge("l", &record(Some("a"), "1"), t0),
            Judgement::Held {
                holder: "a".into(),
                ttl: s(15)
            }
        );
        // Renewed (new version): the count starts again.
        assert_eq!(
            seen.judge("l", &record(Some("a"), "2"), t0 + s(10)),
            Judgement::Held {
                holder: "a".into(),
                ttl: s(15)
            }
        );
        assert_eq!(
            seen.judge("l", &record(Some("a"), "2"), t0 + s(24)),
            Judgement::Held {
                holder: "a".into(),
                ttl: s(1)
            }
        );
        assert_eq!(
            seen.judge("l", &record(Some("a"), "2"), t0 + s(25)),
            Judgement::Expired { holder: "a".into() }
        );
        assert_eq!(
            seen.judge("l", &record(None, "3"), t0 + s(26)),
            Judgement::Free
        );
        assert_eq!(
            seen.judge("l", &record(Some(""), "4"), t0 + s(26)),
            Judgement::Free
        );
    }

    #[test]
    fn names_are_valid_and_distinct() {
        let names = LeaseNames::new("gse");
        assert_eq!(names.global(), "gse");
        assert_eq!(names.org("acme-corp"), "gse-acme-corp");
        assert_ne!(
            names.org("Acme"),
            names.org("acme"),
            "case differs: a hash tells them apart"
        );
        assert!(names.org("Acme").starts_with("gse-acme-"));
        assert_eq!(names.member("pod-1"), "gse-member-pod-1");
        let odd = names.member("Host_Name.example:1");
        assert!(odd.starts_with("gse-member-host-name-example-1-"), "{odd}");
        let long = names.member(&"x".repeat(400));
        assert!(long.len() <= MAX_NAME, "{}", long.len());
        for name in [odd, long, names.org("Acme")] {
            assert!(name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
            assert!(!name.ends_with('-'));
        }
    }
}
