//! The handlers: each reads the published exposition or asks the HealthActor, with a timeout.

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use gse_actors::exposition::{self, Family, Format, LabelSet, MetricKind, Series};
use gse_actors::health::{ComponentStatus, HealthReport, Role};
use gse_actors::messages::GetHealth;
use gse_actors::observe::taxonomy;
use serde_json::json;

use super::negotiate::{accepts_gzip, format_for_accept};
use super::{samples, status_page, HttpState};

/// Registers every route; a known path with a wrong method answers 405 with `Allow`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(get_only("/", landing))
        .service(get_only("/metrics", metrics))
        .service(get_only("/metrics/replica", replica_metrics))
        .service(get_only("/livez", livez))
        .service(get_only("/readyz", readyz))
        .service(get_only("/healthz", healthz));
}

fn get_only<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
        .default_service(web::to(method_not_allowed))
}

async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "GET, HEAD"))
        .content_type("text/plain; charset=utf-8")
        .body("method not allowed\n")
}

pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("not found\n")
}

async fn metrics(req: HttpRequest, state: web::Data<HttpState>) -> HttpResponse {
    let format = format_for_accept(header_str(&req, header::ACCEPT));
    let gzip = accepts_gzip(header_str(&req, header::ACCEPT_ENCODING));
    let rendered = state.exposition.load();
    let body = rendered.body(format);
    let mut response = HttpResponse::Ok();
    response
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        ))
        .insert_header((
            header::VARY,
            HeaderValue::from_static("Accept, Accept-Encoding"),
        ));
    let bytes = if gzip {
        response.insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")));
        body.gzip.clone()
    } else {
        body.plain()
    };
    if req.method() == Method::HEAD {
        return response.finish();
    }
    response.body(bytes)
}

async fn replica_metrics(req: HttpRequest, state: web::Data<HttpState>) -> HttpResponse {
    let format = format_for_accept(header_str(&req, header::ACCEPT));
    let report = ask_health(&state).await;
    let mut families = replica_families(&state, report.as_deref());
    if let Some(queue) = &state.queue {
        // Sampled fresh; a failed sample answers 500 instead of hiding the backlog.
        match crate::queue::sampler::queue_families(queue.as_ref(), state.actor_timeout).await {
            Ok(queue_families) => families.extend(queue_families),
            Err(error) => {
                let chain = gse_actors::store::error_chain(&error);
                tracing::error!(error = %chain, "sampling the backfill queue failed");
                return HttpResponse::InternalServerError()
                    .content_type("text/plain; charset=utf-8")
                    .body(format!("{chain}\n"));
            }
        }
        families.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let extra =
        String::from_utf8(exposition::render(&families, Format::Text004)).unwrap_or_default();
    // The dynamic families above are gauges only, whose text-0.0.4 and OpenMetrics forms agree.
    let body = match state.replica.encode(&extra) {
        Ok(openmetrics) if format == Format::OpenMetrics100 => openmetrics,
        Ok(openmetrics) => crate::replica_metrics::openmetrics_to_text004(&openmetrics),
        Err(error) => {
            tracing::error!(error = %error, "encoding replica metrics failed");
            return HttpResponse::InternalServerError().body("encoding replica metrics failed\n");
        }
    };
    let mut response = HttpResponse::Ok();
    response.content_type(format.content_type());
    if req.method() == Method::HEAD {
        return response.finish();
    }
    response.body(body)
}

/// Per-process gauges derived from the health report and the exposition cell.
fn replica_families(state: &HttpState, report: Option<&HealthReport>) -> Vec<Family> {
    let mut families = Vec::new();
    let gauge = |name: &str, help: &str, series: Vec<Series>| Family {
        name: name.into(),
        help: help.into(),
        kind: MetricKind::Gauge,
        series,
    };
    if let Some(report) = report {
        let derived = crate::health_view::derived_dependencies(report);
        let mut deps: Vec<Series> = report
            .components
            .iter()
            .filter(|(name, _)| !name.starts_with("actor."))
            .map(|(name, view)| (name.as_str(), view.status.is_up()))
            .chain(derived)
            .map(|(name, up)| Series {
                labels: LabelSet::render(&[("dependency", name)]),
                value: if up { 1.0 } else { 0.0 },
            })
            .collect();
        deps.sort_by(|a, b| a.labels.cmp(&b.labels));
        families.push(gauge(
            "gh_exporter_dependency_health",
            "1 when the dependency is usable by this replica, else 0.",
            deps,
        ));
    }
    // The roles, judged now from the lease deadlines (not from an actor's mailbox): a lease
    // whose local deadline has passed is never reported, even by a request that waited in the
    // kernel while the process was paused.
    let roles = state.roles.read();
    families.push(gauge(
        "gh_exporter_is_leader",
        "1 when this replica is the leader.",
        vec![Series {
            labels: LabelSet::default(),
            value: f64::from(u8::from(roles.role == Role::Leader)),
        }],
    ));
    families.push(gauge(
        taxonomy::LEADER_EPOCH.name,
        taxonomy::LEADER_EPOCH.help,
        vec![Series {
            labels: LabelSet::default(),
            value: roles.epoch as f64,
        }],
    ));
    families.push(gauge(
        taxonomy::OWNED_ORGS.name,
        taxonomy::OWNED_ORGS.help,
        vec![Series {
            labels: LabelSet::default(),
            value: roles.owned_orgs.len() as f64,
        }],
    ));
    if !roles.org_leases.is_empty() {
        families.push(gauge(
            taxonomy::ORG_LEASE_HELD.name,
            taxonomy::ORG_LEASE_HELD.help,
            roles
                .org_leases
                .iter()
                .map(|(org, held)| Series {
                    labels: LabelSet::render(&[("org", org.as_str())]),
                    value: f64::from(u8::from(*held)),
                })
                .collect(),
        ));
    }
    families.push(gauge(
        "gh_exporter_store_snapshot_age_seconds",
        "Seconds since the served /metrics snapshot was last confirmed current with the store.",
        vec![Series {
            labels: LabelSet::default(),
            value: state.exposition.age().as_secs_f64(),
        }],
    ));
    families.sort_by(|a, b| a.name.cmp(&b.name));
    families
}

async fn livez() -> HttpResponse {
    // The HTTP server runs inside the actor system; while it answers, the system runs.
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

async fn readyz(state: web::Data<HttpState>) -> HttpResponse {
    match ask_health(&state).await {
        Some(report) if report.ready => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ready\n"),
        Some(report) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "not ready: {}\n",
                report.failing_required().join(", ")
            )),
        None => HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("not ready: health actor unavailable\n"),
    }
}

