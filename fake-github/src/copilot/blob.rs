//! Report files served like blob storage: signed, expiring download links under
//! `/_blob/copilot/…` on the fake's listener. No GitHub auth and no rate budget; an invalid or
//! expired signature answers 403 with Azure's XML error. Faults (`/_fake/faults`) apply. A
//! download that carries an `Authorization` header is served but counted
//! (`download_requests_with_authorization`): a client must never send its GitHub token here.
//!
//! A link names everything its file depends on (scope, report, day, part, parts, malformed
//! flag) and is signed over it, so the file is the same whenever it is downloaded.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::model::{day_str, is_active, parse_day, scope_id, user_day, Activity, Scope};
use super::records::{day_record, user_record, Ids};
use super::ReportKind;
use crate::hash::hash;
use crate::state::State;
use crate::timefmt::{iso, DAY};
use crate::world::{UserIdx, World};

/// Path prefix of download links.
pub const PREFIX: &str = "/_blob/copilot/";
/// Lifetime of a download link in seconds of the fake clock.
pub const LINK_TTL_SECS: i64 = 300;

fn sign(seed: u64, text: &str) -> String {
    let secret = hash(&[seed, 0xB1, 0x0B]);
    let mut parts = vec![secret, text.len() as u64];
    for chunk in text.as_bytes().chunks(8) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        parts.push(u64::from_le_bytes(b));
    }
    let a = hash(&parts);
    parts[0] ^= 0x5A5A;
    format!("{a:016x}{:016x}", hash(&parts))
}

/// The path segment naming a scope: `org-{login}` or `ent-{slug}`.
pub fn scope_segment(state: &State, scope: Scope) -> String {
    match scope {
        Scope::Org(o) => format!("org-{}", state.world.orgs[o].login),
        Scope::Enterprise => format!("ent-{}", state.config.enterprise_slug),
    }
}

/// Issues the download links of one report (`day` = `report_end_day` or `report_day`).
pub fn issue_links(
    state: &State,
    scope: Scope,
    kind: ReportKind,
    day: i64,
    now: f64,
) -> Vec<String> {
    let knobs = state.copilot.snapshot();
    let parts = if kind == ReportKind::Scope1 {
        1
    } else {
        knobs.files_per_report.max(1)
    };
    let bad = u8::from(knobs.malformed);
    let seg = scope_segment(state, scope);
    let ext = if kind.is_users() { "ndjson" } else { "json" };
    (0..parts)
        .map(|part| {
            let expired = state.copilot.take_expired(&day_str(day));
            let se = if expired {
                now.floor() as i64 - 1
            } else {
                now.floor() as i64 + LINK_TTL_SECS
            };
            let path = format!(
                "{PREFIX}{seg}/{}/{}/{part}.{ext}",
                kind.name(scope),
                day_str(day)
            );
            let query = format!("sv=2025-01-05&sr=b&sp=r&parts={parts}&bad={bad}&se={se}");
            let sig = sign(state.world.seed, &format!("{path}?{query}"));
            format!("{}{path}?{query}&sig={sig}", state.api_url)
        })
        .collect()
}

fn azure_error(state: &State, status: u16, code: &str, detail: &str, now: f64) -> HttpResponse {
    let id = hash(&[state.world.seed, now.to_bits()]);
    let body = format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.\nRequestId:{id:016x}\nTime:{}</Message><AuthenticationErrorDetail>{detail}</AuthenticationErrorDetail></Error>",
        iso(now as i64)
    );
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN))
        .insert_header(("content-type", "application/xml"))
        .insert_header(("x-ms-error-code", code.to_string()))
        .insert_header(("x-ms-request-id", format!("{id:016x}")))
        .body(body)
}

struct Target {
    scope: Scope,
    kind: ReportKind,
    day: i64,
    part: u32,
    parts: u32,
    bad: bool,
}

