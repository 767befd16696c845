//! CopilotActor: one per org this replica owns (and one for the enterprise, started with the
//! first configured org). Runs at start, then every `copilot.scrape_interval`; never two runs at
//! once. A run ([`CopilotSource::run`]) is a future spawned into the actor's context whose result
//! comes back as a [`RunDone`] message, so the mailbox never waits on I/O and stopping the actor
//! cancels the run. Each run ends with ONE `UpsertBatch` under the actor's grant, for its own
//! partition (`<org>/copilot`), so it never replaces the org's activity series. The component
//! `copilot.<org>` shows in `/healthz` whether the last run read every report, and why not;
//! for a user account, which has no reports, it shows `skipped` with the reason and nothing is
//! asked.
//!
//! A 1-day report that failed after the latest day read goes to backfill
//! (`copilot_report_failed`, one job per scope and day) and is marked incomplete
//! (`gh_exporter_copilot_report_incomplete`). A backfill consumer of this replica hands the job
//! back here ([`RecoverDay`]): the day is read again under the same grant, never while a run is
//! in flight, and published through the same batch — only when it is newer than the latest day
//! served.
//! Each run is the root span `copilot.run` of its own trace (an error when a report failed).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::{
    Actor, ActorFutureExt, AsyncContext, Context, Handler, Message, Recipient, ResponseActFuture,
    WrapFuture,
};

use super::run::{attempt, Attempt, CopilotSource, DayRecovery, RunMemory, RunOutput};
use crate::backfill::CopilotDay;
use crate::calendar::day_start;
use crate::election::validity::under_lease;
use crate::election::Grant;
use crate::health::{ComponentStatus, HealthReporter};
use crate::messages::{EnqueueMissing, UpsertBatch};
use crate::metrics::copilot as families;
use crate::metrics::github_api;
use crate::ports::{CounterDeltas, OrgBatch, Sample};
use crate::scrape::actor::CounterLedger;
use crate::scrape::port::Clock;

/// Everything a CopilotActor is built from (a fresh one on every restart).
pub struct CopilotActorArgs {
    pub source: Arc<dyn CopilotSource>,
    pub interval: Duration,
    pub grant: Option<Grant>,
    /// The store partition of this scope's series (`<org>/copilot`).
    pub partition: String,
    /// The health component (`copilot.<org>`).
    pub component: String,
    pub store: Recipient<UpsertBatch>,
    /// Where failed report days go (the backfill dispatcher, or `backfill_pending`).
    pub backfill: Recipient<EnqueueMissing>,
    pub health: HealthReporter,
    pub clock: Arc<dyn Clock>,
    /// What the last run remembered; shared across restarts and changes of owner.
    pub memory: Arc<Mutex<RunMemory>>,
    /// Counter increments not yet handed to the store, and the last request totals seen from
    /// the Copilot client's telemetry; shared across restarts.
    pub counters: Arc<Mutex<CounterLedger>>,
}

/// The per-scope Copilot scraper.
pub struct CopilotActor {
    args: CopilotActorArgs,
    /// A run or a day recovery is in flight.
    running: bool,
    /// The work in flight is a day recovery.
    recovering: bool,
    /// A run was asked for during a recovery: start it when the recovery ends.
    rerun: bool,
    /// The span of the latest run: a day it failed to read joins its trace in backfill.
    run_span: Option<tracing::Span>,
    /// Why the last run's parts failed (the component's reason).
    problems: Vec<String>,
}

/// Start a run now (ignored while one runs).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct CopilotRunNow;

/// A run finished, or was skipped.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RunDone(pub Attempt);

/// From a backfill consumer: read the 1-day report of `day` (`YYYY-MM-DD`) again and publish
/// it if it is newer than the latest day served. `Err` says why it could not be read (the job
/// is retried).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), String>")]
pub struct RecoverDay {
    pub day: String,
}

