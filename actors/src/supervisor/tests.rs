//! Behaviour tests of the supervisor. Every test runs on a paused tokio clock: time only moves
//! when all tasks are idle, straight to the next timer, so delays are asserted exactly and
//! "nothing happens" is asserted by letting an hour pass, never by sleeping and hoping.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use super::*;
use crate::observe::{Observer, SupervisionEvent};

const MS: Duration = Duration::from_millis(1);

// ---------------------------------------------------------------------------------------------
// Event tape: an observer that timestamps every supervision event.

#[derive(Debug, Clone, PartialEq)]
struct Event {
    at: Instant,
    line: String,
    delay: Option<Duration>,
}

struct Tape(UnboundedSender<Event>);

impl Observer for Tape {
    fn on_supervision(&self, event: &SupervisionEvent<'_>) {
        let (line, delay) = match *event {
            SupervisionEvent::Started { supervisor, child } => {
                (format!("{supervisor}: started {child}"), None)
            }
            SupervisionEvent::Exited {
                supervisor,
                child,
                reason,
            } => (format!("{supervisor}: exited {child} ({reason})"), None),
            SupervisionEvent::Restarting {
                supervisor,
                child,
                attempt,
                delay,
            } => (
                format!("{supervisor}: restarting {child} #{attempt}"),
                Some(delay),
            ),
            SupervisionEvent::GaveUp { supervisor, .. } => (format!("{supervisor}: gave up"), None),
        };
        let _ = self.0.send(Event {
            at: Instant::now(),
            line,
            delay,
        });
    }
}

struct Events(UnboundedReceiver<Event>);

fn tape() -> (Arc<dyn Observer>, Events) {
    let (tx, rx) = unbounded_channel();
    (Arc::new(Tape(tx)), Events(rx))
}

impl Events {
    /// The next event; fails the test if none comes within a (paused) day.
    async fn next(&mut self) -> Event {
        match tokio::time::timeout(Duration::from_secs(86_400), self.0.recv()).await {
            Ok(Some(event)) => event,
            other => panic!("expected another supervision event, got {other:?}"),
        }
    }

    /// The next `lines.len()` events, which must read `lines`.
    async fn expect(&mut self, lines: &[&str]) -> Vec<Event> {
        let mut got = Vec::new();
        for _ in lines {
            got.push(self.next().await);
        }
        let text: Vec<&str> = got.iter().map(|e| e.line.as_str()).collect();
        assert_eq!(text, lines);
        got
    }

    /// Lets an hour of paused time pass and asserts no event arrived meanwhile.
    async fn expect_quiet(&mut self) {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        if let Ok(event) = self.0.try_recv() {
            panic!("expected no event, got {event:?}");
        }
    }
}

/// Asserts a measured paused-clock gap equals `expected` up to tokio's timer resolution:
/// timers fire on whole-millisecond ticks, rounding deadlines up, and a fractional delay
/// (jitter) starting off a tick can land up to two ticks later: 72.86 ms was seen as 74 ms.
#[track_caller]
fn assert_gap(gap: Duration, expected: Duration) {
    assert!(
        gap >= expected && gap <= expected + 2 * MS,
        "gap {gap:?}, expected {expected:?} (+ at most 2 ms of timer rounding)"
    );
}

// ---------------------------------------------------------------------------------------------
// Test actors.

type Journal = Arc<Mutex<Vec<String>>>;

fn note(journal: &Journal, line: String) {
    journal.lock().expect("journal lock").push(line);
}

fn read(journal: &Journal) -> Vec<String> {
    journal.lock().expect("journal lock").clone()
}

/// A counter actor that can be told to crash in the ways a real actor can.
struct Worker {
    name: &'static str,
    child: ChildContext,
    generation: u32,
    count: u32,
    journal: Journal,
}

impl Actor for Worker {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Self::Context) {
        note(&self.journal, format!("started {}", self.name));
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        note(&self.journal, format!("stopped {}", self.name));
    }
}

#[derive(Message)]
#[rtype(result = "u32")]
struct Incr;

#[derive(Message)]
#[rtype(result = "(u32, u32)")]
struct Get;

#[derive(Message)]
#[rtype(result = "()")]
struct Crash;

#[derive(Message)]
#[rtype(result = "()")]
struct Declare(&'static str);

#[derive(Message)]
#[rtype(result = "()")]
struct SpawnPanic;

impl Handler<Incr> for Worker {
    type Result = u32;
    fn handle(&mut self, _: Incr, _: &mut Self::Context) -> u32 {
        self.count += 1;
        self.count
    }
}

impl Handler<Get> for Worker {
    type Result = MessageResult<Get>;
    fn handle(&mut self, _: Get, _: &mut Self::Context) -> Self::Result {
        MessageResult((self.generation, self.count))
    }
}

impl Handler<Crash> for Worker {
    type Result = ();
    fn handle(&mut self, _: Crash, _: &mut Self::Context) {
        panic!("handler boom");
    }
}

impl Handler<Declare> for Worker {
    type Result = ();
    fn handle(&mut self, msg: Declare, _: &mut Self::Context) {
        self.child.fail(msg.0);
    }
}

impl Handler<SpawnPanic> for Worker {
    type Result = ();
    fn handle(&mut self, _: SpawnPanic, _: &mut Self::Context) {
        self.child.spawn_watched(async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            panic!("spawned boom");
        });
    }
}

/// A factory building a fresh `Worker` with the next generation number.
fn worker(name: &'static str, journal: &Journal) -> impl FnMut(&ChildContext) -> Worker {
    let journal = journal.clone();
    let generations = Arc::new(AtomicU32::new(0));
    move |child| Worker {
        name,
        child: child.clone(),
        generation: generations.fetch_add(1, Ordering::SeqCst) + 1,
        count: 0,
        journal: journal.clone(),
    }
}

