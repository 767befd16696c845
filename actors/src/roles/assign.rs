//! The balanced org → replica assignment every replica computes alike from the live members:
//! rendezvous hashing with quotas (spread ≤ 1). See `reference/leader-election.md`.
