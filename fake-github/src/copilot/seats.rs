//! Copilot seats of an org (`GET /orgs/{org}/copilot/billing/seats`): one per seat holder, with
//! a plan type (`business`, `enterprise`, `unknown` or `null`) and a `last_activity_at` whose age relative
//! to the fake clock's now lies at least 12 h away from the 7/30/90-day bucket boundaries (or
//! is `null`), so a reader's buckets cannot depend on a few seconds of request latency.

use serde_json::{json, Value};

use super::model::seat_holders;
use crate::hash::Rng;
use crate::render::user_json;
use crate::timefmt::{iso, DAY, HOUR};
use crate::world::{UserIdx, World};

/// Activity buckets of the contract, by age of `last_activity_at`.
pub const BUCKETS: [&str; 4] = ["0-7d", "8-30d", "31-90d", "none"];

#[derive(Debug, Clone)]
pub struct Seat {
    pub user: UserIdx,
    pub created_at: i64,
    pub pending_cancellation_day: Option<i64>,
    /// Seconds before now of the last activity; `None` = never active (`null`).
    pub activity_age: Option<i64>,
    pub plan_type: Option<&'static str>,
    pub team: Option<(u64, &'static str)>,
    pub editor: &'static str,
}

impl Seat {
    /// The contract's bucket index in [`BUCKETS`].
    pub fn bucket(&self) -> usize {
        match self.activity_age {
            Some(a) if a <= 7 * DAY => 0,
            Some(a) if a <= 30 * DAY => 1,
            Some(a) if a <= 90 * DAY => 2,
            _ => 3,
        }
    }
}

const TEAMS: [&str; 3] = ["platform", "frontend", "data"];
const EDITORS: [&str; 4] = [
    "vscode/1.95.3/copilot/1.245.0",
    "vscode/1.96.0/copilot-chat/0.23.1",
    "JetBrains-IC/2024.3/copilot-intellij/1.5.30",
    "copilot-cli/0.0.339",
];

/// Seats of an org, in member order. The second seat was never used and the third has no plan
/// type, so every org of three seats or more has both `null`s.
pub fn seats(world: &World, org: usize) -> Vec<Seat> {
    let o = &world.orgs[org];
    seat_holders(world, org)
        .into_iter()
        .enumerate()
        .map(|(i, u)| {
            let id = world.user(u).id;
            let mut rng = Rng::new(&[world.seed, 0xC9, o.id, id]);
            let bucket = rng.range(0, 3);
            let never = rng.chance(0.1) || i == 1;
            let age = match bucket {
                0 => rng.range(HOUR, 7 * DAY - 12 * HOUR),
                1 => rng.range(7 * DAY + 12 * HOUR, 30 * DAY - 12 * HOUR),
                2 => rng.range(30 * DAY + 12 * HOUR, 90 * DAY - 12 * HOUR),
                _ => rng.range(90 * DAY + 12 * HOUR, 400 * DAY),
            };
            let plan = match rng.range(0, 9) {
                _ if i == 2 => None,
                0 => None,
                // GitHub's own value for an unknown plan; counts with the `null`s.
                1 => Some("unknown"),
                2..=4 => Some("business"),
                _ => Some("enterprise"),
            };
            let team_pick = rng.range(0, 5) as usize;
            Seat {
                user: u,
                created_at: 1_650_000_000 + rng.range(0, 300) * DAY,
                pending_cancellation_day: rng.chance(0.1).then(|| rng.range(1, 20)),
                activity_age: (!never).then_some(age),
                plan_type: plan,
                team: TEAMS
                    .get(team_pick)
                    .map(|t| (600_000 + team_pick as u64, *t)),
                editor: EDITORS[rng.range(0, 3) as usize],
            }
        })
        .collect()
}

/// One seat's JSON at `now`.
pub fn seat_json(world: &World, api: &str, org: &str, s: &Seat, now: f64) -> Value {
    let now_s = now.floor() as i64;
    let last = s.activity_age.map(|a| now_s - a);
    json!({
        "created_at": iso(s.created_at),
        "updated_at": iso(s.created_at + 3 * DAY),
        "pending_cancellation_date": s.pending_cancellation_day
            .map(|d| super::model::day_str(now_s.div_euclid(DAY) + d)),
        "last_activity_at": last.map(iso),
        "last_activity_editor": last.map(|_| s.editor),
        "last_authenticated_at": last.map(|t| iso(t - 2 * HOUR)),
        "plan_type": s.plan_type,
        "assignee": user_json(api, world.user(s.user)),
        "assigning_team": s.team.map(|(id, slug)| json!({
            "id": id,
            "node_id": format!("T_kwDO{id}"),
            "name": slug,
            "slug": slug,
            "description": format!("The {slug} team"),
            "privacy": "closed",
            "notification_setting": "notifications_enabled",
            "permission": "pull",
            "type": "organization",
            "url": format!("{api}/orgs/{org}/teams/{slug}"),
            "html_url": format!("https://github.com/orgs/{org}/teams/{slug}"),
            "members_url": format!("{api}/orgs/{org}/teams/{slug}/members{{/member}}"),
            "repositories_url": format!("{api}/orgs/{org}/teams/{slug}/repos"),
            "parent": null
        })),
    })
}