/// An actor that vetoes every stop request.
struct Stubborn {
    journal: Journal,
}

impl Actor for Stubborn {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Self::Context) {
        note(&self.journal, "started stubborn".into());
    }

    fn stopping(&mut self, _: &mut Self::Context) -> Running {
        note(&self.journal, "stubborn refuses to stop".into());
        Running::Continue
    }
}

fn backoff(jitter: f64) -> Backoff {
    Backoff {
        initial: 100 * MS,
        max: 500 * MS,
        jitter,
        reset_after: Duration::from_secs(60),
    }
}

fn root_spec(strategy: Strategy, observer: &Arc<dyn Observer>) -> SupervisorSpec {
    SupervisorSpec::new("root", strategy)
        .observer(observer.clone())
        .backoff(backoff(0.0))
        .rng_seed(7)
}

/// A task child that waits for its stop request.
fn idle_task(name: &'static str) -> ChildSpec {
    ChildSpec::task(name, |stop| async move {
        stop.cancelled().await;
        Ok::<(), String>(())
    })
}

// ---------------------------------------------------------------------------------------------
// Restart and fresh state.

/// A panic inside an actor's handler is reported as a failure; the child is restarted after
/// the backoff delay with fresh state, and its slot points at the new incarnation.
#[actix_rt::test]
async fn panicking_handler_restarts_actor_with_fresh_state() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let journal = Journal::default();
    let (spec, slot) = ChildSpec::actor("worker", worker("worker", &journal));
    let root = start(root_spec(Strategy::OneForOne, &observer).child(spec));
    events.expect(&["root: started worker"]).await;

    let first = slot.get().expect("slot filled at start");
    assert_eq!(
        first.send(Incr).await.expect("first incarnation answers"),
        1
    );
    assert_eq!(
        first.send(Incr).await.expect("first incarnation answers"),
        2
    );
    first.do_send(Crash);

    let seen = events
        .expect(&[
            "root: exited worker (panicked: handler boom)",
            "root: restarting worker #1",
            "root: started worker",
        ])
        .await;
    assert_eq!(seen[1].delay, Some(100 * MS));
    assert_gap(seen[2].at - seen[0].at, 100 * MS);

    let second = slot.get().expect("slot refilled after restart");
    assert_ne!(first, second);
    assert_eq!(
        second.send(Get).await.expect("new incarnation answers"),
        (2, 0)
    );
    assert!(
        first.send(Get).await.is_err(),
        "old incarnation still answers"
    );
    assert_eq!(
        root.shutdown(Duration::from_secs(10)).await,
        SupervisorExit::Stopped
    );
    assert!(slot.get().is_none());
}

/// A panic in work the actor spawned with `spawn_watched` fails the actor: it is stopped
/// gracefully (its `stopped` hook runs) and restarted.
#[actix_rt::test]
async fn panic_in_spawned_work_fails_and_restarts_the_child() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let journal = Journal::default();
    let (spec, slot) = ChildSpec::actor("worker", worker("worker", &journal));
    let _root = start(root_spec(Strategy::OneForOne, &observer).child(spec));
    events.expect(&["root: started worker"]).await;

    slot.get().expect("running").do_send(SpawnPanic);
    events
        .expect(&[
            "root: exited worker (panicked: spawned boom)",
            "root: restarting worker #1",
            "root: started worker",
        ])
        .await;
    let (generation, _) = slot
        .get()
        .expect("restarted")
        .send(Get)
        .await
        .expect("new incarnation answers");
    assert_eq!(generation, 2);
    assert_eq!(
        read(&journal),
        ["started worker", "stopped worker", "started worker"]
    );
}

/// `ChildContext::fail` makes the exit abnormal with the declared reason, so even a
/// `Transient` actor is stopped and restarted.
#[actix_rt::test]
async fn declared_failure_stops_and_restarts_transient_actor() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let journal = Journal::default();
    let (spec, slot) = ChildSpec::actor("worker", worker("worker", &journal));
    let _root = start(
        root_spec(Strategy::OneForOne, &observer).child(spec.restart(RestartType::Transient)),
    );
    events.expect(&["root: started worker"]).await;

    slot.get().expect("running").do_send(Declare("redis lost"));
    events
        .expect(&[
            "root: exited worker (failed: redis lost)",
            "root: restarting worker #1",
            "root: started worker",
        ])
        .await;
}

/// A factory that panics is a failed start: reported, backed off and retried.
#[actix_rt::test]
async fn panicking_factory_is_a_failed_start_and_is_retried() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let mut starts = 0;
    let spec = ChildSpec::task("probe", move |stop| {
        starts += 1;
        assert!(starts > 1, "config not ready");
        async move {
            stop.cancelled().await;
            Ok::<(), String>(())
        }
    });
    let _root = start(root_spec(Strategy::OneForOne, &observer).child(spec));
    events
        .expect(&[
            "root: exited probe (panicked: while starting: config not ready)",
            "root: restarting probe #1",
            "root: started probe",
        ])
        .await;
}

/// A child whose dependency started before it is not running fails its start, naming the
/// dependency, and is retried; once the dependency runs, it starts.
#[actix_rt::test]
async fn a_missing_dependency_is_a_failed_start_and_is_retried() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let journal = Journal::default();
    let store_slot = ActorSlot::<Worker>::new();
    let store: StartedBefore<Declare> = StartedBefore::slot("store", &store_slot);
    let user_slot = ActorSlot::<Worker>::new();
    let mut build = worker("user", &journal);
    let user = ChildSpec::try_actor_in(&user_slot, "user", move |child| {
        store.get().map(|_| build(child))
    });
    // Listed in the wrong order: the user starts before its dependency.
    let _root = start(root_spec(Strategy::OneForOne, &observer).child(user).child(
        ChildSpec::actor_in(&store_slot, "store", worker("store", &journal)),
    ));
    events
        .expect(&[
            "root: started user",
            "root: started store",
            "root: exited user (failed: store is not running; it must start before this child)",
            "root: restarting user #1",
            "root: started user",
        ])
        .await;
    assert!(user_slot.get().is_some());
}

