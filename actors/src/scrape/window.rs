//! Pure window arithmetic: the exact rolling 24 h window `[now − 24 h, now]` (inclusive at
//! both ends, event times in whole seconds), the latest complete stats week, and the activity
//! samples of one repository computed from its event log.

use std::collections::BTreeMap;

use super::log::{Ev, RepoLog};
use crate::metrics::activity;
use crate::ports::Sample;

pub const WINDOW_SECS: f64 = 86_400.0;
pub const WEEK_SECS: i64 = 7 * 86_400;

/// Whether an event at second `t` is in the window ending at `now`.
pub fn in_window(t: i64, now: f64) -> bool {
    let t = t as f64;
    now - WINDOW_SECS <= t && t <= now
}

/// The last whole second not after `now`: every event `t <= now` has `t <= until_secs(now)`.
pub fn until_secs(now: f64) -> i64 {
    now.floor() as i64
}

/// The first second that can hold an event of the window ending at `now` (rounded down, so a
/// `since` query never misses one; the exact filter is [`in_window`]).
pub fn window_start_secs(now: f64) -> i64 {
    (now - WINDOW_SECS).floor() as i64
}

/// Start (Sunday 00:00 UTC) of the week containing `secs`, as `stats/contributors` counts.
pub fn week_start(secs: i64) -> i64 {
    let days = secs.div_euclid(86_400);
    // 1970-01-01 was a Thursday: the Sunday-based weekday is (days + 4) mod 7.
    (days - (days + 4).rem_euclid(7)) * 86_400
}

/// Start of the latest complete week at `now`: `[W, W + 7 d)` with `W + 7 d <= now`.
pub fn latest_complete_week(now: f64) -> i64 {
    week_start(now.floor() as i64) - WEEK_SECS
}

/// Per-user counts of one repository: commits, opened, merged, reviews, comments, last event.
type Counts = [i64; 6];

/// The `gh_activity_*_24h` and `gh_activity_last_event_unixtime` samples of one repository at
/// `now`: only users with at least one event in the window, so a series whose events left the
/// window disappears.
pub fn activity_samples<'a>(
    org: &str,
    repo: &str,
    log: &'a RepoLog,
    now: f64,
    exclude_bots: bool,
) -> Vec<Sample> {
    let mut per_user: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut add = |e: &'a Ev, slot: usize| {
        if (exclude_bots && e.bot) || !in_window(e.t, now) {
            return;
        }
        let counts = per_user
            .entry(e.user.as_str())
            .or_insert([0, 0, 0, 0, 0, -1]);
        counts[slot] += 1;
        counts[5] = counts[5].max(e.t);
    };
    log.commits.values().for_each(|e| add(e, 0));
    log.opened.values().for_each(|e| add(e, 1));
    log.merged.values().for_each(|e| add(e, 2));
    log.reviews.values().for_each(|e| add(e, 3));
    log.comments.values().for_each(|e| add(e, 4));
    const NAMES: [&str; 5] = [
        activity::COMMITS_24H.name,
        activity::PRS_OPENED_24H.name,
        activity::PRS_MERGED_24H.name,
        activity::REVIEWS_SUBMITTED_24H.name,
        activity::ISSUE_COMMENTS_24H.name,
    ];
    let mut out = Vec::new();
    for (user, counts) in per_user {
        for (slot, name) in NAMES.iter().enumerate() {
            if counts[slot] > 0 {
                out.push(activity_sample(name, org, repo, user, counts[slot] as f64));
            }
        }
        out.push(activity_sample(
            activity::LAST_EVENT_UNIXTIME.name,
            org,
            repo,
            user,
            counts[5] as f64,
        ));
    }
    out
}

/// A `{org, repo, user}` sample (labels sorted by name, as the store expects).
pub fn activity_sample(metric: &str, org: &str, repo: &str, user: &str, value: f64) -> Sample {
    Sample {
        metric: metric.to_string(),
        labels: vec![
            ("org".to_string(), org.to_string()),
            ("repo".to_string(), repo.to_string()),
            ("user".to_string(), user.to_string()),
        ],
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: i64, user: &str) -> Ev {
        Ev {
            t,
            user: user.into(),
            bot: user.ends_with("[bot]"),
        }
    }

    /// The window is inclusive at both ends and fractional `now` is honoured.
    #[test]
    fn window_bounds_are_inclusive_and_exact() {
        let now = 1_000_000.5;
        assert!(in_window(1_000_000, now));
        assert!(!in_window(1_000_001, now));
        assert!(in_window(913_601, now));
        assert!(!in_window(913_600, now));
        assert_eq!(until_secs(now), 1_000_000);
        assert!(window_start_secs(now) <= 913_601);
    }

    /// Weeks start on Sunday and the latest complete week ends at or before now.
    #[test]
    fn latest_complete_week_ends_before_now() {
        // 2023-11-14T22:13:20Z is a Tuesday; its week began Sunday 2023-11-12 (1_699_747_200).
        assert_eq!(week_start(1_700_000_000), 1_699_747_200);
        assert_eq!(
            latest_complete_week(1_700_000_000.0),
            1_699_747_200 - WEEK_SECS
        );
        assert_eq!(
            latest_complete_week(1_699_747_200.0),
            1_699_747_200 - WEEK_SECS
        );
    }

    /// Events leaving the window drop their series; last event is the newest counted event.
    #[test]
    fn samples_follow_the_window_and_drop_empty_users() {
        let mut log = RepoLog::default();
        log.commits.insert("a".into(), ev(100_000, "ann"));
        log.commits.insert("b".into(), ev(10_000, "old"));
        log.reviews.insert(1, ev(100_500, "ann"));
        log.comments.insert(2, ev(100_200, "dependabot[bot]"));
        let now = 100_600.0;
        let samples = activity_samples("o", "r", &log, now, false);
        let find = |m: &str, u: &str| {
            samples
                .iter()
                .find(|s| s.metric == m && s.labels[2].1 == u)
                .map(|s| s.value)
        };
        assert_eq!(find("gh_activity_commits_24h", "ann"), Some(1.0));
        assert_eq!(find("gh_activity_reviews_submitted_24h", "ann"), Some(1.0));
        assert_eq!(
            find("gh_activity_last_event_unixtime", "ann"),
            Some(100_500.0)
        );
        assert_eq!(find("gh_activity_commits_24h", "old"), None);
        assert_eq!(find("gh_activity_last_event_unixtime", "old"), None);
        assert_eq!(
            find("gh_activity_issue_comments_24h", "dependabot[bot]"),
            Some(1.0)
        );
        let no_bots = activity_samples("o", "r", &log, now, true);
        assert!(no_bots.iter().all(|s| s.labels[2].1 != "dependabot[bot]"));
    }
}
