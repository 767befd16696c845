//! ScrapeActor: one per org. Runs the first cycle at once, then every `scrape_interval` with a
//! little jitter; never two cycles of its org at once (a tick that finds a cycle running is
//! dropped). The cycle itself ([`run_cycle`]) is a future spawned into the actor's context, so
//! the mailbox keeps answering while GitHub calls (and their rate-limit waits) are in flight,
//! and stopping the actor drops the future, cancelling every wait.
//!
//! Each cycle ends with ONE `UpsertBatch` for the org: the activity and LOC series of the
//! served cycle plus the org's operational series. A failed cycle keeps serving the previous
//! cycle's series (and its `window_end`), so served values always equal the truth at the
//! reported instant. Missing windows go out as [`EnqueueMissing`].
//!
//! Cycles and LOC rounds run under the actor's grant ([`under_lease`]): none starts once the
//! lease's local validity has lapsed, one in flight is dropped at the lapse (its requests
//! cancelled), and the GitHub client checks the validity before every request. Abandoned work
//! publishes nothing and counts as no run: the RoleManager is stopping this actor.
//!
//! Each cycle is the root span `scrape.cycle` of its own trace (its GitHub requests are its
//! children, its missed windows carry its context into backfill); each LOC round is the root
//! span `loc.round`. A failed cycle or round marks its span with error status.
//!
//! Lines of code never delay activity: after a cycle has published, a LOC round
//! ([`run_loc_round`]) asks `stats/contributors` for every repository that needs it, and
//! publishes again (same `window_end`) when an answer changed what is served. While GitHub is
//! still computing (202), rounds repeat after a short, growing delay. Cycles and rounds of an
//! org never overlap; a tick that arrives during a round starts its cycle right after it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{
    Actor, ActorFutureExt, AsyncContext, Context, Handler, Message, Recipient, WrapFuture,
};
use rand::Rng;
use tracing::field::Empty;
use tracing::{Instrument, Span};

use super::cycle::{restore_served, run_cycle, CycleOutcome, CycleResult, CycleSettings};
use super::events::{CycleReport, ScrapeObserver};
use super::health::{GithubHealth, HealthState};
use super::loc_round::{run_loc_round, LocRoundOutcome};
use super::port::{Clock, GithubApi, ScrapeStateStore};
use super::window::WINDOW_SECS;
use crate::backfill::Reason;
use crate::election::validity::under_lease;
use crate::election::Grant;
use crate::messages::{EnqueueMissing, ScrapeNow, UpsertBatch};
use crate::metrics::{github_api, scrape};
use crate::ports::{CounterDeltas, OrgBatch, Sample};

/// Everything a ScrapeActor is built from (the factory gives a fresh one on every restart).
pub struct ScrapeActorArgs {
    pub org: String,
    pub interval: Duration,
    /// Fraction of the interval used as ± jitter (e.g. 0.05).
    pub jitter: f64,
    /// The lease tenure this actor scrapes under; every batch carries it.
    pub grant: Option<Grant>,
    pub settings: Arc<CycleSettings>,
    pub health: GithubHealth,
    pub api: Arc<dyn GithubApi>,
    pub state_store: Arc<dyn ScrapeStateStore>,
    pub clock: Arc<dyn Clock>,
    pub store: Recipient<UpsertBatch>,
    pub backfill: Recipient<EnqueueMissing>,
    /// The org's counter ledger; shared across restarts of this actor (see [`CounterLedger`]).
    pub counters: Arc<std::sync::Mutex<CounterLedger>>,
    pub observer: Arc<dyn ScrapeObserver>,
}

/// The per-org scraper.
pub struct ScrapeActor {
    args: ScrapeActorArgs,
    running: bool,
    last_success: Option<f64>,
    last_duration: Option<f64>,
    /// The served cycle: its `now` and its activity/LOC samples, shared with every batch (and
    /// with the in-memory store) rather than copied into each.
    served: Option<(f64, Arc<[Sample]>)>,
    /// The saved state was looked at: what it held (if anything) is in `served`.
    restored: bool,
    /// A LOC round is in flight.
    loc_running: bool,
    /// A tick arrived during a LOC round: start the cycle when the round ends.
    cycle_wanted: bool,
    /// Consecutive LOC rounds that left repositories computing (for the retry delay).
    loc_retry_round: u32,
    /// Repositories still computing after the last LOC round.
    loc_waiting: usize,
}

