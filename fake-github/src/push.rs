//! When each direct commit reaches the default branch: its push time.
//!
//! On GitHub a commit appears when it is pushed, which is often well after its committer date
//! (commit at 10:00, push at 12:00: the commit keeps committer date 10:00). Most direct commits
//! here are pushed within [`PROMPT_MAX`] seconds of their committer date; about 15 % are pushed
//! [`LATE_MIN`]..=[`LATE_MAX`] seconds later. In a busy repository every period of
//! [`GUARANTEE_HOURS`] hours (phase per repository) that has direct commits holds at least one
//! late push: when chance gave none, one of the period's commits (picked from the seed) is pushed
//! late. Busy repositories use a lower random share ([`BUSY_RANDOM_LATE_SHARE`]) so that their
//! total stays about 15 %.
//!
//! Push delays come from their own random streams, so adding them left every other generated
//! value (identities, author and committer dates, sizes, shas) as it was.

use crate::activity;
use crate::hash::{hash, Rng};
use crate::timefmt::HOUR;
use crate::world::{Profile, Repo, World};

/// Share of direct commits pushed late outside busy repositories.
pub const LATE_SHARE: f64 = 0.15;
/// Random late share in busy repositories; with the forced late pushes the total is ≈ 15 %.
pub const BUSY_RANDOM_LATE_SHARE: f64 = 0.12;
/// A prompt push happens 0..=`PROMPT_MAX` seconds after the committer date.
pub const PROMPT_MAX: i64 = 120;
/// A late push happens `LATE_MIN..=LATE_MAX` seconds after the committer date (10 min to 6 h).
pub const LATE_MIN: i64 = 600;
pub const LATE_MAX: i64 = 6 * HOUR;
/// A busy repository has at least one late push in every period of this many hours that has
/// direct commits.
pub const GUARANTEE_HOURS: i64 = 6;

/// Push delays (seconds after the committer date) of the direct commits of hour `bucket` of
/// `repo`, in generation order ([`activity::commit_count`] of them).
pub fn delays(world: &World, repo: &Repo, bucket: i64) -> Vec<i64> {
    let mut out = random_delays(world, repo, bucket);
    // Only a bucket with commits, none of them late by chance, can hold the forced late push.
    if repo.profile == Profile::Busy && !out.is_empty() && !out.iter().any(|d| is_late(*d)) {
        if let Some(forced) = forced_late(world, repo, period_of(world, repo, bucket)) {
            if forced.bucket == bucket {
                if let Some(d) = out.get_mut(forced.index) {
                    *d = forced.delay;
                }
            }
        }
    }
    out
}

/// Whether a delay is a late push.
pub fn is_late(delay: i64) -> bool {
    delay >= LATE_MIN
}

/// The guarantee period (of a busy repository) that hour `bucket` belongs to.
pub fn period_of(world: &World, repo: &Repo, bucket: i64) -> i64 {
    (bucket + phase(world, repo)).div_euclid(GUARANTEE_HOURS)
}

/// The hours (buckets) of guarantee period `period` of `repo`.
pub fn period_buckets(world: &World, repo: &Repo, period: i64) -> std::ops::Range<i64> {
    let first = period * GUARANTEE_HOURS - phase(world, repo);
    first..first + GUARANTEE_HOURS
}

fn phase(world: &World, repo: &Repo) -> i64 {
    (hash(&[world.seed, 104, repo.gid as u64]) % GUARANTEE_HOURS as u64) as i64
}

fn random_delays(world: &World, repo: &Repo, bucket: i64) -> Vec<i64> {
    let n = activity::commit_count(world, repo, bucket);
    let share = if repo.profile == Profile::Busy {
        BUSY_RANDOM_LATE_SHARE
    } else {
        LATE_SHARE
    };
    let mut rng = Rng::new(&[world.seed, 102, repo.gid as u64, bucket as u64]);
    (0..n)
        .map(|_| {
            let late = rng.chance(share);
            let prompt = rng.range(0, PROMPT_MAX);
            let delay = rng.range(LATE_MIN, LATE_MAX);
            if late {
                delay
            } else {
                prompt
            }
        })
        .collect()
}

