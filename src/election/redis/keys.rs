//! The election's Redis key names, all under `<namespace>:` ([`LeaseKeys`]).

use gse_actors::election::LeaseScope;

/// The Redis key names of the election, all under `<namespace>:`.
///
/// The metric store's fencing compares `GET grant.lease_key` with `grant.value`, so these
/// names are a contract with `src/store/redis/`.
#[derive(Debug, Clone)]
pub struct LeaseKeys {
    prefix: String,
    lease_name: String,
}

impl LeaseKeys {
    pub fn new(namespace: &str, lease_name: &str) -> LeaseKeys {
        LeaseKeys {
            prefix: format!("{namespace}:"),
            lease_name: lease_name.to_string(),
        }
    }

    /// STRING `epoch|token|identity`, `PX lease_duration`: `<ns>:lease:<lease_name>`.
    pub fn global(&self) -> String {
        format!("{}lease:{}", self.prefix, self.lease_name)
    }
    /// STRING, as [`LeaseKeys::global`], one per org: `<ns>:lease:<lease_name>:org:<org>`.
    pub fn org(&self, org: &str) -> String {
        format!("{}lease:{}:org:{org}", self.prefix, self.lease_name)
    }
    /// The lease key of `scope`.
    pub fn scope(&self, scope: &LeaseScope) -> String {
        match scope {
            LeaseScope::Global => self.global(),
            LeaseScope::Org(org) => self.org(org),
        }
    }
    /// STRING counter (`INCR`) issuing every epoch: `<ns>:lease-seq`.
    pub fn seq(&self) -> String {
        format!("{}lease-seq", self.prefix)
    }
    /// ZSET identity → Redis `TIME` (ms) of its last heartbeat: `<ns>:members`.
    pub fn members(&self) -> String {
        format!("{}members", self.prefix)
    }
    /// HASH identity → `nonce|orgs-fingerprint`: `<ns>:members:info`.
    pub fn members_info(&self) -> String {
        format!("{}members:info", self.prefix)
    }
    /// Pub/sub channel of `released <lease key>` and `left <identity>`: `<ns>:lease-events`.
    pub fn channel(&self) -> String {
        format!("{}lease-events", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_documented_names() {
        let keys = LeaseKeys::new("ns", "gse");
        assert_eq!(keys.global(), "ns:lease:gse");
        assert_eq!(keys.org("acme"), "ns:lease:gse:org:acme");
        assert_eq!(
            keys.scope(&LeaseScope::Org("a".into())),
            "ns:lease:gse:org:a"
        );
        assert_eq!(keys.seq(), "ns:lease-seq");
        assert_eq!(keys.members(), "ns:members");
        assert_eq!(keys.members_info(), "ns:members:info");
        assert_eq!(keys.channel(), "ns:lease-events");
    }
}