impl CopilotActor {
    pub fn new(args: CopilotActorArgs) -> CopilotActor {
        CopilotActor {
            args,
            running: false,
            recovering: false,
            rerun: false,
            run_span: None,
            problems: Vec::new(),
        }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, RunMemory> {
        self.args
            .memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The owner has no Copilot reports: the component says why (not an error), the run counts
    /// as `skipped`, and the partition holds no series.
    fn skip(&mut self, reason: &'static str) {
        let scope = self.args.source.scope();
        let mut labels = vec![
            ("org".to_string(), scope.org.clone()),
            ("result".to_string(), "skipped".to_string()),
            ("scope".to_string(), scope.scope.to_string()),
        ];
        labels.sort();
        let deltas = {
            let mut ledger = self
                .args
                .counters
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            ledger.add(families::RUNS.name, labels, 1.0);
            ledger.drain()
        };
        self.args.health.report(
            &self.args.component,
            ComponentStatus::Skipped(reason.to_string()),
            false,
        );
        *self.memory() = RunMemory::default();
        self.args.store.do_send(UpsertBatch(OrgBatch {
            org: self.args.partition.clone(),
            grant: self.args.grant.clone(),
            samples: Vec::new(),
            shared: Arc::default(),
            counter_deltas: if deltas.is_empty() {
                Vec::new()
            } else {
                vec![CounterDeltas::new(deltas)]
            },
        }));
    }

    /// Publishes what a run (`run`) or a day recovery produced as the scope's one batch.
    fn publish(&mut self, out: RunOutput, run: bool) {
        let scope = self.args.source.scope().clone();
        let now = self.args.clock.now();
        let base = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
            let mut labels = vec![
                ("scope".to_string(), scope.scope.to_string()),
                ("org".to_string(), scope.org.clone()),
            ];
            labels.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            labels.sort();
            labels
        };
        let mut samples: Vec<Sample> = Vec::new();
        for part in [&out.memory.org, &out.memory.users, &out.memory.seats]
            .into_iter()
            .flatten()
        {
            samples.extend(part.samples.iter().cloned());
            for (report, day) in &part.days {
                if let Some(start) = day_start(day) {
                    samples.push(Sample {
                        metric: families::STALENESS.name.to_string(),
                        labels: base(&[("report", report)]),
                        value: now - (start + 86_400) as f64,
                    });
                }
            }
        }
        let report1 = format!("{}-1-day", scope.report_kind());
        if let Some(org) = &out.memory.org {
            samples.push(Sample {
                metric: families::REPORT_INCOMPLETE.name.to_string(),
                labels: base(&[("report", &report1)]),
                value: if org.failed_day.is_some() { 1.0 } else { 0.0 },
            });
            if let (true, Some(day)) = (run, &org.failed_day) {
                self.enqueue(&scope.org, scope.scope, day);
            }
        }
        if run {
            self.problems = out.problems.clone();
        } else {
            // The recovered day (and any older one) no longer explains the component's state.
            let recovered = out.memory.org.as_ref().and_then(|o| o.one_day.clone());
            self.problems.retain(|p| {
                let day = p
                    .strip_prefix(&format!("{report1} of "))
                    .and_then(|rest| rest.get(..10));
                !matches!((day, &recovered), (Some(d), Some(r)) if d <= r.as_str())
            });
        }
        let result = if out.problems.is_empty() {
            "success"
        } else {
            "error"
        };
        let deltas = {
            let mut ledger = self
                .args
                .counters
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if run {
                ledger.add(families::RUNS.name, base(&[("result", result)]), 1.0);
            }
            ledger.add(
                families::DOWNLOAD_BYTES.name,
                base(&[]),
                out.download_bytes as f64,
            );
            for (report, reason, count) in &out.skipped {
                ledger.add(
                    families::RECORDS_SKIPPED.name,
                    base(&[("report", report), ("reason", reason)]),
                    *count as f64,
                );
            }
            // The report-link and seat calls, in the shared request counter of the org.
            for ((endpoint, class), count) in &self.args.source.telemetry().requests {
                let mut labels = vec![
                    ("endpoint".to_string(), endpoint.clone()),
                    ("org".to_string(), scope.org.clone()),
                    ("status_class".to_string(), class.clone()),
                ];
                labels.sort();
                ledger.observe_total(github_api::REQUESTS.name, labels, *count as f64);
            }
            ledger.drain()
        };
        let status = if self.problems.is_empty() {
            ComponentStatus::Up
        } else {
            ComponentStatus::Down(self.problems.join("; "))
        };
        self.args.health.report(&self.args.component, status, false);
        *self.memory() = out.memory;
        self.args.store.do_send(UpsertBatch(OrgBatch {
            org: self.args.partition.clone(),
            grant: self.args.grant.clone(),
            samples,
            shared: Arc::default(),
            counter_deltas: if deltas.is_empty() {
                Vec::new()
            } else {
                vec![CounterDeltas::new(deltas)]
            },
        }));
    }
}

impl CopilotActor {
    /// Sends the failed `day` (`YYYY-MM-DD`) of the scope to backfill.
    fn enqueue(&self, org: &str, scope: &'static str, day: &str) {
        let Some(start) = day_start(day).and_then(|s| u64::try_from(s).ok()) else {
            return;
        };
        let request = CopilotDay {
            scope,
            day_start: start,
        }
        .request(org);
        tracing::warn!(component = %self.args.component, day, "Copilot 1-day report failed; the day goes to backfill");
        self.args.backfill.do_send(EnqueueMissing {
            org: request.org,
            repo: request.repo,
            window_start: start as f64,
            window_end: (start + 86_400) as f64,
            reason: request.reason,
            trace_parent: self.run_span.as_ref().and_then(crate::trace::context_of),
        });
    }
}

impl Actor for CopilotActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.args
            .health
            .report(&self.args.component, ComponentStatus::Starting, false);
        ctx.notify(CopilotRunNow);
        ctx.run_interval(self.args.interval, |_, ctx| ctx.notify(CopilotRunNow));
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.args
            .health
            .report(&self.args.component, ComponentStatus::Stopped, false);
    }
}

