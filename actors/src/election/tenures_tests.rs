//! Table tests of the election's decisions: a state, a round's outcome, the steps it means.
//! No actor, no elector, no timer: plain data in, plain data out.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::election::assign::assign;

const RENEW: Duration = Duration::from_secs(8);
const REBALANCE: Duration = Duration::from_secs(30);

fn settings(mode: RoleMode) -> RoleSettings {
    RoleSettings {
        mode,
        orgs: ["a", "b", "c", "d"].iter().map(|o| o.to_string()).collect(),
        lease_duration: Duration::from_secs(15),
        renew_deadline: RENEW,
        retry_period: Duration::from_secs(2),
        rebalance_delay: REBALANCE,
        max_orgs_per_replica: 0,
        static_leader_on_lease: false,
    }
}

fn grant(epoch: u64) -> Grant {
    Grant::leased(epoch, Arc::from(format!("lease:{epoch}")), Arc::from("v"))
}

fn org(name: &str) -> LeaseScope {
    LeaseScope::Org(name.to_string())
}

fn name(scope: &LeaseScope) -> String {
    match scope {
        LeaseScope::Global => "global".to_string(),
        LeaseScope::Org(org) => format!("org:{org}"),
    }
}

/// A step as one short line, so a table can state a whole plan.
fn line(step: &Step) -> String {
    match step {
        Step::MembersChanged(m) => format!("members {}", m.join(",")),
        Step::IdentityRefused { identity, first } => format!("refused {identity} first={first}"),
        Step::IdentityFreed(identity) => format!("freed {identity}"),
        Step::CallFailed(reason) => format!("failed {reason}"),
        Step::Renewed { scope, .. } => format!("renewed {}", name(scope)),
        Step::StepDown { scope, cause, .. } => format!("down {} {cause:?}", name(scope)),
        Step::Acquired { scope, .. } => format!("acquired {}", name(scope)),
        Step::ReleaseUnwanted(g) => format!("release {}", g.epoch),
        Step::StaticLeaderRefused { holder } => format!("static refused {holder}"),
    }
}

fn lines(steps: &[Step]) -> Vec<String> {
    steps.iter().map(line).collect()
}

fn members(names: &[&str]) -> Membership {
    Membership {
        members: names.iter().map(|m| m.to_string()).collect(),
        next_expiry: None,
    }
}

fn timeout() -> ElectionError {
    ElectionError::Timeout {
        operation: "renew",
        timeout: Duration::from_secs(1),
    }
}

/// A round that saw `seen`, renewed nothing and acquired nothing, sent at `sent`.
fn quiet(seen: Membership, sent: Instant) -> RoundOutcome {
    RoundOutcome {
        membership: Ok(seen),
        renewed: Ok(Vec::new()),
        renew_sent: sent,
        acquired: Vec::new(),
    }
}

/// A state in `mode` holding `held` (each grant confirmed until `t0 + RENEW`), member "me".
fn holding(mode: RoleMode, held: &[(LeaseScope, Grant)], t0: Instant) -> Tenures {
    let mut tenures = Tenures::new(settings(mode), Some("me".to_string()), t0);
    let acquired = held
        .iter()
        .map(|(s, g)| (s.clone(), Ok(Acquire::Acquired(g.clone())), t0))
        .collect();
    let plan = tenures.apply_round(
        RoundOutcome {
            acquired,
            ..quiet(members(&["me"]), t0)
        },
        t0,
    );
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    tenures
}

