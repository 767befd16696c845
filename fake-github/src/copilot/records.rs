//! The JSON of Copilot report records with GitHub's nested schema: day records (organization /
//! enterprise) and user records, plus the internal fields (`etl_id`, `day_partition`) a reader
//! must ignore.

use serde_json::{json, Map, Value};

use super::model::{Breakdown, Cli, Counts, DayRecord, UserDay, COUNTERS, INTERACTIONS};
use crate::hash::hash;
use crate::world::World;

/// Ids written into every record of a report.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    /// `organization_id`; `None` in enterprise reports (the field is absent).
    pub organization_id: Option<u64>,
    pub enterprise_id: u64,
}

fn counts_into(m: &mut Map<String, Value>, c: &Counts, interactions: bool) {
    if interactions {
        m.insert(INTERACTIONS.into(), json!(c.interactions));
    }
    for (name, v) in COUNTERS.iter().zip(c.ca) {
        m.insert((*name).into(), json!(v));
    }
}

fn row(keys: &[(&str, &str)], c: &Counts, interactions: bool) -> Value {
    let mut m = Map::new();
    for (k, v) in keys {
        m.insert((*k).into(), json!(v));
    }
    counts_into(&mut m, c, interactions);
    Value::Object(m)
}

fn cli_json(c: &Cli) -> Value {
    let avg = if c.requests == 0 {
        0.0
    } else {
        ((c.prompt_tokens + c.output_tokens) as f64 / c.requests as f64 * 10.0).round() / 10.0
    };
    json!({
        "session_count": c.sessions,
        "request_count": c.requests,
        "prompt_count": c.prompts,
        "token_usage": {
            "prompt_tokens_sum": c.prompt_tokens,
            "output_tokens_sum": c.output_tokens,
            "avg_tokens_per_request": avg
        }
    })
}

/// Breakdown arrays, chat modes and the counter block, shared by day and user records.
/// `ide_versions` adds `last_known_*_version` to IDE rows (user records).
fn usage_into(m: &mut Map<String, Value>, b: &Breakdown, ide_versions: Option<u64>) {
    counts_into(m, &b.total, true);
    for mode in super::model::CHAT_MODES {
        m.insert(format!("chat_panel_{mode}_mode"), json!(b.chat_mode(mode)));
    }
    let ides: Vec<Value> = b
        .ide
        .iter()
        .map(|(ide, c)| {
            let mut v = row(&[("ide", ide)], c, true);
            if let (Some(h), Value::Object(o)) = (ide_versions, &mut v) {
                o.insert(
                    "last_known_ide_version".into(),
                    json!(format!("1.{}.{}", 90 + h % 10, h % 7)),
                );
                o.insert(
                    "last_known_plugin_version".into(),
                    json!(format!("0.{}.{}", 30 + h % 5, h % 11)),
                );
            }
            v
        })
        .collect();
    m.insert("totals_by_ide".into(), Value::Array(ides));
    m.insert(
        "totals_by_feature".into(),
        b.feature
            .iter()
            .map(|(f, c)| row(&[("feature", f)], c, true))
            .collect(),
    );
    m.insert(
        "totals_by_language_feature".into(),
        b.language_feature
            .iter()
            .map(|((l, f), c)| row(&[("language", l), ("feature", f)], c, false))
            .collect(),
    );
    m.insert(
        "totals_by_language_model".into(),
        b.language_model
            .iter()
            .map(|((l, mo), c)| row(&[("language", l), ("model", mo)], c, false))
            .collect(),
    );
    m.insert(
        "totals_by_model_feature".into(),
        b.model_feature
            .iter()
            .map(|((mo, f), c)| row(&[("model", mo), ("feature", f)], c, true))
            .collect(),
    );
}

fn internals(m: &mut Map<String, Value>, seed: u64, scope: u64, day: i64) {
    m.insert(
        "etl_id".into(),
        json!(format!("{:016x}", hash(&[seed, 0xE7, scope, day as u64]))),
    );
    m.insert("day_partition".into(), json!(super::model::day_str(day)));
}

