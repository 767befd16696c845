//! The HTTP side: one catch-all actix handler running the request pipeline
//! (route → auth → secondary limits → faults → primary budget → handler → ETag/304 → headers;
//! org-scoped REST and GraphQL requests are logged on arrival, before the pipeline),
//! and the [`FakeGithub`] handle that runs the server on its own thread and actix `System`.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpRequest, HttpResponse, HttpResponseBuilder, HttpServer};

use crate::api::{self, ApiReq, Reply};
use crate::auth::{AuthError, Credential};
use crate::budget::{exceeded_message, BudgetView};
use crate::config::FakeConfig;
pub(crate) use crate::inject::{fault_prelude, mangle};
use crate::render::error_body;
use crate::routes::{self, Resource, Route};
use crate::secondary::Refusal;
use crate::state::State;
use crate::{control, graphql, truth};

/// A running fake. Stops on [`FakeGithub::stop`] or drop.
pub struct FakeGithub {
    addr: SocketAddr,
    state: Arc<State>,
    handle: Option<actix_web::dev::ServerHandle>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for FakeGithub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGithub")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeGithub {
    /// Starts the server on its own thread with its own actix System; returns once it is
    /// listening. Usable from any test runtime and from the exporter's `--demo`.
    pub fn spawn(config: FakeConfig) -> std::io::Result<FakeGithub> {
        let listener = std::net::TcpListener::bind(config.listen)?;
        let addr = listener.local_addr()?;
        let workers = config.workers.max(1);
        let state = Arc::new(
            State::new(config, format!("http://{addr}"))
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?,
        );
        let data = web::Data::from(state.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("fake-github".into())
            .spawn(move || {
                let system = actix_rt::System::new();
                let result = system.block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(data.clone())
                            .default_service(web::to(dispatch))
                    })
                    .workers(workers)
                    .disable_signals()
                    .shutdown_timeout(1);
                    #[cfg(feature = "faults")]
                    let server = server.on_connect(crate::inject::remember_socket);
                    let server = server.listen(listener)?.run();
                    // The receiver waits for this; if it is gone nobody needs the handle.
                    let _ = tx.send(Ok(server.handle()));
                    server.await
                });
                if let Err(e) = result {
                    tracing::error!(error = %e, "fake github server failed");
                }
            })?;
        let handle = match rx.recv() {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(std::io::Error::other(
                    "fake github server thread exited before listening",
                ))
            }
        };
        Ok(FakeGithub {
            addr,
            state,
            handle: Some(handle),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Owner logins, stable for a seed: the organizations, then the user-owned accounts.
    pub fn org_names(&self) -> Vec<String> {
        self.state
            .world
            .orgs
            .iter()
            .map(|o| o.login.clone())
            .collect()
    }

    /// The org's repositories whose `stats/contributors` reports zero lines (GitHub's
    /// behaviour for very large repositories), which send an exporter to its commit fallback.
    pub fn large_repos(&self, org: &str) -> Vec<String> {
        let world = &self.state.world;
        world
            .repos
            .iter()
            .filter(|r| r.large && world.orgs.get(r.org).is_some_and(|o| o.login == org))
            .map(|r| r.name.clone())
            .collect()
    }

    /// The installation id of an owner, org or user account (for App-auth configurations).
    pub fn installation_id(&self, org: &str) -> Option<u64> {
        self.state
            .world
            .owner_by_login(org)
            .map(|o| o.installation_id)
    }

    /// The logins of the user-owned accounts (the last of [`FakeGithub::org_names`]).
    pub fn user_owner_names(&self) -> Vec<String> {
        self.state
            .world
            .orgs
            .iter()
            .filter(|o| o.kind == crate::world::OwnerKind::User)
            .map(|o| o.login.clone())
            .collect()
    }

    /// The enterprise slug of the Copilot enterprise reports.
    pub fn enterprise_slug(&self) -> String {
        self.state.config.enterprise_slug.clone()
    }

    /// The installation id of the enterprise's App installation.
    pub fn enterprise_installation_id(&self) -> u64 {
        crate::copilot::enterprise_installation_id(self.state.world.seed)
    }

    /// The Copilot truth for `settings` at the fake's now (as `GET /_fake/copilot/truth`).
    pub fn copilot_truth(
        &self,
        settings: &crate::copilot::truth::Settings,
    ) -> crate::copilot::truth::CopilotTruth {
        crate::control::copilot_truth(&self.state, self.state.clock.now(), settings)
    }

    /// Changes the Copilot knobs (as `POST /_fake/copilot`); returns their new state.
    pub fn copilot_knobs(
        &self,
        change: crate::copilot::knobs::KnobChange,
    ) -> Result<crate::copilot::knobs::KnobState, crate::copilot::knobs::KnobError> {
        self.state.copilot.apply(change)
    }

    /// The fake's current "now" (Unix seconds).
    pub fn now(&self) -> f64 {
        self.state.clock.now()
    }

    /// Moves the fake clock (as `POST /_fake/clock {"advance_secs": n}`).
    pub fn advance_clock(&self, secs: f64) {
        self.state.clock.advance(secs);
    }

    /// The truth at `at` (as `GET /_fake/truth?at=`), computed in-process.
    pub fn truth(&self, at: f64) -> truth::Truth {
        let snaps: Vec<_> = (0..self.state.world.repos.len())
            .map(|gid| self.state.store.snapshot_at(gid, at))
            .collect();
        truth::compute_from(&self.state.world, at, snaps.iter().map(|c| &c.snap))
    }

    /// The latest org-scoped requests (REST and GraphQL), oldest first (see
    /// [`crate::counters::OrgRequest`]).
    pub fn org_requests(&self) -> Vec<crate::counters::OrgRequest> {
        self.state.counters.org_log()
    }

    /// The org-scoped requests still in the log with `at >= since`, oldest first (as
    /// `GET /_fake/org_requests?since=`).
    pub fn org_requests_since(&self, since: f64) -> Vec<crate::counters::OrgRequest> {
        self.state.counters.org_log_since(Some(since))
    }

    /// Injected faults served so far, by kind (see [`crate::faults::Faults::served`]).
    #[cfg(feature = "faults")]
    pub fn faults_served(&self) -> std::collections::BTreeMap<String, u64> {
        self.state.faults.served()
    }

    /// Request counters (as `GET /_fake/requests`).
    pub fn requests(&self) -> crate::counters::RequestCounts {
        self.state.counters.snapshot()
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(h) = self.handle.take() {
            // `stop` sends the command eagerly; the returned future only awaits completion,
            // which joining the thread below does instead.
            drop(h.stop(false));
        }
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("fake github server thread panicked");
            }
        }
    }
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        self.shutdown();
    }
}