#[test]
fn a_round_means_these_steps_in_this_order() {
    let t0 = Instant::now();
    let later = t0 + Duration::from_secs(3);
    let past_deadline = t0 + RENEW + Duration::from_millis(1);
    type Case = (
        &'static str,
        RoleMode,
        Vec<(LeaseScope, Grant)>,
        Box<dyn Fn(&[(LeaseScope, Grant)]) -> RoundOutcome>,
        Instant,
        Vec<&'static str>,
        usize,
    );
    let cases: Vec<Case> = vec![
        (
            "a confirmed renewal keeps the tenure",
            RoleMode::Single,
            vec![(LeaseScope::Global, grant(1))],
            Box::new(move |held| RoundOutcome {
                renewed: Ok(vec![(held[0].0.clone(), held[0].1.clone(), true)]),
                ..quiet(members(&["me"]), later)
            }),
            later,
            vec!["renewed global"],
            0,
        ),
        (
            "a refused renewal steps down",
            RoleMode::Single,
            vec![(LeaseScope::Global, grant(1))],
            Box::new(move |held| RoundOutcome {
                renewed: Ok(vec![(held[0].0.clone(), held[0].1.clone(), false)]),
                ..quiet(members(&["me"]), later)
            }),
            later,
            vec!["down global RenewalRefused"],
            0,
        ),
        (
            "a failed renewal keeps a tenure inside its deadline",
            RoleMode::Single,
            vec![(LeaseScope::Global, grant(1))],
            Box::new(move |_| RoundOutcome {
                renewed: Err(timeout()),
                ..quiet(members(&["me"]), later)
            }),
            later,
            vec!["failed timeout"],
            1,
        ),
        (
            "a failed renewal steps down a tenure past its deadline",
            RoleMode::Single,
            vec![(LeaseScope::Global, grant(1))],
            Box::new(move |_| RoundOutcome {
                renewed: Err(timeout()),
                ..quiet(members(&["me"]), past_deadline)
            }),
            past_deadline,
            vec!["failed timeout", "down global Deadline"],
            1,
        ),
        (
            "a renewal of a grant no longer held is ignored",
            RoleMode::Single,
            vec![(LeaseScope::Global, grant(1))],
            Box::new(move |_| RoundOutcome {
                renewed: Ok(vec![(LeaseScope::Global, grant(9), false)]),
                ..quiet(members(&["me"]), later)
            }),
            later,
            vec![],
            0,
        ),
        (
            "a lease won while held is released unused",
            RoleMode::Single,
            vec![(LeaseScope::Global, grant(1))],
            Box::new(move |_| RoundOutcome {
                acquired: vec![(LeaseScope::Global, Ok(Acquire::Acquired(grant(2))), later)],
                ..quiet(members(&["me"]), later)
            }),
            later,
            vec!["release 2"],
            0,
        ),
        (
            "steps down come before acquisitions",
            RoleMode::PerOrg,
            vec![(org("a"), grant(1))],
            Box::new(move |held| RoundOutcome {
                renewed: Ok(vec![(held[0].0.clone(), held[0].1.clone(), false)]),
                acquired: vec![(org("b"), Ok(Acquire::Acquired(grant(2))), later)],
                ..quiet(members(&["me"]), later)
            }),
            later,
            vec!["down org:a RenewalRefused", "acquired org:b"],
            0,
        ),
        (
            "a failed acquisition is a problem, not a step down",
            RoleMode::PerOrg,
            vec![(org("a"), grant(1))],
            Box::new(move |_| RoundOutcome {
                acquired: vec![(org("b"), Err(timeout()), later)],
                ..quiet(members(&["me"]), later)
            }),
            later,
            vec!["failed timeout"],
            1,
        ),
        (
            "a duplicate identity is refused and problems are reported",
            RoleMode::PerOrg,
            vec![],
            Box::new(move |_| RoundOutcome {
                membership: Err(ElectionError::DuplicateIdentity {
                    identity: "me".into(),
                }),
                ..quiet(members(&[]), later)
            }),
            later,
            vec!["refused me first=true"],
            1,
        ),
        (
            "a membership change is adopted",
            RoleMode::PerOrg,
            vec![],
            Box::new(move |_| quiet(members(&["me", "other"]), later)),
            later,
            vec!["members me,other"],
            0,
        ),
    ];
    for (what, mode, held, outcome, now, expected, problems) in cases {
        let mut tenures = holding(mode, &held, t0);
        let plan = tenures.apply_round(outcome(&held), now);
        assert_eq!(lines(&plan.steps), expected, "{what}");
        assert_eq!(plan.problems.len(), problems, "{what}: {:?}", plan.problems);
    }
}