// ---------------------------------------------------------------------------------------------
// Restart types.

/// How the first incarnation of a task child ends.
#[derive(Clone, Copy, Debug)]
enum End {
    Ok,
    Err,
    Panic,
}

/// Runs a task child whose first incarnation ends with `end` (later ones idle) and returns
/// whether it was restarted.
async fn restarted(restart: RestartType, end: End) -> bool {
    let (observer, mut events) = tape();
    let mut incarnation = 0;
    let spec = ChildSpec::task("job", move |stop| {
        incarnation += 1;
        let first = incarnation == 1;
        async move {
            if first {
                match end {
                    End::Ok => return Ok(()),
                    End::Err => return Err("boom".to_owned()),
                    End::Panic => panic!("task boom"),
                }
            }
            stop.cancelled().await;
            Ok(())
        }
    })
    .restart(restart);
    let root = start(root_spec(Strategy::OneForOne, &observer).child(spec));
    let exited = match end {
        End::Ok => "root: exited job (normal)",
        End::Err => "root: exited job (failed: boom)",
        End::Panic => "root: exited job (panicked: task boom)",
    };
    events.expect(&["root: started job", exited]).await;
    let restarted = match tokio::time::timeout(Duration::from_secs(3600), events.0.recv()).await {
        Ok(Some(event)) => {
            assert_eq!(event.line, "root: restarting job #1");
            events.expect(&["root: started job"]).await;
            true
        }
        Ok(None) => unreachable!("the tape's sender lives in the supervisor"),
        Err(_) => false,
    };
    events.expect_quiet().await;
    assert_eq!(
        root.shutdown(Duration::from_secs(10)).await,
        SupervisorExit::Stopped
    );
    restarted
}