pub(crate) struct Outcome {
    pub(crate) response: HttpResponse,
    /// 0 for a reset connection.
    pub(crate) status: u16,
    /// Budget units (GraphQL: points) the request used.
    pub(crate) consumed: u64,
}

async fn dispatch(req: HttpRequest, body: Bytes, state: web::Data<State>) -> HttpResponse {
    let path = req.path();
    if path == "/_fake" || path.starts_with("/_fake/") {
        return control::handle(&req, &body, &state);
    }
    if path.starts_with(crate::copilot::blob::PREFIX) && req.method() == Method::GET {
        return crate::copilot::blob::serve(&req, &state).await;
    }
    if graphql::is_graphql_path(path) && req.method() == Method::POST {
        let at = state.clock.now();
        for org in graphql::orgs::named_orgs(&body) {
            record_org(&req, &state, at, org, graphql::http::ENDPOINT.to_string());
        }
        let outcome = graphql::http::serve(&req, &body, &state).await;
        state.counters.record_use(
            graphql::http::ENDPOINT,
            outcome.status,
            Resource::Graphql.name(),
            outcome.consumed,
        );
        return outcome.response;
    }
    let stripped = routes::strip_prefix(path).to_string();
    let route = routes::parse(&stripped).filter(|r| r.method() == req.method());
    let endpoint = match &route {
        Some(r) => format!("{} {}", r.method(), r.template()),
        None => format!("{} (unmatched)", req.method()),
    };
    let resource = route.as_ref().map_or(Resource::Core, Route::resource);
    if let Some(org) = org_of(&stripped) {
        let at = state.clock.now();
        record_org(&req, &state, at, org.to_string(), endpoint.clone());
    }
    let outcome = pipeline(&req, &state, route, &stripped).await;
    state
        .counters
        .record_use(&endpoint, outcome.status, resource.name(), outcome.consumed);
    outcome.response
}