/// Internal timer: run a LOC round for repositories still computing.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
struct LocRetry;

/// Internal timer tick: schedules the next tick, then behaves like [`ScrapeNow`].
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
struct Tick;

impl ScrapeActor {
    pub fn new(args: ScrapeActorArgs) -> ScrapeActor {
        ScrapeActor {
            args,
            running: false,
            last_success: None,
            last_duration: None,
            served: None,
            restored: false,
            loc_running: false,
            cycle_wanted: false,
            loc_retry_round: 0,
            loc_waiting: 0,
        }
    }

    fn next_delay(&self) -> Duration {
        let base = self.args.interval.as_secs_f64();
        let spread = base * self.args.jitter.clamp(0.0, 0.5);
        let offset = if spread > 0.0 {
            rand::thread_rng().gen_range(-spread..=spread)
        } else {
            0.0
        };
        Duration::from_secs_f64((base + offset).max(0.001))
    }

    fn start_cycle(&mut self, ctx: &mut Context<Self>) {
        if self.loc_running && !self.running {
            // A LOC round asks once per repository and never waits on a 202: the cycle
            // starts as soon as it ends.
            self.cycle_wanted = true;
        }
        if self.running || self.loc_running {
            // Refresh the operational series (rate budget, request counters) so a long
            // rate-limit pause is visible while the cycle waits.
            // Not before a cycle was served: an ops-only batch would replace the org's series
            // that the store still holds (e.g. after a restart of this actor).
            tracing::debug!(org = %self.args.org, "cycle or LOC round still running; tick deferred");
            if self.served.is_some() || self.restored {
                self.publish();
            }
            return;
        }
        let now = self.args.clock.now();
        if self.args.health.skip_cycle(now) {
            self.skip_unhealthy(now);
            return;
        }
        self.running = true;
        self.args.observer.cycle_started(&self.args.org);
        let started = Instant::now();
        let span = tracing::info_span!(parent: None, "scrape.cycle", org = %self.args.org,
            result = Empty, repos = Empty, series = Empty, missing = Empty,
            otel.status_code = Empty);
        let fut = under_lease(
            self.validity(),
            run_cycle(
                self.args.org.clone(),
                now,
                self.args.api.clone(),
                self.args.state_store.clone(),
                self.args.settings.clone(),
            ),
        )
        .instrument(span.clone());
        ctx.spawn(fut.into_actor(self).map(move |outcome, act, ctx| {
            act.running = false;
            let Ok(outcome) = outcome else {
                span.record("result", "lease_lapsed");
                act.lease_lapsed("cycle");
                return;
            };
            let loc_due = outcome.loc_due;
            act.finish(outcome, started.elapsed().as_secs_f64(), &span);
            // Also after a failed cycle: repositories still computing are asked again.
            if loc_due > 0 || act.loc_waiting > 0 {
                act.loc_retry_round = 0;
                act.start_loc_round(ctx);
            }
        }));
    }

    /// Starts a LOC round unless a cycle or a round is running (a cycle's end starts one).
    fn start_loc_round(&mut self, ctx: &mut Context<Self>) {
        if self.running || self.loc_running {
            return;
        }
        self.loc_running = true;
        let span = tracing::info_span!(parent: None, "loc.round", org = %self.args.org,
            asked = Empty, waiting = Empty, missing = Empty, otel.status_code = Empty);
        let fut = under_lease(
            self.validity(),
            run_loc_round(
                self.args.org.clone(),
                self.args.clock.now(),
                self.args.api.clone(),
                self.args.state_store.clone(),
                self.args.settings.clone(),
            ),
        )
        .instrument(span.clone());
        ctx.spawn(fut.into_actor(self).map(move |outcome, act, ctx| {
            act.loc_running = false;
            match outcome {
                Ok(outcome) => {
                    span.record("asked", outcome.asked as i64);
                    span.record("waiting", outcome.waiting as i64);
                    span.record("missing", outcome.missing.len() as i64);
                    if outcome.error.is_some() {
                        span.record("otel.status_code", "ERROR");
                    }
                    act.finish_loc_round(outcome, &span, ctx)
                }
                Err(_) => act.lease_lapsed("LOC round"),
            }
        }));
    }