/// Permanent children restart after any exit, transient ones only after an abnormal exit
/// (error or panic), temporary ones never.
#[actix_rt::test]
async fn restart_type_decides_which_exits_restart() {
    tokio::time::pause();
    let cases = [
        (RestartType::Permanent, End::Ok, true),
        (RestartType::Permanent, End::Err, true),
        (RestartType::Permanent, End::Panic, true),
        (RestartType::Transient, End::Ok, false),
        (RestartType::Transient, End::Err, true),
        (RestartType::Transient, End::Panic, true),
        (RestartType::Temporary, End::Ok, false),
        (RestartType::Temporary, End::Err, false),
        (RestartType::Temporary, End::Panic, false),
    ];
    for (restart, end, expected) in cases {
        assert_eq!(
            restarted(restart, end).await,
            expected,
            "{restart:?} after {end:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies.

/// Starts workers a, b, c under `strategy`, crashes b, and returns the event lines up to the
/// restarts being done plus which slots changed address.
async fn crash_middle_child(strategy: Strategy, expected: &[&str]) -> [bool; 3] {
    let (observer, mut events) = tape();
    let journal = Journal::default();
    let mut spec = root_spec(strategy, &observer);
    let mut slots = Vec::new();
    for name in ["a", "b", "c"] {
        let (child, slot) = ChildSpec::actor(name, worker(name, &journal));
        spec = spec.child(child);
        slots.push(slot);
    }
    let _root = start(spec);
    events
        .expect(&["root: started a", "root: started b", "root: started c"])
        .await;
    let before: Vec<_> = slots.iter().map(|s| s.get().expect("running")).collect();
    before[1].do_send(Crash);
    events.expect(expected).await;
    events.expect_quiet().await;
    let mut changed = [false; 3];
    for (i, slot) in slots.iter().enumerate() {
        changed[i] = slot.get().expect("running again") != before[i];
    }
    changed
}

/// one_for_one restarts only the crashed child; its siblings keep running untouched.
#[actix_rt::test]
async fn one_for_one_restarts_only_the_failed_child() {
    tokio::time::pause();
    let changed = crash_middle_child(
        Strategy::OneForOne,
        &[
            "root: exited b (panicked: handler boom)",
            "root: restarting b #1",
            "root: started b",
        ],
    )
    .await;
    assert_eq!(changed, [false, true, false]);
}

/// one_for_all stops the siblings in reverse order, then restarts every child in order.
#[actix_rt::test]
async fn one_for_all_stops_siblings_in_reverse_and_restarts_all_in_order() {
    tokio::time::pause();
    let changed = crash_middle_child(
        Strategy::OneForAll,
        &[
            "root: exited b (panicked: handler boom)",
            "root: exited c (shutdown)",
            "root: exited a (shutdown)",
            "root: restarting a #1",
            "root: restarting b #1",
            "root: restarting c #1",
            "root: started a",
            "root: started b",
            "root: started c",
        ],
    )
    .await;
    assert_eq!(changed, [true, true, true]);
}

/// rest_for_one restarts the crashed child and those started after it, not earlier ones.
#[actix_rt::test]
async fn rest_for_one_restarts_the_failed_child_and_later_ones() {
    tokio::time::pause();
    let changed = crash_middle_child(
        Strategy::RestForOne,
        &[
            "root: exited b (panicked: handler boom)",
            "root: exited c (shutdown)",
            "root: restarting b #1",
            "root: restarting c #1",
            "root: started b",
            "root: started c",
        ],
    )
    .await;
    assert_eq!(changed, [false, true, true]);
}

/// A temporary sibling taken down by a one_for_all restart stays down; the others come back.
#[actix_rt::test]
async fn one_for_all_does_not_restart_a_temporary_sibling() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let journal = Journal::default();
    let (a, slot_a) = ChildSpec::actor("a", worker("a", &journal));
    let _root = start(
        root_spec(Strategy::OneForAll, &observer)
            .child(a)
            .child(idle_task("t").restart(RestartType::Temporary)),
    );
    events.expect(&["root: started a", "root: started t"]).await;
    slot_a.get().expect("running").do_send(Crash);
    events
        .expect(&[
            "root: exited a (panicked: handler boom)",
            "root: exited t (shutdown)",
            "root: restarting a #1",
            "root: started a",
        ])
        .await;
    events.expect_quiet().await;
}

// ---------------------------------------------------------------------------------------------
// Intensity and escalation.

/// A child that keeps failing exhausts its supervisor's intensity; that supervisor stops and
/// escalates to the root as a failure; the root restarts it once, and when its own intensity
/// is exceeded the root gives up and `gave_up()` resolves.
#[actix_rt::test]
async fn exceeded_intensity_escalates_to_parent_and_root_gives_up() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let mid = || {
        SupervisorSpec::new("mid", Strategy::OneForOne)
            .intensity(Intensity {
                max_restarts: 2,
                within: Duration::from_secs(60),
            })
            .backoff(backoff(0.0))
            .child(ChildSpec::task("flaky", |_stop| async {
                Err::<(), _>("down")
            }))
    };
    let root = start(
        root_spec(Strategy::OneForOne, &observer)
            .intensity(Intensity {
                max_restarts: 1,
                within: Duration::from_secs(60),
            })
            .child(ChildSpec::supervisor("mid", mid)),
    );
    let mid_gives_up = [
        "mid: exited flaky (failed: down)",
        "mid: restarting flaky #1",
        "mid: started flaky",
        "mid: exited flaky (failed: down)",
        "mid: restarting flaky #2",
        "mid: started flaky",
        "mid: exited flaky (failed: down)",
        "mid: gave up",
    ];
    events
        .expect(&["mid: started flaky", "root: started mid"])
        .await;
    events.expect(&mid_gives_up).await;
    let escalated = events.next().await;
    assert!(
        escalated
            .line
            .starts_with("root: exited mid (failed: more than 2 restarts within 60s"),
        "{escalated:?}"
    );
    events
        .expect(&[
            "root: restarting mid #1",
            "mid: started flaky",
            "root: started mid",
        ])
        .await;
    events.expect(&mid_gives_up).await;
    assert!(events.next().await.line.starts_with("root: exited mid"));
    events.expect(&["root: gave up"]).await;

    let reason = root.gave_up().await;
    assert!(
        reason.starts_with("more than 1 restarts within 60s; last: child mid failed"),
        "{reason}"
    );
    assert!(matches!(root.wait().await, SupervisorExit::GaveUp(_)));
}

// ---------------------------------------------------------------------------------------------
// Backoff.

/// A task child that fails immediately in incarnations 1-4, fails after running two minutes
/// in incarnation 5, then idles. Returns (Restarting delay, measured Exited→Started gap).
async fn restart_delays(backoff: Backoff, seed: u64) -> Vec<(Duration, Duration)> {
    let (observer, mut events) = tape();
    let mut incarnation = 0;
    let spec = ChildSpec::task("flaky", move |stop| {
        incarnation += 1;
        let n = incarnation;
        async move {
            match n {
                1..=4 => Err("down"),
                5 => {
                    tokio::time::sleep(Duration::from_secs(120)).await;
                    Err("down again")
                }
                _ => {
                    stop.cancelled().await;
                    Ok(())
                }
            }
        }
    });
    let _root = start(
        SupervisorSpec::new("root", Strategy::OneForOne)
            .observer(observer)
            .intensity(Intensity {
                max_restarts: 100,
                within: Duration::from_secs(60),
            })
            .backoff(backoff)
            .rng_seed(seed)
            .child(spec),
    );
    events.expect(&["root: started flaky"]).await;
    let mut out = Vec::new();
    for _ in 0..5 {
        let exited = events.next().await;
        let restarting = events.next().await;
        let started = events.next().await;
        assert_eq!(started.line, "root: started flaky");
        let delay = restarting
            .delay
            .expect("a restarting event carries its delay");
        out.push((delay, started.at - exited.at));
    }
    out
}

/// Without jitter the delay doubles per consecutive failure up to the cap, the measured gap
/// equals it, and after a run longer than `reset_after` the delay starts over.
#[actix_rt::test]
async fn backoff_grows_to_the_cap_and_resets_after_stable_run() {
    tokio::time::pause();
    let delays = restart_delays(backoff(0.0), 1).await;
    let reported: Vec<Duration> = delays.iter().map(|(delay, _)| *delay).collect();
    let expected: Vec<Duration> = [100, 200, 400, 500, 100].map(|ms| ms * MS).to_vec();
    assert_eq!(reported, expected);
    for (delay, gap) in delays {
        assert_gap(gap, delay);
    }
}

/// With jitter every delay lies in `[base * (1 - jitter), base]`, the gap equals the reported
/// delay, and a fixed seed reproduces the same delays.
#[actix_rt::test]
async fn jittered_backoff_stays_within_bounds_and_is_reproducible() {
    tokio::time::pause();
    let delays = restart_delays(backoff(0.5), 42).await;
    for ((delay, gap), base_ms) in delays.iter().zip([100u64, 200, 400, 500, 100]) {
        let base = Duration::from_millis(base_ms);
        assert!(
            *delay <= base && *delay >= base / 2,
            "{delay:?} vs {base:?}"
        );
        assert_gap(*gap, *delay);
    }
    assert_eq!(delays, restart_delays(backoff(0.5), 42).await);
}

// ---------------------------------------------------------------------------------------------
// Start order, stop order, shutdown.

/// Children start in order and stop in reverse; a child that vetoes its stop is aborted
/// exactly at its shutdown timeout and the next one is stopped only afterwards.
#[actix_rt::test]
async fn shutdown_stops_in_reverse_order_and_aborts_a_child_ignoring_stop() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let journal = Journal::default();
    let (a, _) = ChildSpec::actor("a", worker("a", &journal));
    let stubborn_journal = journal.clone();
    let (b, slot_b) = ChildSpec::actor("b", move |_: &ChildContext| Stubborn {
        journal: stubborn_journal.clone(),
    });
    let root = start(
        root_spec(Strategy::OneForOne, &observer)
            .child(a)
            .child(b.shutdown_timeout(Duration::from_secs(2)))
            .child(idle_task("c")),
    );
    events
        .expect(&["root: started a", "root: started b", "root: started c"])
        .await;

    let asked = Instant::now();
    assert_eq!(
        root.shutdown(Duration::from_secs(30)).await,
        SupervisorExit::Stopped
    );
    let seen = events
        .expect(&[
            "root: exited c (shutdown)",
            "root: exited b (killed after shutdown timeout)",
            "root: exited a (shutdown)",
        ])
        .await;
    assert_eq!(seen[0].at, asked);
    assert_gap(seen[1].at - asked, Duration::from_secs(2));
    assert_eq!(seen[2].at, seen[1].at);
    assert_eq!(
        read(&journal),
        [
            "started a",
            "started stubborn",
            "stubborn refuses to stop",
            // actix's `ContextFut` asks once more when the aborted task drops it.
            "stubborn refuses to stop",
            "stopped a"
        ]
    );
    assert!(slot_b.get().is_none());
}