/// The commit of a period pushed late because chance pushed none of them late.
struct Forced {
    bucket: i64,
    index: usize,
    delay: i64,
}

fn forced_late(world: &World, repo: &Repo, period: i64) -> Option<Forced> {
    let mut counts = Vec::new();
    for b in period_buckets(world, repo, period) {
        let d = random_delays(world, repo, b);
        if d.iter().any(|d| is_late(*d)) {
            return None;
        }
        counts.push((b, d.len()));
    }
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    let mut rng = Rng::new(&[world.seed, 103, repo.gid as u64, period as u64]);
    let mut k = rng.range(0, total as i64 - 1) as usize;
    let delay = rng.range(LATE_MIN, LATE_MAX);
    for (bucket, n) in counts {
        if k < n {
            return Some(Forced {
                bucket,
                index: k,
                delay,
            });
        }
        k -= n;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FakeConfig;

    fn world(seed: u64) -> World {
        World::generate(&FakeConfig {
            seed,
            orgs: 2,
            repos: 12,
            users: 10,
            ..FakeConfig::default()
        })
    }

    /// Buckets of three weeks.
    const FIRST: i64 = 1_700_000_000 / HOUR;
    const HOURS: i64 = 21 * 24;

    #[test]
    fn about_fifteen_percent_of_direct_commits_are_pushed_late() {
        let (mut all, mut late, mut busy_all, mut busy_late) = (0usize, 0usize, 0usize, 0usize);
        for seed in [1, 7, 42] {
            let w = world(seed);
            for repo in &w.repos {
                for b in FIRST..FIRST + HOURS {
                    let d = delays(&w, repo, b);
                    assert_eq!(d.len() as u32, activity::commit_count(&w, repo, b));
                    for x in d {
                        assert!(
                            (0..=PROMPT_MAX).contains(&x) || (LATE_MIN..=LATE_MAX).contains(&x)
                        );
                        all += 1;
                        late += usize::from(is_late(x));
                        if repo.profile == Profile::Busy {
                            busy_all += 1;
                            busy_late += usize::from(is_late(x));
                        }
                    }
                }
            }
        }
        let share = late as f64 / all as f64;
        let busy_share = busy_late as f64 / busy_all as f64;
        assert!(all > 10_000, "{all} commits");
        assert!((0.13..=0.17).contains(&share), "late share {share}");
        assert!(
            (0.13..=0.17).contains(&busy_share),
            "busy late share {busy_share}"
        );
    }

    #[test]
    fn every_period_of_a_busy_repository_with_commits_has_a_late_push() {
        for seed in [1, 7, 42, 99] {
            let w = world(seed);
            let busy: Vec<&Repo> = w
                .repos
                .iter()
                .filter(|r| r.profile == Profile::Busy)
                .collect();
            assert!(!busy.is_empty());
            for repo in busy {
                let (p0, p1) = (
                    period_of(&w, repo, FIRST),
                    period_of(&w, repo, FIRST + HOURS),
                );
                for p in p0..p1 {
                    let delays: Vec<i64> = period_buckets(&w, repo, p)
                        .flat_map(|b| delays(&w, repo, b))
                        .collect();
                    assert!(
                        delays.is_empty() || delays.iter().any(|d| is_late(*d)),
                        "seed {seed}, {} period {p}: {delays:?}",
                        repo.name
                    );
                }
            }
        }
    }

    #[test]
    fn periods_tile_the_hours() {
        let w = world(7);
        let repo = &w.repos[0];
        for b in FIRST..FIRST + 48 {
            assert!(period_buckets(&w, repo, period_of(&w, repo, b)).contains(&b));
        }
    }
}
