//! RoleManager behaviour on a paused tokio clock, against an in-memory lease table (a mock at
//! the [`LeaderElector`] port) shared by several managers, and a scraper host that writes every
//! start, stop and release on one tape, so the order of a step-down is asserted exactly.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use futures::future::{BoxFuture, FutureExt};
use futures::stream::{BoxStream, StreamExt};
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::manager::{RoleManager, RoleMode, RoleSettings, ScraperHost, StaleWrite};
use super::*;
use crate::health::{HealthReporter, Role};
use crate::messages::{ReportComponent, RoleChanged};
use crate::observe::MemRecorder;

const MS: Duration = Duration::from_millis(1);

/// The shared lease table: key → (value, expires at); members → last heartbeat.
#[derive(Default)]
struct Table {
    leases: BTreeMap<String, (String, Instant)>,
    seq: u64,
    members: BTreeMap<String, Instant>,
    /// Set: every call of an elector in this set fails (a partition).
    cut: Vec<String>,
}

struct Cluster {
    table: Mutex<Table>,
    events: broadcast::Sender<LeaseEvent>,
    lease: Duration,
    tape: Arc<Tape>,
}

impl Cluster {
    fn new(lease: Duration, tape: Arc<Tape>) -> Arc<Cluster> {
        Arc::new(Cluster {
            table: Mutex::new(Table::default()),
            events: broadcast::channel(64).0,
            lease,
            tape,
        })
    }

    fn key(scope: &LeaseScope) -> String {
        match scope {
            LeaseScope::Global => "lease".into(),
            LeaseScope::Org(org) => format!("lease:org:{org}"),
        }
    }

    /// Who holds `scope` now.
    fn holder(&self, scope: &LeaseScope) -> Option<String> {
        let table = self.table.lock().unwrap();
        table
            .leases
            .get(&Cluster::key(scope))
            .filter(|(_, until)| *until > Instant::now())
            .map(|(v, _)| v.rsplit('|').next().unwrap_or_default().to_string())
    }

    /// Someone else takes `scope` by force (what an expired-then-reacquired lease looks like).
    fn steal(&self, scope: &LeaseScope) {
        let mut table = self.table.lock().unwrap();
        table.seq += 1;
        let value = format!("{}|x|thief", table.seq);
        let until = Instant::now() + self.lease;
        table.leases.insert(Cluster::key(scope), (value, until));
    }

    fn cut(&self, identity: &str) {
        self.table.lock().unwrap().cut.push(identity.into());
    }
}

struct MockElector {
    cluster: Arc<Cluster>,
    identity: String,
}

#[derive(Debug, thiserror::Error)]
#[error("partitioned")]
struct Partitioned;

impl MockElector {
    fn check(&self, operation: &'static str) -> Result<(), ElectionError> {
        if self
            .cluster
            .table
            .lock()
            .unwrap()
            .cut
            .contains(&self.identity)
        {
            return Err(ElectionError::Backend {
                backend: "mock",
                operation,
                source: Box::new(Partitioned),
            });
        }
        Ok(())
    }
}