/// When the whole tree cannot stop before the deadline, `shutdown` returns at the deadline
/// and the remaining children are aborted with the supervisor.
#[actix_rt::test]
async fn shutdown_deadline_aborts_the_tree() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let journal = Journal::default();
    let stubborn_journal = journal.clone();
    let (b, slot_b) = ChildSpec::actor("b", move |_: &ChildContext| Stubborn {
        journal: stubborn_journal.clone(),
    });
    let root = start(
        root_spec(Strategy::OneForOne, &observer)
            .child(b.shutdown_timeout(Duration::from_secs(60))),
    );
    events.expect(&["root: started b"]).await;
    let asked = Instant::now();
    assert_eq!(
        root.shutdown(Duration::from_secs(1)).await,
        SupervisorExit::DeadlineExceeded
    );
    assert_gap(Instant::now() - asked, Duration::from_secs(1));
    let killed = events.next().await;
    assert_eq!(
        killed.line,
        "root: exited b (killed after shutdown timeout)"
    );
    assert_eq!(root.wait().await, SupervisorExit::DeadlineExceeded);
    assert!(slot_b.get().is_none());
}

/// Slots, controls and the root handle cross threads (actix-web workers, the signal task).
#[test]
fn slot_and_handle_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ActorSlot<Worker>>();
    assert_send_sync::<SupervisorHandle>();
    assert_send_sync::<ChildContext>();
    assert_send_sync::<SupervisorControl>();
    assert_send_sync::<SupervisorSlot>();
    assert_send_sync::<ControlError>();
}

// ---------------------------------------------------------------------------------------------
// Dynamic children (SupervisorControl, SupervisorSlot).

/// Awaits a control request (or anything else that must end); fails the test if it has not
/// resolved within a (paused) day.
async fn settle<F: std::future::Future>(future: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(86_400), future).await {
        Ok(output) => output,
        Err(_) => panic!("did not resolve within a (paused) day"),
    }
}

/// Lets other local tasks run, without moving the clock, until `line` is in the journal.
async fn until_noted(journal: &Journal, line: &str) {
    for _ in 0..1000 {
        if read(journal).iter().any(|noted| noted == line) {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("never noted {line:?}: {:?}", read(journal));
}

fn names(list: &[&str]) -> Result<Vec<String>, ControlError> {
    Ok(list.iter().map(|name| (*name).to_owned()).collect())
}

/// `start_child` on a running root starts the child at once (slot filled, `Started` fired);
/// it is then supervised like a static child (a crash restarts it after the backoff with
/// fresh state) and stopped first at shutdown, being the last one started.
#[actix_rt::test]
async fn start_child_adds_a_supervised_child_to_a_running_root() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let journal = Journal::default();
    let root = start(root_spec(Strategy::OneForOne, &observer).child(idle_task("a")));
    events.expect(&["root: started a"]).await;
    let control = root.control();

    let (spec, slot) = ChildSpec::actor("dyn", worker("dyn", &journal));
    assert_eq!(settle(control.start_child(spec)).await, Ok(()));
    let first = slot.get().expect("slot filled once start_child resolved");
    events.expect(&["root: started dyn"]).await;
    assert_eq!(settle(control.children()).await, names(&["a", "dyn"]));

    first.do_send(Crash);
    let seen = events
        .expect(&[
            "root: exited dyn (panicked: handler boom)",
            "root: restarting dyn #1",
            "root: started dyn",
        ])
        .await;
    assert_gap(seen[2].at - seen[0].at, 100 * MS);
    let (generation, _) = slot
        .get()
        .expect("restarted")
        .send(Get)
        .await
        .expect("new incarnation answers");
    assert_eq!(generation, 2);

    assert_eq!(
        root.shutdown(Duration::from_secs(10)).await,
        SupervisorExit::Stopped
    );
    events
        .expect(&["root: exited dyn (shutdown)", "root: exited a (shutdown)"])
        .await;
}

/// A dynamic transient child that ends normally and a dynamic temporary one that fails are
/// not restarted and no longer listed.
#[actix_rt::test]
async fn dynamic_children_follow_their_restart_type() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let root = start(root_spec(Strategy::OneForOne, &observer));
    let control = root.control();
    let once = ChildSpec::task("once", |_stop| async { Ok::<(), String>(()) })
        .restart(RestartType::Transient);
    let doomed = ChildSpec::task("doomed", |_stop| async { Err::<(), _>("boom") })
        .restart(RestartType::Temporary);
    assert_eq!(settle(control.start_child(once)).await, Ok(()));
    assert_eq!(settle(control.start_child(doomed)).await, Ok(()));
    events
        .expect(&[
            "root: started once",
            "root: exited once (normal)",
            "root: started doomed",
            "root: exited doomed (failed: boom)",
        ])
        .await;
    events.expect_quiet().await;
    assert_eq!(settle(control.children()).await, names(&[]));
}

