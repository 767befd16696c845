//! The balanced org → replica assignment every replica computes alike from the live members:
//! rendezvous hashing with quotas (spread ≤ 1). See `reference/leader-election.md`.

use std::collections::BTreeMap;

/// Placeholder until the rendezvous assignment lands: round-robin over sorted inputs.
pub fn assign(
    orgs: &[String],
    members: &[String],
    max_per_member: usize,
) -> BTreeMap<String, String> {
    let mut orgs: Vec<String> = orgs.to_vec();
    orgs.sort();
    orgs.dedup();
    let mut members: Vec<String> = members.to_vec();
    members.sort();
    members.dedup();
    let mut out = BTreeMap::new();
    if members.is_empty() {
        return out;
    }
    let mut counts = vec![0usize; members.len()];
    for (i, org) in orgs.into_iter().enumerate() {
        let m = i % members.len();
        if max_per_member == 0 || counts[m] < max_per_member {
            counts[m] += 1;
            out.insert(org, members[m].clone());
        }
    }
    out
}
