//! A TCP proxy for fault tests (tokio). It forwards bytes both ways between each client
//! connection and one upstream server (e.g. Redis), and on request injects faults:
//!
//! - **drop a reply** ([`Proxy::drop_reply_after`]): arms a one-shot marker (bytes such as a Lua
//!   script's SHA1). The first connection whose client→server bytes contain it forwards them
//!   (the server executes the command), then discards every server→client byte from then on
//!   (the reply is lost) and closes its side towards the client, which sees the connection drop
//!   although the command landed. The server side is closed only once the client went away
//!   and the server finished what it received;
//! - **cut** ([`Proxy::cut_all`]): closes every open connection at once, both sides;
//! - **refuse** ([`Proxy::set_refusing`]): new connections are accepted and closed at once (a
//!   partition as a client sees it), until turned off;
//! - **hold** ([`Proxy::hold_after`]): arms a one-shot marker; the client→server bytes of the
//!   connection that sends it (the marker's command included) are held back until
//!   [`Proxy::release_held`] — a write delayed in the network, delivered late.
//!
//! [`Proxy::stats`] counts what it did (connections accepted and refused, markers seen, replies
//! dropped, connections cut), so a test asserts that the fault happened before it asserts
//! recovery. Dropping the proxy cuts every connection and stops listening.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Client connections relayed to the upstream.
    pub accepted: u64,
    /// Client connections closed at once because the proxy was refusing.
    pub refused: u64,
    /// Armed markers found in a client→server stream.
    pub markers_seen: u64,
    /// Connections whose server→client bytes were discarded after a marker (one per marker
    /// whose reply arrived).
    pub replies_dropped: u64,
    /// Connections closed by [`Proxy::cut_all`] (or by dropping the proxy).
    pub cut: u64,
    /// Connections whose client→server bytes were held back after a hold marker.
    pub held: u64,
}

/// A running proxy; see the module docs.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