#[test]
fn validity_follows_the_tenure() {
    let t0 = Instant::now();
    let g = grant(1);
    let mut tenures = holding(RoleMode::Single, &[(LeaseScope::Global, g.clone())], t0);
    assert_eq!(
        g.validity.deadline(),
        Some(t0 + RENEW),
        "acquisition confirms it"
    );
    assert_eq!(tenures.role(), Role::Leader);
    assert_eq!(
        tenures.desired_scrapers().len(),
        4,
        "every org under the grant"
    );

    let sent = t0 + Duration::from_secs(5);
    tenures.apply_round(
        RoundOutcome {
            renewed: Ok(vec![(LeaseScope::Global, g.clone(), true)]),
            ..quiet(members(&["me"]), sent)
        },
        sent,
    );
    assert_eq!(
        g.validity.deadline(),
        Some(sent + RENEW),
        "renewal moves it"
    );

    let steps = tenures.write_rejected(&g);
    assert_eq!(lines(&steps), ["down global StaleWrite"]);
    assert!(!g.validity.is_live_at(sent), "a step down ends it at once");
    assert_eq!(tenures.role(), Role::Follower);
    assert!(tenures.desired_scrapers().is_empty());
    assert!(tenures.write_rejected(&g).is_empty(), "only once");
}

#[test]
fn a_deadline_check_steps_down_only_a_lapsed_tenure_of_the_same_grant() {
    let t0 = Instant::now();
    let g = grant(1);
    let mut tenures = holding(RoleMode::Single, &[(LeaseScope::Global, g.clone())], t0);
    let scope = LeaseScope::Global;
    assert!(tenures
        .deadline_passed(&scope, &g, t0 + RENEW / 2)
        .is_empty());
    assert!(tenures
        .deadline_passed(&scope, &grant(7), t0 + RENEW)
        .is_empty());
    assert_eq!(
        lines(&tenures.deadline_passed(&scope, &g, t0 + RENEW)),
        ["down global Deadline"]
    );
}

#[test]
fn held_elsewhere_wakes_the_next_round_at_its_expiry() {
    let t0 = Instant::now();
    let mut tenures = holding(RoleMode::Single, &[], t0);
    let ttl = Duration::from_secs(4);
    let held = |holder: &str| {
        Ok(Acquire::Held {
            holder: holder.into(),
            ttl,
        })
    };
    let plan = tenures.apply_round(
        RoundOutcome {
            acquired: vec![(LeaseScope::Global, held("other"), t0)],
            ..quiet(members(&["me", "other"]), t0)
        },
        t0,
    );
    assert_eq!(plan.wake_at, Some(t0 + ttl + EXPIRY_SLACK));
    assert!(plan.problems.is_empty());

    let mut static_leader = settings(RoleMode::Single);
    static_leader.static_leader_on_lease = true;
    let mut tenures = Tenures::new(static_leader, Some("me".into()), t0);
    let plan = tenures.apply_round(
        RoundOutcome {
            acquired: vec![(LeaseScope::Global, held("other"), t0)],
            ..quiet(members(&["me"]), t0)
        },
        t0,
    );
    assert_eq!(lines(&plan.steps), ["members me", "static refused other"]);
    assert_eq!(plan.problems.len(), 1);
}

#[test]
fn orgs_are_handed_over_only_once_the_membership_is_stable() {
    let t0 = Instant::now();
    let all: Vec<(LeaseScope, Grant)> = ["a", "b", "c", "d"]
        .iter()
        .enumerate()
        .map(|(i, o)| (org(o), grant(i as u64 + 1)))
        .collect();
    let mut tenures = holding(RoleMode::PerOrg, &all, t0);
    let mine: Vec<String> = assign(
        &settings(RoleMode::PerOrg).orgs,
        &["me".into(), "x".into()],
        0,
    )
    .into_iter()
    .filter(|(_, m)| m == "me")
    .map(|(o, _)| o)
    .collect();
    assert!(mine.len() == 2, "two members split four orgs: {mine:?}");

    // The join is seen: nothing moves yet.
    let joined = t0 + Duration::from_secs(1);
    let plan = tenures.apply_round(quiet(members(&["me", "x"]), joined), joined);
    assert_eq!(lines(&plan.steps), ["members me,x"]);

    // Not yet stable.
    let early = joined + REBALANCE / 2;
    assert!(tenures
        .apply_round(quiet(members(&["me", "x"]), early), early)
        .steps
        .is_empty());

    // While an identity conflict stands, nothing is handed over either.
    let stable = joined + REBALANCE;
    let refused = RoundOutcome {
        membership: Err(ElectionError::DuplicateIdentity {
            identity: "me".into(),
        }),
        ..quiet(members(&[]), stable)
    };
    assert_eq!(
        lines(&tenures.apply_round(refused, stable).steps),
        ["refused me first=true"]
    );

    // Stable: the orgs assigned to the other member go, in org order.
    let plan = tenures.apply_round(quiet(members(&["me", "x"]), stable), stable);
    let expected: Vec<String> = std::iter::once("freed me".to_string())
        .chain(
            ["a", "b", "c", "d"]
                .iter()
                .filter(|o| !mine.contains(&o.to_string()))
                .map(|o| format!("down org:{o} HandOver")),
        )
        .collect();
    assert_eq!(lines(&plan.steps), expected);
    let desired: Vec<String> = tenures.desired_scrapers().into_keys().collect();
    assert_eq!(desired, mine);
}

