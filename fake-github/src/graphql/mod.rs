//! A subset of GitHub's GraphQL API v4 (`POST /graphql`, GHES `POST /api/graphql`): search of
//! issues and pull requests with their reviews and conversation comments, repositories' default
//! branch commit history, and `rateLimit`, served from the same snapshots as the REST endpoints
//! (see `schema.graphql` for the types).
//!
//! A request goes: body ([`request`]) → parse (graphql-parser) → static validation and plan
//! ([`plan`]) → cost and pagination rules ([`cost`]) → the `graphql` budget, in points →
//! execution ([`exec`] over [`resolve`]). Errors before execution answer `{"errors": [...]}`
//! without `data` and use no budget; [`http`] wraps this in the HTTP pipeline (auth, secondary
//! limits, faults, rate headers). [`orgs`] reads which orgs a request names, for the org request
//! log.

pub mod commits;
pub mod cost;
pub mod error;
pub mod exec;
pub mod http;
pub mod orgs;
pub mod out;
pub mod paging;
pub mod plan;
pub mod request;
pub mod resolve;
pub mod schema;

use crate::auth::Credential;
use crate::budget::{exceeded_message, BudgetView};
use crate::state::State;

use error::{errors_only, GqlError};
use out::Out;
use request::BodyError;
use schema::Schema;

/// The paths GraphQL is served at: github.com's and GHES's (`/api/graphql`, not under
/// `/api/v3`).
pub fn is_graphql_path(path: &str) -> bool {
    matches!(path.trim_end_matches('/'), "/graphql" | "/api/graphql")
}

/// What a GraphQL request produced, before HTTP.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Out,
    /// The `graphql` budget to report in `x-ratelimit-*`.
    pub budget: BudgetView,
    /// Points charged (0 when the query did not run).
    pub points: u32,
}

/// Answers one GraphQL request of an authenticated credential.
pub fn answer(state: &State, cred: &Credential, now: f64, body: &[u8]) -> Answer {
    let key = cred.budget_key();
    let peek = || state.graphql.peek(&key, now);
    let refuse = |status: u16, body: Out| Answer {
        status,
        body,
        budget: peek(),
        points: 0,
    };
    let schema = match Schema::get() {
        Ok(s) => s,
        Err(e) => return refuse(500, message_body(&e.to_string())),
    };
    let req = match request::parse_body(body) {
        Ok(r) => r,
        Err(BodyError::NotJson) => {
            return refuse(400, message_body(&BodyError::NotJson.to_string()))
        }
        Err(e) => return refuse(200, errors_only(&[GqlError::new(e.to_string())])),
    };
    let doc = match graphql_parser::parse_query::<String>(&req.query) {
        Ok(d) => d,
        Err(e) => return refuse(200, errors_only(&[error::parse_error(&e.to_string())])),
    };
    let fields = match plan::plan(schema, &doc, req.operation_name.as_deref(), &req.variables) {
        Ok(f) => f,
        Err(errors) => return refuse(200, errors_only(&errors)),
    };
    let cost = match cost::analyse(&fields) {
        Ok(c) => c,
        Err(errors) => return refuse(200, errors_only(&errors)),
    };
    let budget = match state.graphql.consume_points(&key, now, cost.points) {
        Ok(b) => b,
        Err(b) => {
            let e = GqlError {
                kind: Some("RATE_LIMITED"),
                ..GqlError::new(exceeded_message(cred))
            };
            return Answer {
                status: 200,
                body: errors_only(&[e]),
                budget: b,
                points: 0,
            };
        }
    };
    let mut ex = exec::Exec {
        schema,
        ctx: resolve::Ctx {
            state,
            cred,
            now,
            cost,
            budget,
        },
        errors: Vec::new(),
    };
    let data = ex.run(&fields);
    let mut body = vec![("data", data)];
    if !ex.errors.is_empty() {
        body.push((
            "errors",
            Out::List(ex.errors.iter().map(GqlError::to_out).collect()),
        ));
    }
    Answer {
        status: 200,
        body: Out::obj(body),
        budget,
        points: cost.points,
    }
}

/// GitHub's non-GraphQL error body for `/graphql` (400, 401, 500).
pub fn message_body(message: &str) -> Out {
    Out::obj(vec![
        ("message", Out::str(message)),
        (
            "documentation_url",
            Out::str("https://docs.github.com/graphql"),
        ),
    ])
}
