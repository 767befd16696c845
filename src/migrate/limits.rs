//! The mapping of the Go-era `rate_limit`, `retry`, `loc` and `backfill` sections: budgets,
//! retries and caps. A 0 that meant "unlimited" becomes the highest value accepted; a 0 this
//! exporter cannot mean at all keeps its default, with a note.

use std::time::Duration;

use super::convert::{count_in, duration_in, shown};
use super::go_file::GoFile;
use super::output::{ChangeKind::*, Out, Val};

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// `rate_limit` and `retry`.
pub(crate) fn rate_and_retry(f: &mut GoFile, o: &mut Out) {
    let min_remaining = f
        .int("rate_limit.min_remaining_threshold")
        .unwrap_or(0)
        .clamp(0, 15_000);
    o.set(
        "rate_limit.min_remaining_threshold",
        Val::Int(min_remaining),
    );
    if min_remaining != 200 {
        o.note(Default, format!("rate_limit.min_remaining_threshold: {min_remaining} (this exporter's default is 200)"));
    }
    let buffer = f.duration("rate_limit.min_reset_buffer").min(HOUR);
    o.set("rate_limit.min_reset_buffer", Val::Dur(buffer));
    let secondary = f.duration("rate_limit.secondary_limit_backoff");
    if secondary.is_zero() {
        o.note(
            Default,
            "rate_limit.secondary_limit_backoff: 0 waited only as long as Retry-After said; \
             this exporter waits 60s when GitHub gives no Retry-After (at least 1s)",
        );
    } else {
        let clamped = secondary.clamp(SECOND, HOUR);
        o.set("rate_limit.secondary_limit_backoff", Val::Dur(clamped));
        o.note(
            Behaviour,
            "rate_limit.secondary_limit_backoff is the wait when GitHub gives no Retry-After; \
             a Retry-After is obeyed as it is (it was max(backoff, Retry-After))",
        );
    }
    o.note(
        Behaviour,
        "rate_limit.requests_per_minute (new, 800): requests are paced under GitHub's \
         secondary limit; 0 turns the pacing off",
    );

    let attempts = f.int("retry.max_attempts").filter(|n| *n > 0);
    let github = attempts.unwrap_or(1).clamp(1, 100);
    let queue = attempts.unwrap_or(7).clamp(1, 100);
    o.set("retry.max_attempts", Val::Int(github));
    o.set("backfill.max_attempts", Val::Int(queue));
    o.note(
        Renamed,
        format!(
            "retry.max_attempts drove GitHub retries and backfill queue retries; now \
             retry.max_attempts = {github} (GitHub calls) and backfill.max_attempts = {queue} \
             (queue); queue retries really run now"
        ),
    );
    let initial = f.duration("retry.initial_backoff");
    let initial = if initial.is_zero() {
        o.note(
            Default,
            "retry.initial_backoff: 0 retried at once; kept at this exporter's default 1s \
             (it also spaces the LOC rounds while GitHub computes statistics)",
        );
        SECOND
    } else {
        let clamped = initial.clamp(Duration::from_millis(1), HOUR);
        o.set("retry.initial_backoff", Val::Dur(clamped));
        clamped
    };
    let max = f.duration("retry.max_backoff");
    let max = if max.is_zero() {
        let doublings = u32::try_from((github - 2).max(0)).unwrap_or(0).min(20);
        let longest = initial.saturating_mul(1 << doublings).clamp(initial, HOUR);
        o.note(
            Default,
            format!(
                "retry.max_backoff: 0 meant no cap; written as {}, the longest backoff \
                 {github} attempts reach",
                shown(longest)
            ),
        );
        longest
    } else {
        max.clamp(initial, HOUR)
    };
    o.set("retry.max_backoff", Val::Dur(max));
    match f.boolean("retry.jitter") {
        Some(jitter) => {
            o.set("retry.jitter", Val::Bool(jitter));
            o.note(
                Behaviour,
                format!(
                    "retry.jitter = {jitter}: it was never read (no jitter); here it takes effect"
                ),
            );
        }
        None => o.note(
            Behaviour,
            "retry.jitter: backoffs are randomised by default (true)",
        ),
    }
}