impl LeaderElector for MockElector {
    fn backend(&self) -> &'static str {
        "mock"
    }
    fn identity(&self) -> &str {
        &self.identity
    }
    fn try_acquire(
        &self,
        scope: &LeaseScope,
    ) -> BoxFuture<'static, Result<Acquire, ElectionError>> {
        let result = self.check("acquire").map(|()| {
            let mut table = self.cluster.table.lock().unwrap();
            let key = Cluster::key(scope);
            let now = Instant::now();
            if let Some((value, until)) = table.leases.get(&key) {
                if *until > now {
                    return Acquire::Held {
                        holder: value.rsplit('|').next().unwrap_or_default().into(),
                        ttl: *until - now,
                    };
                }
            }
            table.seq += 1;
            let value = format!("{}|t{}|{}", table.seq, table.seq, self.identity);
            table
                .leases
                .insert(key.clone(), (value.clone(), now + self.cluster.lease));
            Acquire::Acquired(Grant::leased(table.seq, key.into(), value.into()))
        });
        futures::future::ready(result).boxed()
    }
    fn renew(&self, grants: &[Grant]) -> BoxFuture<'static, Result<Vec<bool>, ElectionError>> {
        let result = self.check("renew").map(|()| {
            let mut table = self.cluster.table.lock().unwrap();
            let now = Instant::now();
            grants
                .iter()
                .map(|g| match table.leases.get_mut(&*g.lease_key) {
                    Some((value, until)) if *value == *g.value && *until > now => {
                        *until = now + self.cluster.lease;
                        true
                    }
                    _ => false,
                })
                .collect()
        });
        futures::future::ready(result).boxed()
    }
    fn release(&self, grants: &[Grant]) -> BoxFuture<'static, Result<(), ElectionError>> {
        let result = self.check("release").map(|()| {
            let mut table = self.cluster.table.lock().unwrap();
            for g in grants {
                self.cluster
                    .tape
                    .push(format!("{}: release {}", self.identity, g.lease_key));
                if table.leases.get(&*g.lease_key).map(|(v, _)| v.as_str()) == Some(&*g.value) {
                    table.leases.remove(&*g.lease_key);
                    let _ = self.cluster.events.send(LeaseEvent::Released {
                        lease_key: g.lease_key.to_string(),
                    });
                }
            }
        });
        futures::future::ready(result).boxed()
    }
    fn heartbeat(&self) -> BoxFuture<'static, Result<Membership, ElectionError>> {
        let result = self.check("heartbeat").map(|()| {
            let mut table = self.cluster.table.lock().unwrap();
            let now = Instant::now();
            table.members.insert(self.identity.clone(), now);
            let lease = self.cluster.lease;
            table
                .members
                .retain(|_, at| now.duration_since(*at) < lease);
            let next_expiry = table
                .members
                .iter()
                .filter(|(id, _)| **id != self.identity)
                .map(|(_, at)| (*at + lease).saturating_duration_since(now))
                .min();
            Membership {
                members: table.members.keys().cloned().collect(),
                next_expiry,
            }
        });
        futures::future::ready(result).boxed()
    }
    fn leave(&self) -> BoxFuture<'static, Result<(), ElectionError>> {
        self.cluster
            .table
            .lock()
            .unwrap()
            .members
            .remove(&self.identity);
        self.cluster.tape.push(format!("{}: leave", self.identity));
        let _ = self.cluster.events.send(LeaseEvent::Left {
            identity: self.identity.clone(),
        });
        futures::future::ready(Ok(())).boxed()
    }
    fn events(&self) -> BoxStream<'static, LeaseEvent> {
        tokio_stream_from(self.cluster.events.subscribe())
    }
}

fn tokio_stream_from(rx: broadcast::Receiver<LeaseEvent>) -> BoxStream<'static, LeaseEvent> {
    futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(event) => return Some((event, rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .boxed()
}

/// One ordered record of starts, stops, releases and announcements of every replica.
#[derive(Default)]
struct Tape(Mutex<Vec<String>>);

impl Tape {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Scrapers of one replica: org → grant epoch.
struct Host {
    identity: String,
    tape: Arc<Tape>,
    running: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl ScraperHost for Host {
    fn start(
        &self,
        org: &str,
        grant: Option<Grant>,
    ) -> futures::future::LocalBoxFuture<'static, Result<(), String>> {
        let epoch = grant.map_or(0, |g| g.epoch);
        self.tape
            .push(format!("{}: start {org} @{epoch}", self.identity));
        self.running.lock().unwrap().insert(org.into(), epoch);
        FutureExt::boxed_local(futures::future::ready(Ok(())))
    }
    fn stop(&self, org: &str) -> futures::future::LocalBoxFuture<'static, ()> {
        let (tape, running, line, org) = (
            self.tape.clone(),
            self.running.clone(),
            format!("{}: stop {org}", self.identity),
            org.to_string(),
        );
        FutureExt::boxed_local(async move {
            // Stopping takes a moment (the scraper's in-flight cycle is dropped).
            tokio::time::sleep(10 * MS).await;
            running.lock().unwrap().remove(&org);
            tape.push(line);
        })
    }
}

/// Records announcements.
struct Announced {
    identity: String,
    tape: Arc<Tape>,
    last: Arc<Mutex<Option<RoleChanged>>>,
}
impl Actor for Announced {
    type Context = Context<Self>;
}
impl Handler<RoleChanged> for Announced {
    type Result = ();
    fn handle(&mut self, msg: RoleChanged, _: &mut Context<Self>) {
        self.tape.push(format!(
            "{}: role {} @{} {:?}",
            self.identity,
            msg.role.as_str(),
            msg.epoch(),
            msg.owned_orgs
        ));
        *self.last.lock().unwrap() = Some(msg);
    }
}
struct Sink;
impl Actor for Sink {
    type Context = Context<Self>;
}
impl Handler<ReportComponent> for Sink {
    type Result = ();
    fn handle(&mut self, _: ReportComponent, _: &mut Context<Self>) {}
}

struct Replica {
    addr: Addr<RoleManager>,
    running: Arc<Mutex<BTreeMap<String, u64>>>,
    last: Arc<Mutex<Option<RoleChanged>>>,
    recorder: Arc<MemRecorder>,
    board: super::board::RoleBoard,
}

impl Replica {
    fn is_leader(&self) -> bool {
        self.last
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|m| m.role == Role::Leader)
    }
    fn orgs(&self) -> Vec<String> {
        self.running.lock().unwrap().keys().cloned().collect()
    }
}