    /// The local validity of the grant this actor scrapes under (`None`: unfenced).
    fn validity(&self) -> Option<crate::election::Validity> {
        self.args.grant.as_ref().map(|g| g.validity.clone())
    }

    /// Work abandoned at the lapse of the grant: nothing is published or counted; the
    /// RoleManager stops this actor (or, if a renewal confirmed the lease in time, the next
    /// tick starts afresh).
    fn lease_lapsed(&mut self, what: &str) {
        self.cycle_wanted = false;
        tracing::info!(org = %self.args.org, work = what, "the org's lease lapsed; work abandoned, nothing published");
    }

    fn finish_loc_round(&mut self, outcome: LocRoundOutcome, span: &Span, ctx: &mut Context<Self>) {
        if let Some(error) = &outcome.error {
            tracing::info!(org = %self.args.org, error = %error, missing = outcome.missing.len(), "LOC round incomplete");
        }
        for m in &outcome.missing {
            self.args.backfill.do_send(EnqueueMissing {
                org: self.args.org.clone(),
                repo: m.repo.clone(),
                window_start: m.window_start,
                window_end: m.window_end,
                reason: m.reason,
                trace_parent: crate::trace::context_of(span),
            });
        }
        let waiting_changed = self.loc_waiting != outcome.waiting;
        self.loc_waiting = outcome.waiting;
        let publish = outcome.served.is_some() || waiting_changed;
        tracing::debug!(
            org = %self.args.org,
            asked = outcome.asked,
            waiting = outcome.waiting,
            round_served_now = outcome.served.as_ref().map(|s| s.0),
            round_series = outcome.served.as_ref().map(|s| s.1.len()),
            actor_served_now = self.served.as_ref().map(|s| s.0),
            "LOC round finished"
        );
        if let Some(served) = outcome.served {
            // Only over the cycle it was computed for: a newer cycle already published more.
            if self.served.as_ref().is_none_or(|(now, _)| *now <= served.0) {
                self.served = Some((served.0, served.1.into()));
            }
        }
        if publish {
            self.publish();
        }
        self.args
            .observer
            .loc_progress(&self.args.org, outcome.asked, outcome.waiting);
        // The retry never depends on a cycle running or succeeding: a LocRetry that finds a
        // cycle running is absorbed, and that cycle's end starts the next round.
        if outcome.waiting > 0 {
            self.loc_retry_round += 1;
            let delay = self
                .args
                .settings
                .loc
                .stats_retry_delay(self.loc_retry_round);
            ctx.notify_later(LocRetry, delay);
        } else {
            self.loc_retry_round = 0;
        }
        if self.cycle_wanted {
            self.cycle_wanted = false;
            self.start_cycle(ctx);
        }
    }

    fn finish(&mut self, outcome: CycleOutcome, duration: f64, span: &Span) {
        let result = outcome.result;
        span.record("result", result.as_str());
        span.record("repos", outcome.repos as i64);
        span.record("series", outcome.samples.len() as i64);
        span.record("missing", outcome.missing.len() as i64);
        if result == CycleResult::Failure {
            span.record("otel.status_code", "ERROR");
        }
        let trace_parent = if outcome.missing.is_empty() {
            None
        } else {
            crate::trace::context_of(span)
        };
        tracing::debug!(org = %self.args.org, now = outcome.now, result = result.as_str(), series = outcome.samples.len(), loc_due = outcome.loc_due, "cycle finished");
        self.count_run(result.as_str());
        self.last_duration = Some(duration);
        self.args
            .health
            .record(result == CycleResult::Failure, outcome.now);
        match result {
            CycleResult::Failure => {
                tracing::warn!(org = %self.args.org, error = outcome.error.as_deref().unwrap_or(""), "scrape cycle failed; serving the previous cycle");
            }
            CycleResult::Partial => {
                tracing::info!(org = %self.args.org, missing = outcome.missing.len(), error = outcome.error.as_deref().unwrap_or(""), "scrape cycle partial");
                self.served = Some((outcome.now, outcome.samples.into()));
            }
            CycleResult::Success => {
                self.last_success = Some(outcome.now);
                self.served = Some((outcome.now, outcome.samples.into()));
            }
        }
        for m in &outcome.missing {
            self.args.backfill.do_send(EnqueueMissing {
                org: self.args.org.clone(),
                repo: m.repo.clone(),
                window_start: m.window_start,
                window_end: m.window_end,
                reason: m.reason,
                trace_parent: trace_parent.clone(),
            });
        }
        self.publish();
        self.args.observer.cycle_finished(&CycleReport {
            org: self.args.org.clone(),
            result: result.as_str(),
            duration_secs: duration,
            window_end: outcome.now,
            missing_windows: outcome.missing.len(),
            error: outcome.error,
            health: self.args.health.state(),
        });
    }