/// Failures of a dynamic child count toward the intensity; exceeding it makes the root stop
/// every child and give up, after which its control answers `SupervisorGone`.
#[actix_rt::test]
async fn dynamic_child_failures_count_toward_intensity_and_escalate() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let root = start(
        root_spec(Strategy::OneForOne, &observer)
            .intensity(Intensity {
                max_restarts: 1,
                within: Duration::from_secs(60),
            })
            .child(idle_task("a")),
    );
    events.expect(&["root: started a"]).await;
    let control = root.control();
    let flaky = ChildSpec::task("flaky", |_stop| async { Err::<(), _>("down") });
    assert_eq!(settle(control.start_child(flaky)).await, Ok(()));
    events
        .expect(&[
            "root: started flaky",
            "root: exited flaky (failed: down)",
            "root: restarting flaky #1",
            "root: started flaky",
            "root: exited flaky (failed: down)",
            "root: exited a (shutdown)",
            "root: gave up",
        ])
        .await;
    let reason = settle(root.gave_up()).await;
    assert!(
        reason.starts_with("more than 1 restarts within 60s; last: child flaky failed: down"),
        "{reason}"
    );
    assert_eq!(
        settle(control.children()).await,
        Err(ControlError::SupervisorGone)
    );
    assert_eq!(
        settle(control.start_child(idle_task("late"))).await,
        Err(ControlError::SupervisorGone)
    );
    assert_eq!(
        settle(control.terminate_child("a")).await,
        Err(ControlError::SupervisorGone)
    );
}

/// `terminate_child` resolves only once the child exited (its `stopped` hook ran, its slot is
/// empty, `Exited (shutdown)` was emitted); the child is never restarted and, with an
/// intensity of zero, the root does not give up: terminating is not a failure. Unknown or
/// already terminated names answer `Ok(false)`; static children can be terminated too.
#[actix_rt::test]
async fn terminate_child_waits_for_the_exit_and_never_restarts_it() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let journal = Journal::default();
    let root = start(
        root_spec(Strategy::OneForOne, &observer)
            .intensity(Intensity {
                max_restarts: 0,
                within: Duration::from_secs(60),
            })
            .child(idle_task("a")),
    );
    let control = root.control();
    let (spec, slot) = ChildSpec::actor("dyn", worker("dyn", &journal));
    assert_eq!(settle(control.start_child(spec)).await, Ok(()));
    events
        .expect(&["root: started a", "root: started dyn"])
        .await;

    let asked = Instant::now();
    assert_eq!(settle(control.terminate_child("dyn")).await, Ok(true));
    assert_eq!(Instant::now(), asked);
    assert!(slot.get().is_none());
    assert_eq!(read(&journal), ["started dyn", "stopped dyn"]);
    events.expect(&["root: exited dyn (shutdown)"]).await;
    events.expect_quiet().await;
    assert!(slot.get().is_none());

    assert_eq!(settle(control.children()).await, names(&["a"]));
    assert_eq!(settle(control.terminate_child("dyn")).await, Ok(false));
    assert_eq!(settle(control.terminate_child("nope")).await, Ok(false));
    assert_eq!(settle(control.terminate_child("a")).await, Ok(true));
    events.expect(&["root: exited a (shutdown)"]).await;
    events.expect_quiet().await;
    assert_eq!(settle(control.children()).await, names(&[]));
    assert_eq!(
        root.shutdown(Duration::from_secs(10)).await,
        SupervisorExit::Stopped
    );
}

/// A child pending restart is live: `start_child` of its name is refused, and
/// `terminate_child` cancels the restart (`Ok(true)`, nothing starts after the backoff).
#[actix_rt::test]
async fn terminate_child_cancels_a_pending_restart() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let journal = Journal::default();
    let root = start(root_spec(Strategy::OneForOne, &observer));
    let control = root.control();
    let (spec, slot) = ChildSpec::actor("dyn", worker("dyn", &journal));
    assert_eq!(settle(control.start_child(spec)).await, Ok(()));
    events.expect(&["root: started dyn"]).await;

    slot.get().expect("running").do_send(Crash);
    events
        .expect(&[
            "root: exited dyn (panicked: handler boom)",
            "root: restarting dyn #1",
        ])
        .await;
    assert_eq!(settle(control.children()).await, names(&["dyn"]));
    let (again, _) = ChildSpec::actor("dyn", worker("dyn", &journal));
    assert_eq!(
        settle(control.start_child(again)).await,
        Err(ControlError::AlreadyExists("dyn".into()))
    );
    assert_eq!(settle(control.terminate_child("dyn")).await, Ok(true));
    events.expect_quiet().await;
    assert!(slot.get().is_none());
    assert_eq!(settle(control.children()).await, names(&[]));
}

