//! `POST /graphql` (and GHES `POST /api/graphql`) in the HTTP pipeline: auth (PAT or
//! installation token; App JWTs and anonymous requests are 401) → secondary limits → faults
//! (matched against the path `/graphql`) → [`super::answer`] → `x-ratelimit-*` headers with
//! `x-ratelimit-resource: graphql`. No ETag (it is a POST).

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};

use crate::auth::Credential;
use crate::routes::Resource;
use crate::server::{
    common_headers, fault_prelude, insert, mangle, rate_headers, secondary_refusal, set_resource,
    Outcome,
};
use crate::state::State;

/// The `/_fake/requests` key of GraphQL requests (both paths).
pub const ENDPOINT: &str = "POST /graphql";

/// The path faults are matched against (both paths).
pub const FAULT_PATH: &str = "/graphql";

/// GitHub's answer to a GraphQL request without credentials.
const UNAUTHENTICATED: &str = "This endpoint requires you to be authenticated.";

pub(crate) async fn serve(req: &HttpRequest, body: &Bytes, state: &State) -> Outcome {
    let now = state.clock.now();
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let cred = match state.auth.token(header, now) {
        Ok(Credential::Anonymous) => return unauthorized(state, UNAUTHENTICATED),
        Ok(c) => c,
        Err(e) => return unauthorized(state, &e.to_string()),
    };
    let key = cred.budget_key();
    let _in_flight = match state.secondary.admit(&key, now) {
        Ok(g) => g,
        Err(refusal) => {
            return secondary_refusal(
                state,
                refusal,
                state.graphql.peek(&key, now),
                Resource::Graphql,
            )
        }
    };
    let fault = match fault_prelude(req, state, FAULT_PATH).await {
        Ok(f) => f,
        Err(out) => return out,
    };
    let answer = super::answer(state, &cred, now, body);
    let body = mangle(Bytes::from(answer.body.to_vec()), fault.as_ref());
    let mut resp = json_response(state, answer.status, body);
    rate_headers(&mut resp, answer.budget);
    set_resource(&mut resp, Resource::Graphql);
    Outcome {
        response: resp,
        status: answer.status,
        consumed: u64::from(answer.points),
    }
}

fn unauthorized(state: &State, message: &str) -> Outcome {
    let body = Bytes::from(super::message_body(message).to_vec());
    Outcome {
        response: json_response(state, 401, body),
        status: 401,
        consumed: 0,
    }
}

fn json_response(state: &State, status: u16, body: Bytes) -> HttpResponse {
    let mut b = HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
    common_headers(&mut b, state);
    b.insert_header(("content-type", "application/json; charset=utf-8"));
    let mut resp = b.body(body);
    insert(&mut resp, "x-github-media-type", "github.v4; format=json");
    resp
}
