//! The actix-web HTTP layer: `/metrics`, `/metrics/replica`, `/livez`, `/readyz`, `/healthz` and
//! the `/` status page. Handlers hold only shared handles (the published exposition and the
//! HealthActor's address); they never touch a backend, so a slow Redis or GitHub cannot make a
//! probe hang.
//!
//! **Architecture Invariant:** handlers talk to the StoreActor (through the exposition cell it
//! publishes) and the HealthActor, and to nothing else.

mod endpoints;
pub mod negotiate;
mod samples;
mod status_page;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpResponse, HttpServer};
use gse_actors::health::HealthActor;
use gse_actors::store::ExpositionCell;
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use crate::replica_metrics::{path_label, ReplicaMetrics};

/// Finds the current HealthActor (its address changes when the supervisor restarts it).
pub type HealthLookup = Arc<dyn Fn() -> Option<Addr<HealthActor>> + Send + Sync>;

/// What the landing page shows besides live health.
#[derive(Debug, Clone)]
pub struct LandingInfo {
    pub version: &'static str,
    pub orgs: Vec<String>,
    pub store_backend: &'static str,
    pub queue_backend: &'static str,
    /// The election, when one runs: shown by `/healthz`.
    pub election: Option<ElectionInfo>,
}

/// Which election this replica takes part in.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ElectionInfo {
    /// `redis` or `kubernetes`.
    pub backend: &'static str,
    /// The lease: the Redis key, or the Lease object (`namespace/name`; the namespace is
    /// `(default)` when it is the client's: the pod's, or the kubeconfig context's).
    pub lease: String,
}

/// Limits that protect the server from slow or greedy clients.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Time allowed to receive a request's headers.
    pub header_timeout: Duration,
    /// Time allowed for a client to close after the response.
    pub disconnect_timeout: Duration,
    /// Requests handled at once; beyond it the server answers 503 at once.
    pub max_concurrent_requests: usize,
    /// Largest request body accepted (our endpoints take none).
    pub max_body_bytes: usize,
    /// Worker threads.
    pub workers: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(5),
            disconnect_timeout: Duration::from_secs(2),
            max_concurrent_requests: 256,
            max_body_bytes: 4096,
            workers: 2,
        }
    }
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct HttpState {
    pub exposition: Arc<ExpositionCell>,
    pub health: HealthLookup,
    pub replica: Arc<ReplicaMetrics>,
    pub landing: Arc<LandingInfo>,
    /// How long a handler waits for the HealthActor before answering 503.
    pub actor_timeout: Duration,
    /// The backfill queue, sampled fresh for the queue gauges of `/metrics/replica`.
    pub queue: Option<Arc<dyn gse_actors::backfill::JobQueue>>,
    /// The roles, read at request time for `/metrics/replica` (no actor in between, so the
    /// answer never depends on a mailbox after a pause).
    pub roles: gse_actors::election::board::RoleBoard,
}

/// Builds the server on an already-bound listener. Signals are handled by the caller, which
/// stops the returned [`Server`] during graceful shutdown.
pub fn serve(
    listener: TcpListener,
    state: HttpState,
    limits: HttpLimits,
) -> std::io::Result<Server> {
    let permits = Arc::new(Semaphore::new(limits.max_concurrent_requests));
    let server = HttpServer::new(move || {
        let permits = permits.clone();
        let replica = state.replica.clone();
        App::new()
            .app_data(web::Data::new(state.clone()))
            .app_data(web::PayloadConfig::new(limits.max_body_bytes))
            .wrap(from_fn(move |req, next| {
                guard(req, next, permits.clone(), replica.clone())
            }))
            .configure(endpoints::routes)
            .default_service(web::to(endpoints::not_found))
    })
    .workers(limits.workers)
    .client_request_timeout(limits.header_timeout)
    .client_disconnect_timeout(limits.disconnect_timeout)
    .shutdown_timeout(5)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}

/// Concurrency cap, request accounting and the server span (`http.server`, a root; `http.route`
/// is the matched pattern or `other`, never the raw path) around every handler.
async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    permits: Arc<Semaphore>,
    replica: Arc<ReplicaMetrics>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let Ok(_permit) = permits.try_acquire() else {
        replica.http_rejected_overload.inc();
        let response = HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "1"))
            .body("too many concurrent requests\n");
        return Ok(req.into_response(response));
    };
    let started = std::time::Instant::now();
    let route = path_label(req.match_pattern().as_deref());
    let span = tracing::info_span!(parent: None, "http.server",
        otel.name = %format_args!("{} {route}", req.method()), otel.kind = "server",
        http.request.method = %req.method(), http.route = route,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty);
    let response = next
        .call(req)
        .instrument(span.clone())
        .await?
        .map_into_boxed_body();
    let path = path_label(response.request().match_pattern().as_deref());
    let status = response.status().as_u16();
    span.record("http.response.status_code", i64::from(status));
    if status >= 500 {
        span.record("otel.status_code", "ERROR");
    }
    replica.observe_request(path, status, started.elapsed().as_secs_f64());
    Ok(response)
}