fn settings(mode: RoleMode, orgs: &[&str]) -> RoleSettings {
    RoleSettings {
        mode,
        orgs: orgs.iter().map(|o| o.to_string()).collect(),
        lease_duration: Duration::from_secs(15),
        renew_deadline: Duration::from_secs(10),
        retry_period: Duration::from_secs(2),
        rebalance_delay: Duration::from_secs(10),
        max_orgs_per_replica: 0,
        static_leader_on_lease: false,
    }
}

fn replica(cluster: &Arc<Cluster>, identity: &str, settings: RoleSettings) -> Replica {
    let running = Arc::new(Mutex::new(BTreeMap::new()));
    let last = Arc::new(Mutex::new(None));
    let recorder = Arc::new(MemRecorder::new());
    let announced = Announced {
        identity: identity.into(),
        tape: cluster.tape.clone(),
        last: last.clone(),
    }
    .start()
    .recipient();
    let elector: Option<Arc<dyn LeaderElector>> = match settings.mode {
        RoleMode::Single | RoleMode::PerOrg => Some(Arc::new(MockElector {
            cluster: cluster.clone(),
            identity: identity.into(),
        })),
        _ => None,
    };
    let host = Arc::new(Host {
        identity: identity.into(),
        tape: cluster.tape.clone(),
        running: running.clone(),
    });
    let manager = RoleManager::new(
        settings,
        elector,
        host,
        HealthReporter::from_recipient(Sink.start().recipient()),
        Arc::new(move || vec![announced.clone()]),
        recorder.clone(),
    );
    let board = manager.board();
    let addr = manager.start();
    Replica {
        addr,
        running,
        last,
        recorder,
        board,
    }
}

/// Replays `who: start org @epoch` / `who: stop org` / `who: crashed` lines: every start of an
/// org while another replica's scraper of it has not stopped (a crashed replica stops all).
fn overlapping_scrapers(lines: &[String]) -> Vec<String> {
    let mut running: BTreeMap<String, String> = BTreeMap::new();
    let mut problems = Vec::new();
    for line in lines {
        let Some((who, what)) = line.split_once(": ") else {
            continue;
        };
        if let Some(rest) = what.strip_prefix("start ") {
            let org = rest.split(" @").next().unwrap_or(rest).to_string();
            if let Some(other) = running.get(&org).filter(|o| *o != who) {
                problems.push(format!("{who} started {org} while {other} ran it"));
            }
            running.insert(org, who.to_string());
        } else if let Some(org) = what.strip_prefix("stop ") {
            if running.get(org).is_some_and(|o| o == who) {
                running.remove(org);
            }
        } else if what == "crashed" {
            running.retain(|_, o| o != who);
        }
    }
    problems
}

/// Advances paused time in small steps until `cond` holds; fails after `limit`.
async fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(10 * MS).await;
    }
    start.elapsed()
}

/// Lets `span` of paused time pass.
async fn pass(span: Duration) {
    tokio::time::sleep(span).await;
}