struct Shared {
    upstream: SocketAddr,
    marker: Mutex<Option<Vec<u8>>>,
    hold_marker: Mutex<Option<Vec<u8>>>,
    /// Bumped by `release_held`: held connections forward what they kept.
    release: watch::Sender<u64>,
    held: AtomicU64,
    refusing: AtomicBool,
    cut: watch::Sender<u64>,
    accepted: AtomicU64,
    refused: AtomicU64,
    markers_seen: AtomicU64,
    replies_dropped: AtomicU64,
    cuts: AtomicU64,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and relays to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Proxy {
        let upstream = tokio::net::lookup_host(upstream)
            .await
            .expect("upstream address resolves")
            .next()
            .expect("upstream address");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy listens");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream,
            marker: Mutex::new(None),
            hold_marker: Mutex::new(None),
            release: watch::channel(0).0,
            held: AtomicU64::new(0),
            refusing: AtomicBool::new(false),
            cut: watch::channel(0).0,
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            markers_seen: AtomicU64::new(0),
            replies_dropped: AtomicU64::new(0),
            cuts: AtomicU64::new(0),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Proxy {
            addr,
            shared,
            accept,
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A `redis://` URL pointing at the proxy.
    pub fn redis_url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Arms the one-shot reply drop: the next client→server bytes containing `marker` are
    /// forwarded, and that connection's replies from then on are discarded and the connection
    /// closed towards the client. Re-arming replaces a marker not seen yet.
    pub fn drop_reply_after(&self, marker: &[u8]) {
        *lock(&self.shared.marker) = Some(marker.to_vec());
    }

    /// Arms the one-shot hold: the next client→server bytes containing `marker` (and all that
    /// follow on that connection) are kept back until [`Proxy::release_held`].
    pub fn hold_after(&self, marker: &[u8]) {
        *lock(&self.shared.hold_marker) = Some(marker.to_vec());
    }

    /// Forwards whatever held connections kept back, and lets them flow again.
    pub fn release_held(&self) {
        self.shared
            .release
            .send_modify(|generation| *generation += 1);
    }

    /// Closes every open connection now (new ones are still relayed).
    pub fn cut_all(&self) {
        self.shared.cut.send_modify(|generation| *generation += 1);
    }

    /// While on, new connections are closed as soon as they are accepted.
    pub fn set_refusing(&self, refusing: bool) {
        self.shared.refusing.store(refusing, Ordering::SeqCst);
    }

    pub fn stats(&self) -> ProxyStats {
        let s = &self.shared;
        ProxyStats {
            accepted: s.accepted.load(Ordering::SeqCst),
            refused: s.refused.load(Ordering::SeqCst),
            markers_seen: s.markers_seen.load(Ordering::SeqCst),
            replies_dropped: s.replies_dropped.load(Ordering::SeqCst),
            cut: s.cuts.load(Ordering::SeqCst),
            held: s.held.load(Ordering::SeqCst),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut_all();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if shared.refusing.load(Ordering::SeqCst) {
            shared.refused.fetch_add(1, Ordering::SeqCst);
            drop(client);
            continue;
        }
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(relay(client, shared.clone()));
    }
}

impl Shared {
    /// Whether the armed drop marker occurs in `chunk` (see [`find_marker`]).
    fn marker_in(&self, tail: &mut Vec<u8>, chunk: &[u8]) -> bool {
        let found = find_marker(&self.marker, tail, chunk);
        if found {
            self.markers_seen.fetch_add(1, Ordering::SeqCst);
        }
        found
    }

    /// Whether the armed hold marker occurs in `chunk` (see [`find_marker`]).
    fn hold_in(&self, tail: &mut Vec<u8>, chunk: &[u8]) -> bool {
        let found = find_marker(&self.hold_marker, tail, chunk);
        if found {
            self.held.fetch_add(1, Ordering::SeqCst);
        }
        found
    }
}

/// Whether the marker armed in `slot` occurs in `chunk` (or straddles `tail` and `chunk`);
/// disarms it when found. `tail` keeps the end of the stream for the next call.
fn find_marker(slot: &Mutex<Option<Vec<u8>>>, tail: &mut Vec<u8>, chunk: &[u8]) -> bool {
    let mut armed = lock(slot);
    let Some(marker) = armed.as_ref() else {
        tail.clear();
        return false;
    };
    tail.extend_from_slice(chunk);
    let found = !marker.is_empty() && tail.windows(marker.len()).any(|w| w == &marker[..]);
    let keep = marker.len().saturating_sub(1).min(tail.len());
    tail.drain(..tail.len() - keep);
    if found {
        *armed = None;
        tail.clear();
    }
    found
}

async fn relay(client: TcpStream, shared: Arc<Shared>) {
    let Ok(server) = TcpStream::connect(shared.upstream).await else {
        return;
    };
    let mut cut = shared.cut.subscribe();
    let (mut client_read, client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let doomed = AtomicBool::new(false);

    let mut release = shared.release.subscribe();
    let upstream = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut tail = Vec::new();
        let mut hold_tail = Vec::new();
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if shared.marker_in(&mut tail, &buf[..n]) {
                doomed.store(true, Ordering::SeqCst);
            }
            if shared.hold_in(&mut hold_tail, &buf[..n]) {
                // Keep everything back (reading on, so the client sees its writes accepted)
                // until released.
                let mut kept = buf[..n].to_vec();
                let mut client_gone = false;
                loop {
                    tokio::select! {
                        _ = release.changed() => break,
                        read = client_read.read(&mut buf), if !client_gone => match read {
                            Ok(0) | Err(_) => client_gone = true,
                            Ok(m) => kept.extend_from_slice(&buf[..m]),
                        },
                    }
                }
                if server_write.write_all(&kept).await.is_err() || client_gone {
                    break;
                }
                continue;
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        // The client is gone: the server finishes what it received, then closes.
        let _ = server_write.shutdown().await;
    };
    let downstream = async {
        let mut client_write = Some(client_write);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if doomed.load(Ordering::SeqCst) {
                if let Some(mut to_client) = client_write.take() {
                    shared.replies_dropped.fetch_add(1, Ordering::SeqCst);
                    let _ = to_client.shutdown().await;
                }
                continue;
            }
            let Some(to_client) = client_write.as_mut() else {
                continue;
            };
            if to_client.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        _ = async { tokio::join!(upstream, downstream) } => {}
        _ = cut.changed() => {
            shared.cuts.fetch_add(1, Ordering::SeqCst);
        }
    }
}