fn query_num(q: &str, key: &str) -> Option<i64> {
    q.split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

/// Parses a (signature-checked) download path.
fn target(state: &State, path: &str, signed_query: &str) -> Option<Target> {
    let rest = path.strip_prefix(PREFIX)?;
    let segs: Vec<&str> = rest.split('/').collect();
    let [seg, report, day, file] = segs.as_slice() else {
        return None;
    };
    let scope = if let Some(login) = seg.strip_prefix("org-") {
        Scope::Org(state.world.org_by_login(login)?.idx)
    } else if seg.strip_prefix("ent-")? == state.config.enterprise_slug {
        Scope::Enterprise
    } else {
        return None;
    };
    let kind = ReportKind::from_name(report, scope)?;
    let part = file.split('.').next()?.parse().ok()?;
    let parts = u32::try_from(query_num(signed_query, "parts")?).ok()?;
    Some(Target {
        scope,
        kind,
        day: parse_day(day)?,
        part,
        parts,
        bad: query_num(signed_query, "bad")? == 1,
    })
}

fn chunk<T>(items: &[T], part: u32, parts: u32) -> &[T] {
    let n = items.len();
    let (p, ps) = (part as usize, parts.max(1) as usize);
    &items[n * p / ps..n * (p + 1) / ps]
}

/// A broken NDJSON line and a valid value of an unknown shape (users reports).
const BAD_USER_LINES: &str =
    "{\"user_id\": 1, \"user_login\": \"broken-line\", \"day\": \"20\n[\"an\", \"unknown\", \"shape\"]\n";
/// A valid value of the wrong shape (scope 28-day reports).
const BAD_SCOPE_VALUE: &str = "{\"day_totals\": \"not a list\", \"etl_id\": \"broken\"}\n";

fn ids(state: &State, scope: Scope) -> Ids {
    Ids {
        organization_id: match scope {
            Scope::Org(o) => Some(state.world.orgs[o].id),
            Scope::Enterprise => None,
        },
        enterprise_id: super::model::enterprise_id(state.world.seed),
    }
}

/// The bytes of one file.
fn content(state: &State, t: &Target) -> Vec<u8> {
    let world = &state.world;
    let seed = world.seed;
    let ids = ids(state, t.scope);
    let sid = scope_id(world, t.scope);
    let mut out = Vec::new();
    match t.kind {
        ReportKind::Scope28 => {
            let (start, end) = (t.day - 27, t.day);
            let act = Activity::for_scope(world, t.scope, start, end);
            let days: Vec<i64> = (start..=end).collect();
            let totals: Vec<Value> = chunk(&days, t.part, t.parts)
                .iter()
                .map(|d| day_record(seed, &act.day_record(seed, sid, *d), ids))
                .collect();
            let mut obj = json!({
                "report_start_day": day_str(start),
                "report_end_day": day_str(end),
                "created_at": iso((end + 1) * DAY + 3 * 3600 + (hash(&[seed, sid, end as u64]) % 3600) as i64),
                "etl_id": format!("{:016x}", hash(&[seed, 0xE8, sid, end as u64])),
                "day_totals": totals,
            });
            match ids.organization_id {
                Some(o) => obj["organization_id"] = json!(o.to_string()),
                None => obj["enterprise_id"] = json!(ids.enterprise_id.to_string()),
            }
            if t.bad && t.part + 1 == t.parts {
                out.extend_from_slice(BAD_SCOPE_VALUE.as_bytes());
            }
            let text = if t.part == 0 {
                serde_json::to_vec_pretty(&obj)
            } else {
                serde_json::to_vec(&obj)
            };
            out.extend(text.unwrap_or_default());
            out.push(b'\n');
        }
        ReportKind::Scope1 => {
            let act = Activity::for_scope(world, t.scope, t.day, t.day);
            let rec = day_record(seed, &act.day_record(seed, sid, t.day), ids);
            out.extend(serde_json::to_vec(&rec).unwrap_or_default());
            out.push(b'\n');
        }
        ReportKind::Users28 | ReportKind::Users1 => {
            let (start, end, range) = if t.kind == ReportKind::Users28 {
                (t.day - 27, t.day, Some((t.day - 27, t.day)))
            } else {
                (t.day, t.day, None)
            };
            let act = Activity::new(world, super::model::scope_users(world, t.scope), start, end);
            let rows = act.user_rows(start, end);
            for (i, ud) in chunk(&rows, t.part, t.parts).iter().enumerate() {
                out.extend(
                    serde_json::to_vec(&user_record(world, ud, ids, range)).unwrap_or_default(),
                );
                out.push(b'\n');
                if t.bad && t.part == 0 && i == 0 {
                    out.extend_from_slice(BAD_USER_LINES.as_bytes());
                }
            }
            if t.bad && t.part == 0 && out.is_empty() {
                out.extend_from_slice(BAD_USER_LINES.as_bytes());
            }
        }
    }
    out
}

/// Serves `GET /_blob/copilot/…`.
pub(crate) async fn serve(req: &HttpRequest, state: &State) -> HttpResponse {
    let now = state.clock.now();
    let path = req.path().to_string();
    let has_auth = req.headers().contains_key("authorization");
    let report = path
        .strip_prefix(PREFIX)
        .and_then(|r| r.split('/').nth(1))
        .unwrap_or("unknown")
        .to_string();
    let (response, status) = serve_inner(req, state, &path, now).await;
    state.counters.record_download(&report, has_auth, status);
    response
}

async fn serve_inner(
    req: &HttpRequest,
    state: &State,
    path: &str,
    now: f64,
) -> (HttpResponse, u16) {
    let fault = match crate::server::fault_prelude(req, state, path).await {
        Ok(f) => f,
        Err(out) => return (out.response, out.status),
    };
    let query = req.query_string();
    let Some((signed_query, sig)) = query.rsplit_once("&sig=") else {
        return (
            azure_error(
                state,
                403,
                "AuthenticationFailed",
                "Signature fields not well formed.",
                now,
            ),
            403,
        );
    };
    if sign(state.world.seed, &format!("{path}?{signed_query}")) != sig {
        return (
            azure_error(
                state,
                403,
                "AuthenticationFailed",
                "Signature did not match.",
                now,
            ),
            403,
        );
    }
    let se = query_num(signed_query, "se").unwrap_or(0);
    if (now.floor() as i64) > se {
        let detail = format!(
            "Signed expiry time [{}] must be after current time [{}]",
            iso(se),
            iso(now as i64)
        );
        return (
            azure_error(state, 403, "AuthenticationFailed", &detail, now),
            403,
        );
    }
    let Some(t) = target(state, path, signed_query) else {
        let body = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobNotFound</Code><Message>The specified blob does not exist.</Message></Error>";
        let resp = HttpResponse::NotFound()
            .insert_header(("content-type", "application/xml"))
            .insert_header(("x-ms-error-code", "BlobNotFound"))
            .body(body);
        return (resp, 404);
    };
    let mut b = HttpResponse::Ok();
    b.insert_header(("content-type", "application/octet-stream"))
        .insert_header(("x-ms-blob-type", "BlockBlob"))
        .insert_header(("x-ms-version", "2025-01-05"));
    // Users reports are streamed (a big world's file never sits in memory); a fault that
    // changes the body needs the whole of it.
    let resp = if t.kind.is_users() && fault.is_none() {
        b.body(UserRows::new(state, &t))
    } else {
        b.body(crate::server::mangle(
            Bytes::from(content(state, &t)),
            fault.as_ref(),
        ))
    };
    (resp, 200)
}

/// A users report file generated row by row while it is sent (chunked, ~64 KiB a chunk): the
/// rows with index `[from, to)` in file order (by day, then seat order), the malformed lines of
/// the knob after the first row of the first file.
struct UserRows {
    world: Arc<World>,
    users: Vec<UserIdx>,
    ids: Ids,
    range: Option<(i64, i64)>,
    day: i64,
    last_day: i64,
    ui: usize,
    /// Index of the next active row.
    index: usize,
    from: usize,
    to: usize,
    bad: bool,
    emitted: usize,
}

impl UserRows {
    fn new(state: &State, t: &Target) -> UserRows {
        let world = state.world.clone();
        let users = super::model::scope_users(&world, t.scope);
        let (start, end, range) = if t.kind == ReportKind::Users28 {
            (t.day - 27, t.day, Some((t.day - 27, t.day)))
        } else {
            (t.day, t.day, None)
        };
        let total = (start..=end)
            .map(|d| {
                users
                    .iter()
                    .filter(|u| is_active(world.seed, world.user(**u).id, d))
                    .count()
            })
            .sum::<usize>();
        let (p, ps) = (t.part as usize, t.parts.max(1) as usize);
        UserRows {
            ids: ids(state, t.scope),
            world,
            users,
            range,
            day: start,
            last_day: end,
            ui: 0,
            index: 0,
            from: total * p / ps,
            to: total * (p + 1) / ps,
            bad: t.bad && t.part == 0,
            emitted: 0,
        }
    }

    /// The next row of this file (with its newline), or `None` at its end.
    fn next_row(&mut self) -> Option<Vec<u8>> {
        while self.day <= self.last_day && self.index < self.to {
            let (day, u) = (self.day, self.users.get(self.ui).copied());
            self.ui += 1;
            if self.ui >= self.users.len() {
                self.ui = 0;
                self.day += 1;
            }
            let Some(u) = u else { continue };
            let id = self.world.user(u).id;
            if !is_active(self.world.seed, id, day) {
                continue;
            }
            let index = self.index;
            self.index += 1;
            if index < self.from {
                continue;
            }
            let ud = user_day(self.world.seed, id, u, day)?;
            let mut out = serde_json::to_vec(&user_record(&self.world, &ud, self.ids, self.range))
                .unwrap_or_default();
            out.push(b'\n');
            if self.bad && self.emitted == 0 {
                out.extend_from_slice(BAD_USER_LINES.as_bytes());
            }
            self.emitted += 1;
            return Some(out);
        }
        if self.bad && self.emitted == 0 {
            self.emitted = 1;
            return Some(BAD_USER_LINES.as_bytes().to_vec());
        }
        None
    }
}

impl MessageBody for UserRows {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        const CHUNK: usize = 64 * 1024;
        let mut buf = Vec::with_capacity(CHUNK + 16 * 1024);
        while buf.len() < CHUNK {
            match self.next_row() {
                Some(row) => buf.extend(row),
                None => break,
            }
        }
        if buf.is_empty() {
            Poll::Ready(None)
        } else {
            Poll::Ready(Some(Ok(Bytes::from(buf))))
        }
    }
}