/// `loc`.
pub(crate) fn loc(f: &mut GoFile, o: &mut Out) {
    if f.text("loc.source").is_some() {
        o.note(
            Dropped,
            "loc.source: never read; the source is chosen per repository \
             (gh_exporter_loc_source_mode)",
        );
    }
    duration_in(
        f,
        o,
        "loc.refresh_interval",
        "loc.refresh_interval",
        DAY,
        (MINUTE, 30 * DAY),
    );
    o.note(
        Behaviour,
        "loc.refresh_interval also spaces the /stats/contributors calls per repository \
         (they ran every cycle)",
    );
    let enabled = f.boolean("loc.fallback_enabled").unwrap_or(false);
    let windows = f.int("loc.large_repo_zero_detection_windows").unwrap_or(0);
    let fallback = enabled && windows > 0;
    o.set("loc.fallback_enabled", Val::Bool(fallback));
    if !f.has("loc.fallback_enabled") {
        o.note(
            Default,
            "loc.fallback_enabled: unset meant false (this exporter's default is true)",
        );
    } else if enabled && !fallback {
        o.note(
            Default,
            "loc.fallback_enabled: true, but large_repo_zero_detection_windows 0 never switched \
             to the fallback; written as false",
        );
    }
    if windows > 0 {
        o.set(
            "loc.large_repo_zero_detection_windows",
            Val::Int(windows.min(100)),
        );
    }
    let commits = count_in(
        f,
        o,
        "loc.fallback_max_commits_per_repo_per_week",
        "loc.fallback_max_commits_per_repo_per_week",
        500,
        (1, 100_000),
    );
    if !f.has("loc.fallback_max_commits_per_repo_per_week") {
        o.note(
            Default,
            format!(
                "loc.fallback_max_commits_per_repo_per_week: unset meant {commits} (default 250)"
            ),
        );
    }
    let calls = f
        .int("loc.fallback_max_commit_detail_calls_per_org_per_hour")
        .filter(|n| *n > 0);
    let written = calls.unwrap_or(1_000_000).clamp(1, 1_000_000);
    if calls.is_none() {
        o.note(
            Default,
            "loc.fallback_max_commit_detail_calls_per_org_per_hour: 0 meant unlimited; \
             written as 1000000, the highest accepted (default 1000)",
        );
    }
    o.set(
        "loc.fallback_max_commit_detail_calls_per_org_per_hour",
        Val::Int(written),
    );
    let cooldown = f.duration("loc.large_repo_cooldown");
    if cooldown.is_zero() {
        o.note(
            Default,
            "loc.large_repo_cooldown: 0; kept at this exporter's default 7d (at least 1h)",
        );
    } else {
        o.set(
            "loc.large_repo_cooldown",
            Val::Dur(cooldown.clamp(HOUR, 365 * DAY)),
        );
    }
}

/// `backfill`.
pub(crate) fn backfill(f: &mut GoFile, o: &mut Out) {
    if f.boolean("backfill.enabled") == Some(false) {
        o.note(
            Behaviour,
            "backfill.enabled = false was never read (missed windows were always queued); \
             written as true to keep that — set false to stop backfill",
        );
    }
    o.set("backfill.enabled", Val::Bool(true));
    duration_in(
        f,
        o,
        "backfill.max_message_age",
        "backfill.max_message_age",
        DAY,
        (MINUTE, 30 * DAY),
    );
    count_in(
        f,
        o,
        "backfill.consumer_count",
        "backfill.consumer_count",
        1,
        (1, 64),
    );
    o.note(
        Behaviour,
        "backfill consumers run on every replica, leader included (the queue was consumed by \
         followers only), and expired or exhausted jobs go to the dead-letter queue, counted",
    );
    match f.durations("backfill.requeue_delays") {
        None => f
            .problems
            .push("`backfill.requeue_delays`: required, at least one delay".into()),
        Some(delays) if delays.is_empty() => f
            .problems
            .push("`backfill.requeue_delays`: required, at least one delay".into()),
        Some(delays) => {
            let increasing = delays.windows(2).all(|w| w[0] < w[1]);
            let in_range = delays.iter().all(|d| (SECOND..=7 * DAY).contains(d));
            if increasing && in_range {
                o.set("backfill.requeue_delays", Val::Durs(delays));
            } else {
                f.problems.push(
                    "`backfill.requeue_delays`: delays must be strictly increasing, each 1s..7d"
                        .into(),
                );
            }
        }
    }
    let coalesce = f.duration("backfill.coalesce_window").min(DAY);
    o.set("backfill.coalesce_window", Val::Dur(coalesce));
    let dedup = f.duration("backfill.dedup_ttl");
    if dedup.is_zero() {
        o.note(
            Default,
            "backfill.dedup_ttl: 0 turned deduplication off; it is always on here (default 12h)",
        );
    } else {
        o.set("backfill.dedup_ttl", Val::Dur(dedup.min(7 * DAY)));
    }
    let cap = f
        .int("backfill.max_enqueues_per_org_per_minute")
        .filter(|n| *n > 0);
    if cap.is_none() {
        o.note(
            Default,
            "backfill.max_enqueues_per_org_per_minute: 0 meant unlimited; written as 100000, \
             the highest accepted (default 100)",
        );
    }
    o.set(
        "backfill.max_enqueues_per_org_per_minute",
        Val::Int(cap.unwrap_or(100_000).clamp(1, 100_000)),
    );
}
