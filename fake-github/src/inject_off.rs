//! Stand-in for `inject.rs` when the `faults` cargo feature is off (the exporter's `--demo`
//! build): no fault can be set, so none is ever served and no fault code is compiled in.

use actix_web::web::Bytes;
use actix_web::HttpRequest;

use crate::server::Outcome;
use crate::state::State;

/// No fault exists without the `faults` feature.
#[derive(Debug, Clone)]
pub(crate) enum FaultSpec {}

pub(crate) async fn fault_prelude(
    _req: &HttpRequest,
    _state: &State,
    _path: &str,
) -> Result<Option<FaultSpec>, Outcome> {
    Ok(None)
}

pub(crate) fn mangle(body: Bytes, _fault: Option<&FaultSpec>) -> Bytes {
    body
}

pub(crate) fn is_endless(_fault: Option<&FaultSpec>) -> bool {
    false
}

pub(crate) fn endless_link(
    _fault: Option<&FaultSpec>,
    _req: &HttpRequest,
    _page_no: usize,
) -> Option<String> {
    None
}

pub(crate) fn foreign_next_link(
    _fault: Option<&FaultSpec>,
    _req: &HttpRequest,
    _page_no: usize,
    link: Option<String>,
) -> Option<String> {
    link
}

/// Never called: only an endless fault asks for it.
pub(crate) fn endless_response(mut b: actix_web::HttpResponseBuilder) -> actix_web::HttpResponse {
    b.finish()
}
