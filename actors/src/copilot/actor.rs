//! CopilotActor: one per org this replica owns (and one for the enterprise, started with the
//! first configured org). Runs at start, then every `copilot.scrape_interval`; never two runs at
//! once. A run ([`CopilotSource::run`]) is a future spawned into the actor's context whose result
//! comes back as a [`RunDone`] message, so the mailbox never waits on I/O and stopping the actor
//! cancels the run. Each run ends with ONE `UpsertBatch` under the actor's grant, for its own
//! partition (`<org>/copilot`), so it never replaces the org's activity series. The component
//! `copilot.<org>` shows in `/healthz` whether the last run read every report, and why not.
//! Each run is the root span `copilot.run` of its own trace (an error when a report failed).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::{
    Actor, ActorFutureExt, AsyncContext, Context, Handler, Message, Recipient, WrapFuture,
};

use super::run::{CopilotSource, RunMemory, RunOutput};
use crate::calendar::day_start;
use crate::election::validity::under_lease;
use crate::election::Grant;
use crate::health::{ComponentStatus, HealthReporter};
use crate::messages::UpsertBatch;
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
    running: bool,
}

/// Start a run now (ignored while one runs).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct CopilotRunNow;

/// A run finished.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RunDone(pub RunOutput);

impl CopilotActor {
    pub fn new(args: CopilotActorArgs) -> CopilotActor {
        CopilotActor {
            args,
            running: false,
        }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, RunMemory> {
        self.args
            .memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn publish(&mut self, out: RunOutput) {
        let scope = self.args.source.scope();
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
            ledger.add(families::RUNS.name, base(&[("result", result)]), 1.0);
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
        let status = if out.problems.is_empty() {
            ComponentStatus::Up
        } else {
            ComponentStatus::Down(out.problems.join("; "))
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
            return;
        }
        self.running = true;
        let source = self.args.source.clone();
        let previous = self.memory().clone();
        let now = self.args.clock.now();
        let span = tracing::info_span!(parent: None, "copilot.run",
            component = %self.args.component, problems = tracing::field::Empty,
            otel.status_code = tracing::field::Empty);
        let run = span.in_scope(|| source.run(previous, now));
        // Under the grant: nothing starts once its lease has lapsed, a run in flight is
        // dropped at the lapse, and the client checks the lease before every request.
        let validity = self.args.grant.as_ref().map(|g| g.validity.clone());
        let traced = span.clone();
        let run = tracing::Instrument::instrument(under_lease(validity, run), span);
        ctx.spawn(run.into_actor(self).map(
            move |out, act, ctx| match out {
                Ok(out) => {
                    traced.record("problems", out.problems.len() as i64);
                    if !out.problems.is_empty() {
                        traced.record("otel.status_code", "ERROR");
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
        self.publish(done.0);
    }
}