#[actix_rt::test]
async fn static_leader_scrapes_every_org_unfenced_and_follower_none() {
    tokio::time::pause();
    let tape = Arc::new(Tape::default());
    let cluster = Cluster::new(Duration::from_secs(15), tape.clone());
    let leader = replica(&cluster, "a", settings(RoleMode::StaticLeader, &["x", "y"]));
    let follower = replica(
        &cluster,
        "b",
        settings(RoleMode::StaticFollower, &["x", "y"]),
    );
    wait_until(Duration::from_secs(1), || leader.orgs().len() == 2).await;
    assert_eq!(
        *leader.running.lock().unwrap(),
        BTreeMap::from([("x".into(), 0), ("y".into(), 0)])
    );
    pass(Duration::from_secs(60)).await;
    assert!(follower.orgs().is_empty());
    assert!(leader.is_leader());
    assert!(!follower.is_leader());
}

#[actix_rt::test]
async fn one_leader_among_three_and_it_scrapes_every_org_under_its_grant() {
    tokio::time::pause();
    let tape = Arc::new(Tape::default());
    let cluster = Cluster::new(Duration::from_secs(15), tape.clone());
    let replicas: Vec<Replica> = ["a", "b", "c"]
        .iter()
        .map(|id| replica(&cluster, id, settings(RoleMode::Single, &["x", "y"])))
        .collect();
    wait_until(Duration::from_secs(3), || {
        replicas.iter().filter(|r| r.is_leader()).count() == 1
    })
    .await;
    // Sampled over a minute of renewals: always exactly one leader, the same one.
    let leader = replicas.iter().position(Replica::is_leader).unwrap();
    for _ in 0..60 {
        pass(Duration::from_secs(1)).await;
        let leaders: Vec<usize> = (0..3).filter(|i| replicas[*i].is_leader()).collect();
        assert_eq!(leaders, vec![leader]);
    }
    let epoch = cluster.table.lock().unwrap().seq;
    assert_eq!(
        *replicas[leader].running.lock().unwrap(),
        BTreeMap::from([("x".into(), epoch), ("y".into(), epoch)])
    );
    assert_eq!(replicas[leader].board.read().epoch, epoch);
}

/// A renewal that says the lease is gone: scrapers stop first, then the role change is
/// announced, then the release is attempted.
#[actix_rt::test]
async fn lost_lease_stops_scrapers_before_announcing_and_releasing() {
    tokio::time::pause();
    let tape = Arc::new(Tape::default());
    let cluster = Cluster::new(Duration::from_secs(15), tape.clone());
    let a = replica(&cluster, "a", settings(RoleMode::Single, &["x", "y"]));
    wait_until(Duration::from_secs(3), || a.orgs().len() == 2).await;
    cluster.steal(&LeaseScope::Global);
    let took = wait_until(Duration::from_secs(5), || !a.is_leader()).await;
    assert!(took <= Duration::from_millis(2400) + 20 * MS, "{took:?}");
    assert!(a.orgs().is_empty());
    let lines = tape.lines();
    let stop_x = lines.iter().position(|l| l == "a: stop x").unwrap();
    let stop_y = lines.iter().position(|l| l == "a: stop y").unwrap();
    let follower = lines
        .iter()
        .position(|l| l.starts_with("a: role follower"))
        .unwrap();
    let release = lines.iter().position(|l| l == "a: release lease").unwrap();
    assert!(stop_x < follower && stop_y < follower, "{lines:?}");
    assert!(stop_x < release && stop_y < release, "{lines:?}");
    let snapshot = a.recorder.snapshot();
    assert_eq!(
        snapshot.counter("gh_exporter_leader_transitions", &[("event", "lost")]),
        Some(1)
    );
    assert_eq!(
        snapshot.counter(
            "gh_exporter_lease_renew_failures",
            &[("reason", "not_held")]
        ),
        Some(1)
    );
}