    /// A cycle skipped in cooldown: no GitHub call; the skipped period goes to backfill.
    fn skip_unhealthy(&mut self, now: f64) {
        self.count_run("skipped_unhealthy");
        let start = self.served.as_ref().map_or(now - WINDOW_SECS, |(t, _)| *t);
        self.args.backfill.do_send(EnqueueMissing {
            org: self.args.org.clone(),
            repo: "*".into(),
            window_start: start,
            window_end: now,
            reason: Reason::GithubUnhealthy,
            trace_parent: None,
        });
        self.publish();
        self.args.observer.cycle_finished(&CycleReport {
            org: self.args.org.clone(),
            result: "skipped_unhealthy",
            duration_secs: 0.0,
            window_end: now,
            missing_windows: 1,
            error: None,
            health: self.args.health.state(),
        });
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, CounterLedger> {
        // The ledger holds plain numbers; a panic mid-update leaves them usable.
        self.args.counters.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count_run(&mut self, result: &str) {
        let labels = org_labels(&self.args.org, &[("result", result)]);
        self.ledger().add(scrape::SCRAPE_RUNS.name, labels, 1.0);
    }

    /// Sends the org's one batch: served series plus operational series. Counters go as
    /// deltas (`counter_deltas`), which the store adds to shared totals, so `_total` series stay
    /// monotonic across restarts and leader changes.
    fn publish(&self) {
        let org = self.args.org.as_str();
        let mut samples: Vec<Sample> = Vec::new();
        let one = |metric: &str, extra: &[(&str, &str)], value: f64| {
            let mut labels: Vec<(String, String)> = vec![("org".into(), org.into())];
            labels.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            labels.sort();
            Sample {
                metric: metric.to_string(),
                labels,
                value,
            }
        };
        let mut shared: Arc<[Sample]> = Arc::default();
        if let Some((now, served)) = &self.served {
            shared = served.clone();
            samples.push(one(scrape::WINDOW_END.name, &[], *now));
        }
        if let Some(d) = self.last_duration {
            samples.push(one(scrape::SCRAPE_DURATION.name, &[], d));
        }
        if let Some(t) = self.last_success {
            samples.push(one(scrape::LAST_SUCCESS.name, &[], t));
        }
        if self.served.is_some() {
            samples.push(one(
                scrape::LOC_STATS_WAITING.name,
                &[],
                self.loc_waiting as f64,
            ));
        }
        let healthy = matches!(self.args.health.state(), HealthState::Healthy);
        samples.push(one(
            scrape::GITHUB_HEALTH.name,
            &[],
            if healthy { 1.0 } else { 0.0 },
        ));
        let telemetry = self.args.api.telemetry();
        let mut ledger = self.ledger();
        for ((endpoint, class), count) in &telemetry.requests {
            let labels = org_labels(org, &[("endpoint", endpoint), ("status_class", class)]);
            ledger.observe_total(github_api::REQUESTS.name, labels, *count as f64);
        }
        for (resource, (remaining, reset)) in &telemetry.rate {
            samples.push(one(
                github_api::RATE_REMAINING.name,
                &[("resource", resource)],
                *remaining as f64,
            ));
            samples.push(one(
                github_api::RATE_RESET.name,
                &[("resource", resource)],
                *reset as f64,
            ));
        }
        ledger.observe_total(
            github_api::SECONDARY_HITS.name,
            org_labels(org, &[]),
            telemetry.secondary_limit_hits as f64,
        );
        let counter_deltas = ledger.drain();
        drop(ledger);
        self.args.store.do_send(UpsertBatch(OrgBatch {
            org: org.to_string(),
            grant: self.args.grant.clone(),
            samples,
            shared,
            counter_deltas: if counter_deltas.is_empty() {
                Vec::new()
            } else {
                vec![CounterDeltas::new(counter_deltas)]
            },
        }));
    }
}

fn org_labels(org: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = vec![("org".into(), org.into())];
    labels.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    labels.sort();
    labels
}

/// Counter increments of one org not yet handed to the store, and the last cumulative values
/// seen from the GitHub client's telemetry. Lives outside the actor (one per org, created with
/// the org's GitHub API), so a restarted actor neither loses nor re-sends increments.
#[derive(Debug, Default)]
pub struct CounterLedger {
    pending: BTreeMap<(String, Vec<(String, String)>), f64>,
    last_total: BTreeMap<(String, Vec<(String, String)>), f64>,
}

impl CounterLedger {
    /// Adds `delta` to a counter.
    pub fn add(&mut self, metric: &str, labels: Vec<(String, String)>, delta: f64) {
        *self
            .pending
            .entry((metric.to_string(), labels))
            .or_insert(0.0) += delta;
    }

    /// Records a cumulative value from a source that counts since it started; the increase
    /// since the last observation becomes a delta (a smaller value means the source restarted,
    /// and counts as all new).
    pub fn observe_total(&mut self, metric: &str, labels: Vec<(String, String)>, total: f64) {
        let key = (metric.to_string(), labels);
        let last = self.last_total.insert(key.clone(), total).unwrap_or(0.0);
        let delta = if total >= last { total - last } else { total };
        if delta > 0.0 {
            *self.pending.entry(key).or_insert(0.0) += delta;
        }
    }

    /// Takes every pending increment as samples.
    pub fn drain(&mut self) -> Vec<Sample> {
        std::mem::take(&mut self.pending)
            .into_iter()
            .filter(|(_, value)| *value != 0.0)
            .map(|((metric, labels), value)| Sample {
                metric,
                labels,
                value,
            })
            .collect()
    }
}

impl Actor for ScrapeActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let restore = restore_served(
            self.args.org.clone(),
            self.args.state_store.clone(),
            self.args.settings.exclude_bots,
        );
        ctx.spawn(restore.into_actor(self).map(|served, act, _ctx| {
            act.restored = true;
            // A cycle that finished meanwhile is newer than the saved state.
            if act.served.is_none() {
                if let Some(served) = served {
                    act.served = Some((served.0, served.1.into()));
                    act.publish();
                }
            }
        }));
        ctx.notify(Tick);
    }
}

