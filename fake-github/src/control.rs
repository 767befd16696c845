//! The `/_fake/` control API (no auth, not counted): truth, request counters, the org request
//! log (`org_requests`), faults, clock, Copilot knobs and truth (`copilot`), and a few helpers
//! for tests (`info`, `limits`).

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[cfg(feature = "faults")]
use crate::faults::FaultSpec;
use crate::state::State;
use crate::truth;

pub fn handle(req: &HttpRequest, body: &[u8], state: &State) -> HttpResponse {
    let path = req.path().trim_end_matches('/');
    let m = req.method();
    match (path, m) {
        ("/_fake/truth", &Method::GET) => get_truth(req, state),
        ("/_fake/requests", &Method::GET) => ok(&state.counters.snapshot()),
        ("/_fake/org_requests", &Method::GET) => get_org_requests(req, state),
        ("/_fake/requests", &Method::DELETE) => {
            state.counters.reset();
            HttpResponse::NoContent().finish()
        }
        #[cfg(feature = "faults")]
        ("/_fake/faults", &Method::GET) => ok(&state.faults.list()),
        #[cfg(feature = "faults")]
        ("/_fake/faults", &Method::POST) => match serde_json::from_slice::<FaultSpec>(body) {
            Ok(spec) => match state.faults.add(spec) {
                Ok(id) => HttpResponse::Created().json(json!({"id": id})),
                Err(e) => bad_request(&format!("{e}")),
            },
            Err(e) => bad_request(&format!("invalid fault: {e}")),
        },
        #[cfg(feature = "faults")]
        ("/_fake/faults", &Method::DELETE) => {
            state.faults.clear();
            HttpResponse::NoContent().finish()
        }
        ("/_fake/clock", &Method::GET) => clock_body(state),
        ("/_fake/clock", &Method::POST) => post_clock(body, state),
        ("/_fake/info", &Method::GET) => info(state),
        ("/_fake/copilot/truth", &Method::GET) => get_copilot_truth(req, state),
        ("/_fake/copilot", &Method::GET) => ok(&state.copilot.snapshot()),
        ("/_fake/copilot", &Method::POST) => {
            match serde_json::from_slice::<crate::copilot::knobs::KnobChange>(body) {
                Ok(change) => match state.copilot.apply(change) {
                    Ok(s) => ok(&s),
                    Err(e) => bad_request(&e.to_string()),
                },
                Err(e) => bad_request(&format!("invalid copilot knobs: {e}")),
            }
        }
        ("/_fake/copilot", &Method::DELETE) => {
            state.copilot.reset();
            HttpResponse::NoContent().finish()
        }
        ("/_fake/limits", &Method::DELETE) => {
            state.core.reset_all();
            state.search.reset_all();
            state.graphql.reset_all();
            state.secondary.reset_all();
            HttpResponse::NoContent().finish()
        }
        (
            "/_fake/truth"
            | "/_fake/requests"
            | "/_fake/org_requests"
            | "/_fake/faults"
            | "/_fake/clock"
            | "/_fake/info"
            | "/_fake/limits"
            | "/_fake/copilot"
            | "/_fake/copilot/truth",
            _,
        ) => HttpResponse::build(StatusCode::METHOD_NOT_ALLOWED)
            .json(json!({"message": "Method Not Allowed"})),
        _ => HttpResponse::NotFound().json(json!({"message": "Not Found"})),
    }
}

fn ok<T: serde::Serialize>(v: &T) -> HttpResponse {
    HttpResponse::Ok().json(v)
}

fn bad_request(message: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"message": message}))
}

fn get_truth(req: &HttpRequest, state: &State) -> HttpResponse {
    let at = match query_value(req.query_string(), "at") {
        None => state.clock.now(),
        Some(v) => match v.parse::<f64>() {
            Ok(at) if at.is_finite() && at >= 0.0 => at,
            _ => return bad_request("`at` must be Unix seconds"),
        },
    };
    let snaps: Vec<_> = (0..state.world.repos.len())
        .map(|gid| state.store.snapshot_at(gid, at))
        .collect();
    ok(&truth::compute_from(
        &state.world,
        at,
        snaps.iter().map(|c| &c.snap),
    ))
}

