//! The Copilot REST endpoints: report links (`…/copilot/metrics/reports/…`) for an org or the
//! enterprise, and `GET /orgs/{org}/copilot/billing/seats`. Data and files live in
//! [`crate::copilot`].

use std::sync::Arc;

use actix_web::web::Bytes;
use serde_json::{json, Value};

use super::{error, not_found, object, ApiReq, Reply};
use crate::auth::Credential;
use crate::copilot::model::{day_of, day_str, parse_day};
use crate::copilot::{blob, enterprise_installation_id, seats, ReportKind, Scope};
use crate::routes::CopilotScope;
use crate::store::Page;

/// How far back 1-day reports are kept.
const RETENTION_DAYS: i64 = 365;

fn status_error(status: u16) -> Reply {
    match status {
        403 => error(403, "Resource not accessible by integration"),
        _ => not_found(),
    }
}

/// The scope of a request, honouring installation scoping and the `/_fake/copilot` knobs.
fn resolve(req: &ApiReq<'_>, scope: &CopilotScope) -> Result<Scope, Reply> {
    let state = req.state;
    match scope {
        CopilotScope::Org(login) => {
            let org = state.world.org_by_login(login).ok_or_else(not_found)?;
            if let Credential::Installation { id } = req.cred {
                if *id != org.installation_id {
                    return Err(not_found());
                }
            }
            if let Some(s) = state.copilot.org_status(&org.login) {
                return Err(status_error(s));
            }
            Ok(Scope::Org(org.idx))
        }
        CopilotScope::Enterprise(slug) => {
            if !slug.eq_ignore_ascii_case(&state.config.enterprise_slug) {
                return Err(not_found());
            }
            if let Credential::Installation { id } = req.cred {
                if *id != enterprise_installation_id(state.world.seed) {
                    return Err(not_found());
                }
            }
            if let Some(s) = state.copilot.enterprise_status() {
                return Err(status_error(s));
            }
            Ok(Scope::Enterprise)
        }
    }
}

/// `GET …/copilot/metrics/reports/{report}[/latest]`.
pub fn report(req: &ApiReq<'_>, scope: &CopilotScope, kind: ReportKind) -> Reply {
    let scope = match resolve(req, scope) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let today = day_of(req.now);
    match kind {
        ReportKind::Scope28 | ReportKind::Users28 => {
            let end = today - 2;
            let links = blob::issue_links(req.state, scope, kind, end, req.now);
            object(
                200,
                &json!({
                    "download_links": links,
                    "report_start_day": day_str(end - 27),
                    "report_end_day": day_str(end),
                }),
            )
        }
        ReportKind::Scope1 | ReportKind::Users1 => {
            let day = match req.q("day") {
                None | Some("") => {
                    return error(400, "Invalid request.\n\nMissing required query parameter: day.")
                }
                Some(v) => match parse_day(v) {
                    Some(d) => d,
                    None => {
                        return error(
                            400,
                            &format!("Invalid request.\n\nInvalid value for `day`: {v}. Expected a date (YYYY-MM-DD)."),
                        )
                    }
                },
            };
            if day >= today {
                return Reply::Plain {
                    status: 204,
                    body: Bytes::new(),
                };
            }
            if day < today - RETENTION_DAYS {
                return not_found();
            }
            let links = blob::issue_links(req.state, scope, kind, day, req.now);
            object(
                200,
                &json!({"download_links": links, "report_day": day_str(day)}),
            )
        }
    }
}

/// `GET /orgs/{org}/copilot/billing/seats`: `{total_seats, seats}`, paginated with `Link`.
pub fn seats(req: &ApiReq<'_>, org: &str) -> Reply {
    let Scope::Org(o) = (match resolve(req, &CopilotScope::Org(org.to_string())) {
        Ok(s) => s,
        Err(r) => return r,
    }) else {
        return not_found();
    };
    let world = &req.state.world;
    let all = seats::seats(world, o);
    let pr = req.page_req();
    let login = &world.orgs[o].login;
    let items: Vec<Value> = pr
        .slice(&all)
        .iter()
        .map(|s| seats::seat_json(world, &req.state.api_url, login, s, req.now))
        .collect();
    let body = json!({"total_seats": all.len(), "seats": items});
    Reply::Page {
        status: 200,
        page: Arc::new(Page::new(
            serde_json::to_vec(&body).unwrap_or_default(),
            pr.last_page(all.len()) as u32,
        )),
        page_no: pr.page,
        paginate: true,
    }
}