/// Logs a request about `org` at its arrival (`at`, the fake clock's now) with its `User-Agent`.
fn record_org(req: &HttpRequest, state: &State, at: f64, org: String, endpoint: String) {
    state.counters.record_org(crate::counters::OrgRequest {
        at,
        org,
        endpoint,
        user_agent: req
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
    });
}

/// The org (or account) of an org-scoped REST path (`/orgs/{org}/…`, `/repos/{org}/…`,
/// `/users/{org}[/…]`).
fn org_of(path: &str) -> Option<&str> {
    let mut parts = path.trim_start_matches('/').split('/');
    match (parts.next(), parts.next()) {
        (Some("orgs" | "repos" | "users"), Some(org)) if !org.is_empty() => Some(org),
        _ => None,
    }
}

async fn pipeline(req: &HttpRequest, state: &State, route: Option<Route>, path: &str) -> Outcome {
    let now = state.clock.now();
    let Some(route) = route else {
        return plain(state, 404, &error_body("Not Found", 404), None);
    };
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let cred = if route.needs_app_jwt() {
        state.auth.app_jwt(header, now)
    } else {
        state.auth.token(header, now)
    };
    let cred = match cred {
        Ok(Credential::Anonymous) if route != Route::Meta => Err(AuthError::Missing),
        other => other,
    };
    let cred = match cred {
        Ok(c) => c,
        Err(e) => return plain(state, 401, &error_body(&e.to_string(), 401), None),
    };
    let resource = route.resource();
    let key = cred.budget_key();
    let budgets = if resource == Resource::Search {
        &state.search
    } else {
        &state.core
    };
    let anonymous = cred == Credential::Anonymous;

    let _in_flight = if anonymous {
        None
    } else {
        match state.secondary.admit(&key, now) {
            Ok(g) => Some(g),
            Err(refusal) => {
                return secondary_refusal(state, refusal, budgets.peek(&key, now), resource)
            }
        }
    };

    let fault = match fault_prelude(req, state, path).await {
        Ok(f) => f,
        Err(out) => return out,
    };

    let metered = resource != Resource::Free && !anonymous;
    if metered {
        let view = budgets.peek(&key, now);
        if view.remaining == 0 {
            let msg = exceeded_message(&cred);
            let mut out = plain(state, 403, &error_body(&msg, 403), Some(view));
            set_resource(&mut out.response, resource);
            return out;
        }
    }

    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let api_req = ApiReq {
        state,
        route: &route,
        query: &query,
        now,
        cred: &cred,
    };
    let reply = api::handle(&api_req);

    let if_none_match = req
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok());
    if let (Reply::Page { page, .. }, Some(inm)) = (&reply, if_none_match) {
        if etag_matches(inm, &page.etag) {
            let view = metered.then(|| budgets.peek(&key, now));
            let mut b = HttpResponse::build(StatusCode::NOT_MODIFIED);
            common_headers(&mut b, state);
            let mut resp = b.finish();
            insert(&mut resp, "etag", &page.etag);
            if let Some(v) = view {
                rate_headers(&mut resp, v);
                set_resource(&mut resp, resource);
            }
            return Outcome {
                response: resp,
                status: 304,
                consumed: 0,
            };
        }
    }

    let view = if metered {
        // Racing requests may have used the last unit since the peek; report what is left.
        Some(budgets.consume(&key, now).unwrap_or_else(|v| v))
    } else if resource == Resource::Free {
        Some(state.core.peek(&key, now))
    } else {
        None
    };
    let status = reply.status();
    let copilot = matches!(
        route,
        Route::CopilotReport { .. } | Route::CopilotSeats { .. }
    );
    let mut b = HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
    common_headers(&mut b, state);
    let (body, etag, link) = match &reply {
        Reply::Page {
            page,
            page_no,
            paginate,
            ..
        } => {
            let link = if *paginate {
                let host = req.connection_info().host().to_string();
                crate::pagination::link_header(
                    &format!("http://{host}{}", req.path()),
                    req.query_string(),
                    *page_no,
                    page.last_page as usize,
                )
            } else {
                None
            };
            let link = crate::inject::endless_link(fault.as_ref(), req, *page_no).or(link);
            let link = if *paginate && status == 200 {
                crate::inject::foreign_next_link(fault.as_ref(), req, *page_no, link)
            } else {
                link
            };
            (page.body.clone(), Some(page.etag.clone()), link)
        }
        Reply::Plain { body, .. } => (body.clone(), None, None),
    };
    let body = mangle(body, fault.as_ref());
    if status != 204 {
        b.insert_header(("content-type", "application/json; charset=utf-8"));
    }
    let mut resp = if status == 204 {
        b.finish()
    } else if crate::inject::is_endless(fault.as_ref()) {
        crate::inject::endless_response(b)
    } else {
        b.body(body)
    };
    if let Some(e) = etag {
        insert(&mut resp, "etag", &e);
    }
    if let Some(l) = link {
        insert(&mut resp, "link", &l);
    }
    if copilot {
        // The fake clock's now: a seats reader buckets `last_activity_at` against it.
        insert(&mut resp, "date", &http_date(now));
    }
    if let Some(v) = view {
        rate_headers(&mut resp, v);
        set_resource(
            &mut resp,
            if resource == Resource::Free {
                Resource::Core
            } else {
                resource
            },
        );
    }
    Outcome {
        response: resp,
        status,
        consumed: u64::from(metered),
    }
}