/// Cut off from the backend: the leader steps down when its local deadline passes
/// (renew_deadline after the last successful renewal), although no answer ever says so; a
/// candidate takes over once the lease expires in the backend.
#[actix_rt::test]
async fn partitioned_leader_steps_down_at_its_deadline_before_a_successor_starts() {
    tokio::time::pause();
    let tape = Arc::new(Tape::default());
    let cluster = Cluster::new(Duration::from_secs(15), tape.clone());
    let a = replica(&cluster, "a", settings(RoleMode::Single, &["x"]));
    wait_until(Duration::from_secs(3), || a.is_leader()).await;
    let b = replica(&cluster, "b", settings(RoleMode::Single, &["x"]));
    pass(Duration::from_secs(5)).await;
    assert!(!b.is_leader());
    cluster.cut("a");
    let cut_at = Instant::now();
    wait_until(Duration::from_secs(20), || !a.is_leader()).await;
    // Last successful renewal ≤ 2.4 s before the cut; deadline 10 s after it.
    assert!(cut_at.elapsed() <= Duration::from_secs(10) + 50 * MS);
    assert!(a.orgs().is_empty());
    wait_until(Duration::from_secs(20), || b.is_leader()).await;
    // The successor only starts once the old lease expired (15 s after its last renewal),
    // long after the old leader stopped its scrapers.
    let lines = tape.lines();
    let a_stop = lines.iter().position(|l| l == "a: stop x").unwrap();
    let b_start = lines
        .iter()
        .position(|l| l.starts_with("b: start x"))
        .unwrap();
    assert!(a_stop < b_start, "{lines:?}");
    assert!(
        cut_at.elapsed() <= Duration::from_secs(15) + 100 * MS,
        "takeover after the lease expired: {:?}",
        cut_at.elapsed()
    );
    assert_eq!(
        a.recorder.snapshot().counter(
            "gh_exporter_lease_renew_failures",
            &[("reason", "deadline")]
        ),
        Some(1)
    );
}

/// The store rejected a write under the current grant: step down at once.
#[actix_rt::test]
async fn stale_write_makes_the_writer_step_down() {
    tokio::time::pause();
    let tape = Arc::new(Tape::default());
    let cluster = Cluster::new(Duration::from_secs(15), tape.clone());
    let a = replica(&cluster, "a", settings(RoleMode::Single, &["x"]));
    wait_until(Duration::from_secs(3), || a.is_leader()).await;
    let grant = a
        .last
        .lock()
        .unwrap()
        .as_ref()
        .unwrap()
        .grant
        .clone()
        .unwrap();
    // A grant of an older tenure changes nothing.
    a.addr.do_send(StaleWrite(Grant::epoch_only(0)));
    pass(Duration::from_millis(100)).await;
    assert!(a.is_leader());
    a.addr.do_send(StaleWrite(grant));
    pass(Duration::from_millis(100)).await;
    let lines = tape.lines();
    let stop = lines
        .iter()
        .position(|l| l == "a: stop x")
        .expect("stopped");
    let follower = lines
        .iter()
        .position(|l| l == "a: role follower @0 []")
        .expect("announced follower");
    assert!(stop < follower, "{lines:?}");
    // The lease was free again here (the mock holds no successor), so the replica may lead
    // again — only under a new tenure, never the rejected one.
    assert!(
        lines[follower..]
            .iter()
            .all(|l| !l.ends_with("@1") && !l.contains("@1 ")),
        "{lines:?}"
    );
    assert_eq!(
        a.recorder.snapshot().counter(
            "gh_exporter_lease_renew_failures",
            &[("reason", "stale_write")]
        ),
        Some(1)
    );
}

/// A clean stop: scrapers stop, the lease is released, and a waiting candidate takes over at
/// once through the release signal, not after the lease expired.
#[actix_rt::test]
async fn clean_stop_hands_over_at_once() {
    tokio::time::pause();
    let tape = Arc::new(Tape::default());
    let cluster = Cluster::new(Duration::from_secs(15), tape.clone());
    let a = replica(&cluster, "a", settings(RoleMode::Single, &["x"]));
    wait_until(Duration::from_secs(3), || a.is_leader()).await;
    let b = replica(&cluster, "b", settings(RoleMode::Single, &["x"]));
    pass(Duration::from_secs(3)).await;
    a.addr.do_send(StopManager);
    let took = wait_until(Duration::from_secs(20), || b.is_leader()).await;
    assert!(took < Duration::from_millis(200), "{took:?}");
    let lines = tape.lines();
    let a_stop = lines.iter().position(|l| l == "a: stop x").unwrap();
    let a_release = lines.iter().position(|l| l == "a: release lease").unwrap();
    let b_start = lines
        .iter()
        .position(|l| l.starts_with("b: start x"))
        .unwrap();
    assert!(a_stop < a_release && a_release < b_start, "{lines:?}");
    assert!(lines.contains(&"a: leave".to_string()));
}