#[test]
fn shutdown_ends_every_tenure_once_and_stops_once() {
    let t0 = Instant::now();
    let held = vec![(LeaseScope::Global, grant(1)), (org("a"), grant(2))];
    let mut tenures = holding(RoleMode::PerOrg, &held, t0);
    assert!(tenures.round_request().is_some());
    assert!(!tenures.finish_shutdown(), "not draining yet");

    let steps = tenures.begin_shutdown();
    assert_eq!(
        lines(&steps),
        ["down global Shutdown", "down org:a Shutdown"]
    );
    assert!(steps
        .iter()
        .all(|s| matches!(s, Step::StepDown { cause, .. } if cause.event() == "released")));
    assert_eq!(tenures.phase(), Phase::Draining);
    assert!(tenures.desired_scrapers().is_empty());
    assert!(tenures.round_request().is_none(), "no round while draining");
    assert_eq!(tenures.role(), Role::Follower);
    assert!(tenures.begin_shutdown().is_empty(), "only once");

    // A lease won by a round that was in flight is released unused.
    let plan = tenures.apply_round(
        RoundOutcome {
            acquired: vec![(org("b"), Ok(Acquire::Acquired(grant(3))), t0)],
            ..quiet(members(&["me"]), t0)
        },
        t0,
    );
    assert_eq!(lines(&plan.steps), ["release 3"]);

    assert!(tenures.finish_shutdown());
    assert_eq!(tenures.phase(), Phase::Stopped);
    assert!(!tenures.finish_shutdown(), "only once");
}

#[test]
fn a_round_asks_for_what_is_not_held() {
    let t0 = Instant::now();
    let statics = Tenures::new(settings(RoleMode::StaticLeader), None, t0);
    assert!(statics.round_request().is_none());
    assert_eq!(statics.desired_scrapers().len(), 4);
    assert!(
        statics.desired_scrapers().values().all(Option::is_none),
        "unfenced"
    );

    let g = grant(1);
    let tenures = holding(RoleMode::PerOrg, &[(org("a"), g.clone())], t0);
    let request = tenures.round_request().expect("elected and serving");
    assert_eq!(request.renew, vec![(org("a"), g)]);
    assert!(request.global_wanted);
    let seen: Vec<String> = vec!["me".into()];
    let wanted: Vec<String> = request.wanted("me", Some(&seen)).iter().map(name).collect();
    assert_eq!(
        wanted,
        ["global", "org:b", "org:c", "org:d"],
        "held orgs are not asked again"
    );
    assert_eq!(
        request
            .wanted("me", None)
            .iter()
            .map(name)
            .collect::<Vec<_>>(),
        ["global"]
    );
}

#[test]
fn scrapers_whose_grant_changed_restart_under_the_new_one() {
    let (old, new) = (grant(1), grant(2));
    let running = [
        ("a".to_string(), Some(old.clone())),
        ("b".to_string(), Some(old.clone())),
        ("gone".to_string(), Some(old.clone())),
    ]
    .into_iter()
    .collect();
    let desired = [
        ("a".to_string(), Some(old.clone())),
        ("b".to_string(), Some(new.clone())),
        ("c".to_string(), Some(new.clone())),
    ]
    .into_iter()
    .collect();
    let (stop, start) = scraper_changes(&desired, &running);
    assert_eq!(stop, ["b", "gone"]);
    assert_eq!(
        start,
        [
            ("b".to_string(), Some(new.clone())),
            ("c".to_string(), Some(new))
        ]
    );
}