/// A secondary-limit refusal (403/429 with `retry-after`); uses no budget.
pub(crate) fn secondary_refusal(
    state: &State,
    refusal: Refusal,
    view: BudgetView,
    resource: Resource,
) -> Outcome {
    let msg =
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";
    let status = state.secondary.status();
    let mut out = plain(state, status, &error_body(msg, status), Some(view));
    insert(
        &mut out.response,
        "retry-after",
        &refusal.retry_after().to_string(),
    );
    set_resource(&mut out.response, resource);
    out
}

pub(crate) fn plain(
    state: &State,
    status: u16,
    body: &serde_json::Value,
    view: Option<BudgetView>,
) -> Outcome {
    let mut b = HttpResponse::build(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    );
    common_headers(&mut b, state);
    b.insert_header(("content-type", "application/json; charset=utf-8"));
    let mut resp = b.body(serde_json::to_vec(body).unwrap_or_default());
    if let Some(v) = view {
        rate_headers(&mut resp, v);
    }
    Outcome {
        response: resp,
        status,
        consumed: 0,
    }
}

pub(crate) fn common_headers(b: &mut HttpResponseBuilder, state: &State) {
    let n = state.request_seq.fetch_add(1, Ordering::Relaxed);
    b.insert_header(("x-github-media-type", "github.v3; format=json"));
    b.insert_header(("x-github-api-version-selected", "2022-11-28"));
    b.insert_header(("x-github-request-id", format!("FAKE:{n:08X}")));
    b.insert_header(("cache-control", "private, max-age=60, s-maxage=60"));
    b.insert_header(("vary", "Accept, Authorization, Cookie, X-GitHub-OTP"));
}

/// An IMF-fixdate (`Tue, 14 Nov 2023 22:13:20 GMT`) of Unix seconds.
pub(crate) fn http_date(secs: f64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0.0) as u64);
    actix_web::http::header::HttpDate::from(t).to_string()
}

pub(crate) fn rate_headers(resp: &mut HttpResponse, v: BudgetView) {
    insert(resp, "x-ratelimit-limit", &v.limit.to_string());
    insert(resp, "x-ratelimit-remaining", &v.remaining.to_string());
    insert(resp, "x-ratelimit-used", &v.used.to_string());
    insert(resp, "x-ratelimit-reset", &v.reset.to_string());
}

pub(crate) fn set_resource(resp: &mut HttpResponse, r: Resource) {
    insert(resp, "x-ratelimit-resource", r.name());
}

pub(crate) fn insert(resp: &mut HttpResponse, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

/// `If-None-Match` matching with weak comparison, lists and `*`.
fn etag_matches(header: &str, etag: &str) -> bool {
    let bare = |s: &str| s.trim().trim_start_matches("W/").to_string();
    let want = bare(etag);
    header
        .split(',')
        .any(|t| t.trim() == "*" || bare(t) == want)
}