impl Handler<Tick> for ScrapeActor {
    type Result = ();

    fn handle(&mut self, _msg: Tick, ctx: &mut Context<Self>) {
        ctx.notify_later(Tick, self.next_delay());
        self.start_cycle(ctx);
    }
}

impl Handler<LocRetry> for ScrapeActor {
    type Result = ();

    fn handle(&mut self, _msg: LocRetry, ctx: &mut Context<Self>) {
        self.start_loc_round(ctx);
    }
}

impl Handler<ScrapeNow> for ScrapeActor {
    type Result = ();

    fn handle(&mut self, _msg: ScrapeNow, ctx: &mut Context<Self>) {
        self.start_cycle(ctx);
    }
}

impl Handler<crate::messages::StopScraping> for ScrapeActor {
    type Result = ();

    fn handle(&mut self, _msg: crate::messages::StopScraping, ctx: &mut Context<Self>) {
        use actix::ActorContext;
        tracing::debug!(org = %self.args.org, "scraper stopping");
        ctx.stop();
    }
}

#[cfg(test)]
mod ledger_tests {
    use super::CounterLedger;

    fn labels() -> Vec<(String, String)> {
        vec![("org".into(), "a".into())]
    }

    /// Increments are handed out once; cumulative sources turn into increases, and a source
    /// that restarted from zero counts as all new.
    #[test]
    fn ledger_hands_out_each_increment_once() {
        let mut ledger = CounterLedger::default();
        ledger.add("runs", labels(), 1.0);
        ledger.observe_total("requests", labels(), 10.0);
        let first = ledger.drain();
        assert_eq!(first.iter().map(|s| s.value).sum::<f64>(), 11.0);
        assert!(ledger.drain().is_empty(), "drained increments are gone");
        ledger.observe_total("requests", labels(), 15.0);
        assert_eq!(ledger.drain()[0].value, 5.0);
        ledger.observe_total("requests", labels(), 3.0);
        assert_eq!(
            ledger.drain()[0].value,
            3.0,
            "a restarted source counts as new"
        );
    }
}