/// A day record (`organization-1-day`, `day_totals[…]`).
pub fn day_record(seed: u64, rec: &DayRecord, ids: Ids) -> Value {
    let mut m = Map::new();
    m.insert("day".into(), json!(super::model::day_str(rec.day)));
    if let Some(o) = ids.organization_id {
        m.insert("organization_id".into(), json!(o.to_string()));
    }
    m.insert("enterprise_id".into(), json!(ids.enterprise_id.to_string()));
    for (k, v) in &rec.active {
        m.insert((*k).into(), json!(v));
    }
    usage_into(&mut m, &rec.breakdown, None);
    if let Some(c) = &rec.cli {
        m.insert("totals_by_cli".into(), cli_json(c));
    }
    let agents: Vec<Value> = (0..(rec.day.rem_euclid(3)))
        .map(|i| {
            json!({"agent_id": 900 + i, "agent_name": format!("third-party-agent-{i}"),
                   "user_initiated_interaction_count": 3 + i, "session_count": 1 + i})
        })
        .collect();
    m.insert("totals_by_3rd_party_agent".into(), Value::Array(agents));
    let pr = &rec.pull_requests;
    let mut p = Map::new();
    for (k, v) in &pr.totals {
        p.insert((*k).into(), json!(v));
    }
    for (k, v) in &pr.medians {
        p.insert((*k).into(), v.map_or(Value::Null, |x| json!(x)));
    }
    p.insert(
        "copilot_suggestions_by_comment_type".into(),
        pr.by_comment_type
            .iter()
            .map(|(t, s, a)| json!({"comment_type": t, "total_copilot_suggestions": s, "total_copilot_applied_suggestions": a}))
            .collect(),
    );
    m.insert("pull_requests".into(), Value::Object(p));
    internals(
        &mut m,
        seed,
        ids.organization_id.unwrap_or(ids.enterprise_id),
        rec.day,
    );
    Value::Object(m)
}

/// A user record (`users-1-day` / `users-28-day` NDJSON row); `range` adds
/// `report_start_day`/`report_end_day` (28-day files).
pub fn user_record(world: &World, ud: &UserDay, ids: Ids, range: Option<(i64, i64)>) -> Value {
    let user = world.user(ud.user);
    let mut m = Map::new();
    if let Some((s, e)) = range {
        m.insert("report_start_day".into(), json!(super::model::day_str(s)));
        m.insert("report_end_day".into(), json!(super::model::day_str(e)));
    }
    m.insert("day".into(), json!(super::model::day_str(ud.day)));
    m.insert("user_id".into(), json!(user.id));
    m.insert("user_login".into(), json!(user.login));
    if let Some(o) = ids.organization_id {
        m.insert("organization_id".into(), json!(o.to_string()));
    }
    m.insert("enterprise_id".into(), json!(ids.enterprise_id.to_string()));
    m.insert("ai_credits_used".into(), json!(ud.ai_credits));
    let phase = ["explore", "adopt", "expand", "embed"][usize::from(ud.phase.clamp(1, 4)) - 1];
    m.insert(
        "ai_adoption_phase".into(),
        json!({"phase": phase, "phase_number": ud.phase, "version": "2026-03"}),
    );
    let b = Breakdown::of_rows(&ud.rows);
    usage_into(&mut m, &b, Some(hash(&[world.seed, 0xC7, user.id])));
    if let Some(c) = &ud.cli {
        m.insert("totals_by_cli".into(), cli_json(c));
    }
    let flag = |v: bool| if ud.null_flags { Value::Null } else { json!(v) };
    m.insert("used_agent".into(), flag(ud.used_agent()));
    m.insert("used_chat".into(), flag(ud.used_chat()));
    m.insert("used_cli".into(), json!(ud.used_cli()));
    m.insert("used_copilot_app".into(), json!(ud.used_app));
    m.insert("used_copilot_cloud_agent".into(), flag(ud.used_cloud_agent));
    m.insert(
        "used_copilot_coding_agent".into(),
        flag(ud.used_cloud_agent),
    );
    m.insert(
        "used_copilot_code_review_active".into(),
        json!(ud.review_active),
    );
    m.insert(
        "used_copilot_code_review_passive".into(),
        json!(ud.review_passive),
    );
    internals(&mut m, world.seed, user.id, ud.day);
    Value::Object(m)
}