/// Stops a RoleManager from the outside, as its supervisor does.
#[derive(Message)]
#[rtype(result = "()")]
struct StopManager;
impl Handler<StopManager> for RoleManager {
    type Result = ();
    fn handle(&mut self, _: StopManager, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// Per-org: the orgs spread over the live members; a joining member gets its share after the
/// rebalance delay (handed over, never stolen); a vanished member's orgs are re-owned after
/// its leases expire.
#[actix_rt::test]
async fn per_org_spreads_rebalances_on_join_and_reowns_after_a_crash() {
    tokio::time::pause();
    let tape = Arc::new(Tape::default());
    let cluster = Cluster::new(Duration::from_secs(15), tape.clone());
    let orgs = ["o1", "o2", "o3", "o4", "o5", "o6"];
    let a = replica(&cluster, "a", settings(RoleMode::PerOrg, &orgs));
    let b = replica(&cluster, "b", settings(RoleMode::PerOrg, &orgs));
    let counts = |rs: &[&Replica]| -> Vec<usize> { rs.iter().map(|r| r.orgs().len()).collect() };
    wait_until(Duration::from_secs(60), || counts(&[&a, &b]) == vec![3, 3]).await;
    assert_eq!(
        [&a, &b].iter().filter(|r| r.is_leader()).count(),
        1,
        "one global leader"
    );
    let c = replica(&cluster, "c", settings(RoleMode::PerOrg, &orgs));
    let joined = Instant::now();
    wait_until(Duration::from_secs(30), || {
        counts(&[&a, &b, &c]) == vec![2, 2, 2]
    })
    .await;
    assert!(
        joined.elapsed() >= Duration::from_secs(10),
        "hand-over waits for rebalance_delay"
    );
    // Moved orgs: the old owner's scraper stopped before the new owner's started (the tape).
    let moved = c.orgs();
    assert_eq!(moved.len(), 2);
    let lines = tape.lines();
    for org in &moved {
        let stop = lines
            .iter()
            .position(|l| (l == &format!("a: stop {org}")) || (l == &format!("b: stop {org}")))
            .unwrap_or_else(|| panic!("{org} moved to c without a stop elsewhere: {lines:#?}"));
        let start = lines
            .iter()
            .position(|l| l.starts_with(&format!("c: start {org} @")))
            .expect("c started it");
        assert!(
            stop < start,
            "{org}: c started it before its old owner stopped"
        );
    }
    // Never two scrapers of one org at once, at any point of the tape.
    let overlaps = overlapping_scrapers(&lines);
    assert!(overlaps.is_empty(), "{overlaps:#?}");
    // Never two scrapers of one org at once (sampled while settled).
    for org in orgs {
        let owners = [&a, &b, &c]
            .iter()
            .filter(|r| r.orgs().contains(&org.to_string()))
            .count();
        assert_eq!(owners, 1, "{org}");
    }
    // c vanishes without releasing (kill -9): its orgs come back after the lease expires.
    let c_orgs = c.orgs();
    cluster.cut("c");
    tape.push("c: crashed".into());
    let crashed = Instant::now();
    wait_until(Duration::from_secs(40), || counts(&[&a, &b]) == vec![3, 3]).await;
    // After the crash, a and b never ran one org at once either.
    let overlaps = overlapping_scrapers(&tape.lines());
    assert!(overlaps.is_empty(), "{overlaps:#?}");
    for org in &c_orgs {
        let holder = cluster.holder(&LeaseScope::Org(org.clone())).unwrap();
        assert!(holder == "a" || holder == "b", "{org} held by {holder}");
    }
    assert!(crashed.elapsed() >= Duration::from_secs(10));
}