async fn healthz(state: web::Data<HttpState>) -> HttpResponse {
    match ask_health(&state).await {
        Some(report) => {
            let mut body = health_json(&report);
            if let (Some(election), Some(map)) = (&state.landing.election, body.as_object_mut()) {
                map.insert("election".into(), json!(election));
            }
            let mut response = if report.mode == gse_actors::health::Mode::Unhealthy {
                HttpResponse::ServiceUnavailable()
            } else {
                HttpResponse::Ok()
            };
            response
                .content_type("application/json")
                .body(body.to_string())
        }
        None => HttpResponse::ServiceUnavailable()
            .content_type("application/json")
            .body(
                json!({"mode": "unhealthy", "ready": false, "error": "health actor unavailable"})
                    .to_string(),
            ),
    }
}

/// The `/healthz` JSON: `{role, epoch, mode, ready, components{name: {ok, status, …}}, services{…},
/// scrapes{org: {last_result, …, loc_stats_waiting_repositories}}}`.
pub fn health_json(report: &HealthReport) -> serde_json::Value {
    let components: serde_json::Map<String, serde_json::Value> = report
        .components
        .iter()
        .map(|(name, view)| {
            let (status, detail) = match &view.status {
                ComponentStatus::Starting => ("starting", None),
                ComponentStatus::Stopped => ("stopped", None),
                ComponentStatus::Up => ("up", None),
                ComponentStatus::Down(reason) => ("down", Some(reason.clone())),
                ComponentStatus::Skipped(reason) => ("skipped", Some(reason.clone())),
            };
            let mut value = json!({
                "ok": view.status.is_up() || matches!(view.status, ComponentStatus::Skipped(_)),
                "status": status,
                "required_for_ready": view.required_for_ready,
                "since": view.since_unix,
            });
            if let Some(detail) = detail {
                value["detail"] = json!(detail);
            }
            (name.clone(), value)
        })
        .collect();
    let services: serde_json::Map<String, serde_json::Value> = report
        .services
        .iter()
        .map(|s| (s.name.clone(), crate::health_view::service_json(s)))
        .collect();
    let scrapes: serde_json::Map<String, serde_json::Value> = report
        .scrapes
        .iter()
        .map(|(org, p)| {
            let value = json!({
                "last_result": p.last_result,
                "last_cycle_seconds": p.last_duration_secs,
                "last_window_end": p.last_window_end,
                "last_success": p.last_success,
                "last_error": p.last_error,
                "loc_stats_waiting_repositories": p.loc_stats_waiting,
                "loc_rounds": p.loc_rounds,
            });
            (org.clone(), value)
        })
        .collect();
    json!({
        "role": report.role.as_str(),
        "epoch": report.epoch,
        "owned_orgs": report.owned_orgs,
        "mode": report.mode.as_str(),
        "ready": report.ready,
        "components": components,
        "services": services,
        "scrapes": scrapes,
    })
}

/// The status page (see [`super::status_page`]); never waits on a backend longer than
/// `actor_timeout`.
async fn landing(state: web::Data<HttpState>) -> HttpResponse {
    let report = ask_health(&state).await;
    let rendered = state.exposition.load();
    let plain = rendered.body(Format::Text004).plain();
    let text = String::from_utf8_lossy(&plain);
    let shared = samples::parse(&text, status_page::wanted_shared);
    let replica_text = state.replica.encode("").unwrap_or_default();
    let replica = samples::parse(&replica_text, status_page::wanted_replica);
    let queues = match &state.queue {
        None => None,
        Some(queue) => Some(
            match tokio::time::timeout(state.actor_timeout, queue.sample()).await {
                Ok(Ok(samples)) => Ok(samples),
                Ok(Err(error)) => Err(gse_actors::store::error_chain(&error)),
                Err(_) => Err(format!("timed out after {:?}", state.actor_timeout)),
            },
        ),
    };
    let now_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let info = &state.landing;
    let body = status_page::render(&status_page::StatusInput {
        version: info.version,
        now_unix,
        report: report.as_deref(),
        orgs: &info.orgs,
        store_backend: info.store_backend,
        queue_backend: info.queue_backend,
        series_served: rendered.series,
        shared: &shared,
        replica: &replica,
        queues,
    });
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'",
        ))
        .body(body)
}

async fn ask_health(state: &HttpState) -> Option<Arc<HealthReport>> {
    let addr = (state.health)()?;
    match tokio::time::timeout(state.actor_timeout, addr.send(GetHealth)).await {
        Ok(Ok(report)) => Some(report),
        Ok(Err(error)) => {
            tracing::warn!(error = %error, "health actor unreachable");
            None
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = state.actor_timeout.as_millis() as u64,
                "health actor did not answer in time"
            );
            None
        }
    }
}

fn header_str(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}