/// A live name (dynamic or static) cannot be started twice; a terminated name can be started
/// again, reusing its entry with fresh bookkeeping: its backoff starts over at attempt 1.
#[actix_rt::test]
async fn start_child_refuses_a_live_name_and_revives_a_terminated_one() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let journal = Journal::default();
    let root = start(root_spec(Strategy::OneForOne, &observer).child(idle_task("a")));
    events.expect(&["root: started a"]).await;
    let control = root.control();
    let slot = ActorSlot::new();
    let dynamic = || ChildSpec::actor_in(&slot, "dyn", worker("dyn", &journal));

    assert_eq!(settle(control.start_child(dynamic())).await, Ok(()));
    events.expect(&["root: started dyn"]).await;
    assert_eq!(
        settle(control.start_child(dynamic())).await,
        Err(ControlError::AlreadyExists("dyn".into()))
    );
    assert_eq!(
        settle(control.start_child(idle_task("a"))).await,
        Err(ControlError::AlreadyExists("a".into()))
    );

    // Two crashes in a row: the second restart backs off longer.
    for attempt in ["#1", "#2"] {
        slot.get().expect("running").do_send(Crash);
        let restarting = format!("root: restarting dyn {attempt}");
        events
            .expect(&[
                "root: exited dyn (panicked: handler boom)",
                &restarting,
                "root: started dyn",
            ])
            .await;
    }
    assert_eq!(settle(control.terminate_child("dyn")).await, Ok(true));
    events.expect(&["root: exited dyn (shutdown)"]).await;

    assert_eq!(settle(control.start_child(dynamic())).await, Ok(()));
    events.expect(&["root: started dyn"]).await;
    assert_eq!(settle(control.children()).await, names(&["a", "dyn"]));
    slot.get().expect("running again").do_send(Crash);
    let seen = events
        .expect(&[
            "root: exited dyn (panicked: handler boom)",
            "root: restarting dyn #1",
            "root: started dyn",
        ])
        .await;
    assert_eq!(seen[1].delay, Some(100 * MS));
    assert_eq!(settle(control.children()).await, names(&["a", "dyn"]));
}

/// A dynamic child vetoing its stop is aborted at its shutdown timeout and `terminate_child`
/// resolves then, without a restart although `Killed` is abnormal. Meanwhile the supervisor
/// keeps answering: `children` at once, `start_child` right after the termination.
#[actix_rt::test]
async fn terminate_child_aborts_a_child_ignoring_its_stop_after_its_timeout() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let journal = Journal::default();
    let root = start(root_spec(Strategy::OneForOne, &observer));
    let control = root.control();
    let stubborn_journal = journal.clone();
    let (spec, slot) = ChildSpec::actor("stubborn", move |_: &ChildContext| Stubborn {
        journal: stubborn_journal.clone(),
    });
    let spec = spec.shutdown_timeout(Duration::from_secs(2));
    assert_eq!(settle(control.start_child(spec)).await, Ok(()));
    events.expect(&["root: started stubborn"]).await;

    let asked = Instant::now();
    let terminating = {
        let control = control.clone();
        actix_rt::spawn(async move { control.terminate_child("stubborn").await })
    };
    until_noted(&journal, "stubborn refuses to stop").await;
    assert_eq!(settle(control.children()).await, names(&["stubborn"]));
    assert_eq!(Instant::now(), asked);
    assert_eq!(settle(control.start_child(idle_task("late"))).await, Ok(()));
    assert_gap(Instant::now() - asked, Duration::from_secs(2));
    let terminated = settle(terminating).await.expect("terminate task ran");
    assert_eq!(terminated, Ok(true));
    let seen = events
        .expect(&[
            "root: exited stubborn (killed after shutdown timeout)",
            "root: started late",
        ])
        .await;
    assert_gap(seen[0].at - asked, Duration::from_secs(2));
    events.expect_quiet().await;
    assert!(slot.get().is_none());
    assert_eq!(settle(control.children()).await, names(&["late"]));
}

/// While the root is shutting down every request answers `SupervisorGone` at once (no wait
/// for the children being stopped), and so does every request after it stopped.
#[actix_rt::test]
async fn control_requests_during_and_after_shutdown_answer_supervisor_gone() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let journal = Journal::default();
    let stubborn_journal = journal.clone();
    let (b, _) = ChildSpec::actor("b", move |_: &ChildContext| Stubborn {
        journal: stubborn_journal.clone(),
    });
    let root = start(
        root_spec(Strategy::OneForOne, &observer)
            .child(b.shutdown_timeout(Duration::from_secs(2)))
            .child(idle_task("c")),
    );
    events.expect(&["root: started b", "root: started c"]).await;
    let control = root.control();

    let shutting_down = {
        let root = root.clone();
        actix_rt::spawn(async move { root.shutdown(Duration::from_secs(30)).await })
    };
    // `c` stopped: the root now waits for `b`, which ignores its stop for 2 s.
    events.expect(&["root: exited c (shutdown)"]).await;
    let asked = Instant::now();
    let gone = Err(ControlError::SupervisorGone);
    assert_eq!(settle(control.children()).await, gone);
    assert_eq!(
        settle(control.start_child(idle_task("x"))).await,
        Err(ControlError::SupervisorGone)
    );
    assert_eq!(
        settle(control.terminate_child("b")).await,
        Err(ControlError::SupervisorGone)
    );
    assert_eq!(Instant::now(), asked);

    let exit = settle(shutting_down).await.expect("shutdown task ran");
    assert_eq!(exit, SupervisorExit::Stopped);
    events
        .expect(&["root: exited b (killed after shutdown timeout)"])
        .await;
    for control in [control, root.control()] {
        assert_eq!(settle(control.children()).await, gone);
        assert_eq!(
            settle(control.start_child(idle_task("x"))).await,
            Err(ControlError::SupervisorGone)
        );
        assert_eq!(
            settle(control.terminate_child("b")).await,
            Err(ControlError::SupervisorGone)
        );
    }
}