/// `GET /_fake/org_requests[?since=UNIX]`: the org request log, oldest first, only entries with
/// `at >= since` (all without `since`), as `[{"at", "org", "endpoint", "user_agent"}]`.
fn get_org_requests(req: &HttpRequest, state: &State) -> HttpResponse {
    let since = match query_value(req.query_string(), "since") {
        None => None,
        Some(v) => match v.trim().parse::<f64>() {
            Ok(s) if s.is_finite() => Some(s),
            _ => return bad_request("`since` must be Unix seconds"),
        },
    };
    ok(&state.counters.org_log_since(since))
}

/// The Copilot truth at `now` for `settings`.
pub(crate) fn copilot_truth(
    state: &State,
    now: f64,
    settings: &crate::copilot::truth::Settings,
) -> crate::copilot::truth::CopilotTruth {
    let knobs = state.copilot.snapshot();
    crate::copilot::truth::compute(
        crate::copilot::truth::Input {
            world: &state.world,
            knobs: &knobs,
            enterprise_slug: &state.config.enterprise_slug,
            now,
        },
        settings,
    )
}

fn get_copilot_truth(req: &HttpRequest, state: &State) -> HttpResponse {
    type Pairs = Vec<(String, String)>;
    let (at, settings): (Pairs, Pairs) = serde_urlencoded::from_str::<Pairs>(req.query_string())
        .unwrap_or_default()
        .into_iter()
        .partition(|(k, _)| k == "at");
    let at = match at.last() {
        None => state.clock.now(),
        Some((_, v)) => match v.parse::<f64>() {
            Ok(at) if at.is_finite() && at >= 0.0 => at,
            _ => return bad_request("`at` must be Unix seconds"),
        },
    };
    match crate::copilot::truth::Settings::from_query(&settings) {
        Ok(s) => ok(&copilot_truth(state, at, &s)),
        Err(e) => bad_request(&e),
    }
}

fn query_value(query: &str, key: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockChange {
    advance_secs: Option<f64>,
    now: Option<f64>,
}

fn post_clock(body: &[u8], state: &State) -> HttpResponse {
    match serde_json::from_slice::<ClockChange>(body) {
        Ok(ClockChange {
            advance_secs: Some(s),
            now: None,
        }) if s.is_finite() => state.clock.advance(s),
        Ok(ClockChange {
            advance_secs: None,
            now: Some(n),
        }) if n.is_finite() && n >= 0.0 => state.clock.set(n),
        _ => return bad_request("send {\"advance_secs\": n} or {\"now\": unix_seconds}"),
    }
    clock_body(state)
}

fn clock_body(state: &State) -> HttpResponse {
    ok(&json!({"now": state.clock.now(), "mode": state.clock.mode()}))
}

fn info(state: &State) -> HttpResponse {
    let orgs: Vec<_> = state
        .world
        .orgs
        .iter()
        .map(|o| {
            json!({
                "login": o.login,
                "type": match o.kind {
                    crate::world::OwnerKind::Organization => "Organization",
                    crate::world::OwnerKind::User => "User",
                },
                "installation_id": o.installation_id,
                "repos": o.repos.iter().map(|g| state.world.repos[*g].name.clone()).collect::<Vec<_>>()
            })
        })
        .collect();
    ok(&json!({
        "orgs": orgs,
        "app_id": state.config.app.as_ref().map(|a| a.app_id),
        "enterprise": {
            "slug": state.config.enterprise_slug,
            "installation_id": crate::copilot::enterprise_installation_id(state.world.seed),
            "app_id": state.config.enterprise_app.as_ref().map(|a| a.app_id),
        },
        "clock": state.clock.mode(),
        "api_url": state.api_url,
    }))
}
