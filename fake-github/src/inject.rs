//! Serving the injected faults of [`crate::faults`] inside the request pipeline: the delay, a
//! status answer, a reset connection, a mangled or endless body, endless pagination and a
//! `next` link to a foreign origin.
//! Compiled only with the `faults` cargo feature; `inject_off.rs` stands in without it.

use std::convert::Infallible;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};

pub(crate) use crate::faults::FaultSpec;
use crate::faults::{FaultBody, FOREIGN_ORIGIN};
use crate::render::error_body;
use crate::server::{common_headers, Outcome};
use crate::state::State;

const MALFORMED_BODY: &[u8] = b"{\"message\": \"Server Error\", oops";

/// A duplicate of a connection's socket, kept so a fault can reset it. Owning a duplicate
/// (instead of borrowing the raw descriptor) keeps this module free of `unsafe`; it is closed
/// with the connection's other per-connection data.
#[derive(Debug, Clone)]
struct ConnSocket(Rc<OwnedFd>);

/// `HttpServer::on_connect` hook: remembers a duplicate of each TCP connection's socket.
pub(crate) fn remember_socket(conn: &dyn std::any::Any, ext: &mut actix_web::dev::Extensions) {
    if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
        if let Ok(fd) = tcp.as_fd().try_clone_to_owned() {
            ext.insert(ConnSocket(Rc::new(fd)));
        }
    }
}

/// Makes the kernel answer with RST: linger 0, then shut the socket so the pending response
/// cannot be written and actix drops (closes) the connection.
fn reset_connection(req: &HttpRequest) {
    if let Some(ConnSocket(fd)) = req.conn_data::<ConnSocket>() {
        let sock = socket2::SockRef::from(fd.as_ref());
        let _ = sock.set_linger(Some(Duration::ZERO));
        let _ = sock.shutdown(std::net::Shutdown::Both);
    }
}

/// Takes the first fault matching `path` (and the request's query) and applies its delay; a reset or a status fault is
/// the whole answer (`Err`). `Ok` carries a fault that only changes the body or the `Link`.
pub(crate) async fn fault_prelude(
    req: &HttpRequest,
    state: &State,
    path: &str,
) -> Result<Option<FaultSpec>, Outcome> {
    let fault = state.faults.take(path, req.query_string());
    if let Some(f) = &fault {
        if f.delay_ms > 0 {
            actix_rt::time::sleep(Duration::from_millis(f.delay_ms)).await;
        }
        if f.reset_connection {
            reset_connection(req);
            return Err(Outcome {
                response: HttpResponse::build(StatusCode::BAD_GATEWAY).finish(),
                status: 0,
                consumed: 0,
            });
        }
        if let Some(status) = f.status {
            return Err(fault_reply(state, f, status));
        }
    }
    Ok(fault)
}

/// The body as a fault wants it (malformed or half), or unchanged.
pub(crate) fn mangle(body: Bytes, fault: Option<&FaultSpec>) -> Bytes {
    match fault.and_then(|f| f.body) {
        Some(FaultBody::Malformed) => Bytes::from_static(MALFORMED_BODY),
        Some(FaultBody::Truncated) => body.slice(..body.len() / 2),
        Some(FaultBody::Endless | FaultBody::EndlessPages | FaultBody::ForeignNextLink) | None => {
            body
        }
    }
}

/// Whether the fault replaces the body with an endless one.
pub(crate) fn is_endless(fault: Option<&FaultSpec>) -> bool {
    fault.and_then(|f| f.body) == Some(FaultBody::Endless)
}

/// For an endless-pagination fault: a `Link` whose `next` is always one page further.
pub(crate) fn endless_link(
    fault: Option<&FaultSpec>,
    req: &HttpRequest,
    page_no: usize,
) -> Option<String> {
    if fault.and_then(|f| f.body) != Some(FaultBody::EndlessPages) {
        return None;
    }
    let host = req.connection_info().host().to_string();
    crate::pagination::link_header(
        &format!("http://{host}{}", req.path()),
        req.query_string(),
        page_no,
        page_no.saturating_add(1),
    )
}

/// For a foreign-next-link fault: the real `Link` (`link`, `None` when everything fits on one
/// page) with its `rel="next"` on [`FOREIGN_ORIGIN`], same path and query; added, pointing at
/// `page_no + 1`, when the real answer has no next page. The caller applies it only to REST
/// list answers with status 200. Without that fault, `link` unchanged.
pub(crate) fn foreign_next_link(
    fault: Option<&FaultSpec>,
    req: &HttpRequest,
    page_no: usize,
    link: Option<String>,
) -> Option<String> {
    if fault.and_then(|f| f.body) != Some(FaultBody::ForeignNextLink) {
        return link;
    }
    // The real `next` is `page_no + 1` of this path and query on the request's origin: the
    // same URL on the foreign origin, whether or not the real answer has one.
    let next = format!(
        "<{FOREIGN_ORIGIN}{}?{}>; rel=\"next\"",
        req.path(),
        crate::pagination::with_page(req.query_string(), page_no.saturating_add(1))
    );
    let mut parts: Vec<String> = link
        .as_deref()
        .map(link_parts)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !p.ends_with("; rel=\"next\""))
        .collect();
    // GitHub's order: prev, next, last, first.
    let at = parts
        .iter()
        .position(|p| !p.ends_with("; rel=\"prev\""))
        .unwrap_or(parts.len());
    parts.insert(at, next);
    Some(parts.join(", "))
}

/// The `<URL>; rel="…"` parts of a `Link` header.
fn link_parts(link: &str) -> Vec<String> {
    link.split(", <")
        .enumerate()
        .map(|(i, p)| {
            if i == 0 {
                p.to_string()
            } else {
                format!("<{p}")
            }
        })
        .collect()
}

/// The response with an endless body (chunked transfer encoding).
pub(crate) fn endless_response(mut b: actix_web::HttpResponseBuilder) -> HttpResponse {
    b.body(EndlessBody { started: false })
}

/// A body that never ends: `[` then JSON array elements, 64 KiB a chunk, for as long as the
/// client reads (the server's write buffer gives back-pressure).
struct EndlessBody {
    started: bool,
}

fn endless_chunk() -> Bytes {
    static CHUNK: OnceLock<Bytes> = OnceLock::new();
    CHUNK
        .get_or_init(|| {
            let element: &[u8] = b"{\"name\":\"endless\",\"archived\":false,\"fork\":false},";
            Bytes::from(element.repeat(64 * 1024 / element.len()))
        })
        .clone()
}

impl MessageBody for EndlessBody {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        if !self.started {
            self.started = true;
            return Poll::Ready(Some(Ok(Bytes::from_static(b"["))));
        }
        Poll::Ready(Some(Ok(endless_chunk())))
    }
}

fn fault_reply(state: &State, f: &FaultSpec, status: u16) -> Outcome {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let full = serde_json::to_vec(&error_body(reason, status)).unwrap_or_default();
    let body = match f.body {
        Some(FaultBody::Malformed) => MALFORMED_BODY.to_vec(),
        Some(FaultBody::Truncated) => full[..full.len() / 2].to_vec(),
        Some(FaultBody::Endless | FaultBody::EndlessPages | FaultBody::ForeignNextLink) | None => {
            full
        }
    };
    let mut b = actix_web::HttpResponseBuilder::new(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    );
    common_headers(&mut b, state);
    b.insert_header(("content-type", "application/json; charset=utf-8"));
    Outcome {
        response: b.body(body),
        status,
        consumed: 0,
    }
}