/// rest_for_one: a failing static child takes down the children after it, dynamic ones
/// included, stopped in reverse and restarted in order; a terminated dynamic child between
/// them stays down, and the earlier static child is untouched.
#[actix_rt::test]
async fn rest_for_one_restart_of_a_static_child_restarts_later_dynamic_children() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let journal = Journal::default();
    let (a, slot_a) = ChildSpec::actor("a", worker("a", &journal));
    let (b, slot_b) = ChildSpec::actor("b", worker("b", &journal));
    let root = start(root_spec(Strategy::RestForOne, &observer).child(a).child(b));
    let control = root.control();
    for name in ["d1", "d2", "d3"] {
        assert_eq!(settle(control.start_child(idle_task(name))).await, Ok(()));
    }
    events
        .expect(&[
            "root: started a",
            "root: started b",
            "root: started d1",
            "root: started d2",
            "root: started d3",
        ])
        .await;
    assert_eq!(settle(control.terminate_child("d2")).await, Ok(true));
    events.expect(&["root: exited d2 (shutdown)"]).await;

    let a_before = slot_a.get().expect("running");
    slot_b.get().expect("running").do_send(Crash);
    events
        .expect(&[
            "root: exited b (panicked: handler boom)",
            "root: exited d3 (shutdown)",
            "root: exited d1 (shutdown)",
            "root: restarting b #1",
            "root: restarting d1 #1",
            "root: restarting d3 #1",
            "root: started b",
            "root: started d1",
            "root: started d3",
        ])
        .await;
    events.expect_quiet().await;
    assert_eq!(slot_a.get(), Some(a_before));
    assert_eq!(
        settle(control.children()).await,
        names(&["a", "b", "d1", "d3"])
    );
}

/// A nested supervisor's slot holds its current incarnation's control: children started
/// through it are supervised there (exceeding the nested intensity escalates to the root).
/// The slot is empty before the root hears of the exit, the old control answers
/// `SupervisorGone`, and after the restart the slot holds the new incarnation's control,
/// which runs the spec's children only.
#[actix_rt::test]
async fn nested_supervisor_slot_follows_the_current_incarnation() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let journal = Journal::default();
    let scrapers = SupervisorSlot::new();
    let nested = || {
        SupervisorSpec::new("scrapers", Strategy::OneForOne)
            .intensity(Intensity {
                max_restarts: 0,
                within: Duration::from_secs(60),
            })
            .backoff(backoff(0.0))
            .child(idle_task("idle"))
    };
    assert!(scrapers.get().is_none());
    let root = start(
        root_spec(Strategy::OneForOne, &observer)
            .child(ChildSpec::supervisor_in(&scrapers, "scrapers", nested)),
    );
    events
        .expect(&["scrapers: started idle", "root: started scrapers"])
        .await;
    let first = scrapers.get().expect("slot filled at start");
    let acme = ActorSlot::new();
    let scraper = || ChildSpec::actor_in(&acme, "scrape.acme", worker("acme", &journal));
    assert_eq!(settle(first.start_child(scraper())).await, Ok(()));
    events.expect(&["scrapers: started scrape.acme"]).await;
    assert_eq!(
        settle(first.children()).await,
        names(&["idle", "scrape.acme"])
    );

    acme.get().expect("running").do_send(Crash);
    events
        .expect(&[
            "scrapers: exited scrape.acme (panicked: handler boom)",
            "scrapers: exited idle (shutdown)",
            "scrapers: gave up",
        ])
        .await;
    let escalated = events.next().await;
    assert!(
        escalated.line.starts_with(
            "root: exited scrapers (failed: more than 0 restarts within 60s; last: child \
             scrape.acme panicked: handler boom"
        ),
        "{escalated:?}"
    );
    assert!(scrapers.get().is_none(), "slot emptied before the exit");
    assert_eq!(
        settle(first.children()).await,
        Err(ControlError::SupervisorGone)
    );

    events
        .expect(&[
            "root: restarting scrapers #1",
            "scrapers: started idle",
            "root: started scrapers",
        ])
        .await;
    let second = scrapers.get().expect("slot refilled on restart");
    assert_eq!(settle(second.children()).await, names(&["idle"]));
    assert_eq!(
        settle(first.start_child(scraper())).await,
        Err(ControlError::SupervisorGone)
    );
    assert_eq!(settle(second.start_child(scraper())).await, Ok(()));
    events.expect(&["scrapers: started scrape.acme"]).await;

    assert_eq!(
        root.shutdown(Duration::from_secs(60)).await,
        SupervisorExit::Stopped
    );
    assert!(scrapers.get().is_none());
    assert_eq!(
        settle(second.children()).await,
        Err(ControlError::SupervisorGone)
    );
}

/// `start_child` off the supervisor's thread is refused (a `ChildSpec` cannot cross threads);
/// the other requests work from any thread.
#[actix_rt::test]
async fn start_child_off_the_supervisor_thread_is_refused() {
    tokio::time::pause();
    let (observer, mut events) = tape();
    let root = start(root_spec(Strategy::OneForOne, &observer).child(idle_task("a")));
    events.expect(&["root: started a"]).await;
    let control = root.control();
    let elsewhere = tokio::task::spawn_blocking(move || {
        futures::executor::block_on(async {
            (
                control.start_child(idle_task("x")).await,
                control.children().await,
            )
        })
    });
    let (started, listed) = settle(elsewhere).await.expect("blocking task ran");
    assert_eq!(started, Err(ControlError::WrongThread));
    assert_eq!(listed, names(&["a"]));
    events.expect_quiet().await;
}