impl Handler<CopilotRunNow> for CopilotActor {
    type Result = ();

    fn handle(&mut self, _: CopilotRunNow, ctx: &mut Context<Self>) {
        if self.running {
            self.rerun |= self.recovering;
            return;
        }
        self.running = true;
        let source = self.args.source.clone();
        let previous = self.memory().clone();
        let now = self.args.clock.now();
        let span = tracing::info_span!(parent: None, "copilot.run",
            component = %self.args.component, problems = tracing::field::Empty,
            otel.status_code = tracing::field::Empty);
        let run = span.in_scope(|| attempt(source, previous, now));
        // Under the grant: nothing starts once its lease has lapsed, a run in flight is
        // dropped at the lapse, and the client checks the lease before every request.
        let validity = self.args.grant.as_ref().map(|g| g.validity.clone());
        let traced = span.clone();
        self.run_span = Some(span.clone());
        let run = tracing::Instrument::instrument(under_lease(validity, run), span);
        ctx.spawn(run.into_actor(self).map(
            move |out, act, ctx| match out {
                Ok(out) => {
                    if let Attempt::Ran(ran) = &out {
                        traced.record("problems", ran.problems.len() as i64);
                        if !ran.problems.is_empty() {
                            traced.record("otel.status_code", "ERROR");
                        }
                    }
                    ctx.notify(RunDone(out))
                }
                Err(_) => {
                    act.running = false;
                    tracing::info!(component = %act.args.component, "the org's lease lapsed; Copilot run abandoned, nothing published");
                }
            },
        ));
    }
}

impl Handler<RunDone> for CopilotActor {
    type Result = ();

    fn handle(&mut self, done: RunDone, _ctx: &mut Context<Self>) {
        self.running = false;
        match done.0 {
            Attempt::Ran(out) => self.publish(*out, true),
            Attempt::Skipped(reason) => self.skip(reason),
        }
    }
}

impl Handler<RecoverDay> for CopilotActor {
    type Result = ResponseActFuture<Self, Result<(), String>>;

    fn handle(&mut self, recover: RecoverDay, _ctx: &mut Context<Self>) -> Self::Result {
        if self.running {
            // The run in flight reads that day too; the job is retried after it.
            return Box::pin(actix::fut::ready(Err(
                "a Copilot run is in progress on this replica".to_string(),
            )));
        }
        self.running = true;
        self.recovering = true;
        let source = self.args.source.clone();
        let read = source.recover_day(self.memory().clone(), recover.day);
        let validity = self.args.grant.as_ref().map(|g| g.validity.clone());
        Box::pin(
            under_lease(validity, read)
                .into_actor(self)
                .map(|result, act, ctx| {
                    act.running = false;
                    act.recovering = false;
                    if std::mem::take(&mut act.rerun) {
                        ctx.notify(CopilotRunNow);
                    }
                    match result {
                        Err(_) => Err("the org's lease lapsed; day not read".to_string()),
                        Ok(Err(e)) => Err(e.reason),
                        Ok(Ok(DayRecovery::Covered)) => Ok(()),
                        Ok(Ok(DayRecovery::Applied(out))) => {
                            act.publish(*out, false);
                            Ok(())
                        }
                    }
                }),
        )
    }
}
