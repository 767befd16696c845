//! TLS pieces for the `rediss://` / `amqps://` tests: a throwaway CA made with rcgen
//! ([`TestCa`]) and a TLS-terminating TCP proxy ([`TlsProxy`], tokio-rustls) that forwards the
//! decrypted bytes to a plain upstream (the shared Redis or RabbitMQ, never reconfigured).
//!
//! The proxy counts completed handshakes and records why failed ones failed (the alert a client
//! sends when it rejects the certificate), so a test proves the refusal happened at the TLS
//! layer before it asserts anything else.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// A self-signed CA that issues server certificates; its PEM lives in a temp dir.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: tempfile::TempDir,
}

/// A server certificate chain and key issued by a [`TestCa`].
pub struct ServerCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("self-signed CA");
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("ca.pem"), issuer.pem()).expect("write CA PEM");
        TestCa { issuer, dir }
    }

    /// Path of the CA certificate (PEM), for `*_tls_ca_file`.
    pub fn pem_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A certificate for `localhost` and `127.0.0.1`.
    pub fn server_cert(&self) -> ServerCert {
        let params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("server params");
        let key = KeyPair::generate().expect("server key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("sign server cert");
        ServerCert {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }

    /// A certificate for `localhost` and `127.0.0.1` written as PEM files into the CA's temp
    /// dir (for a server that reads files, e.g. `redis-server --tls-cert-file`): (cert, key).
    pub fn server_cert_files(&self, name: &str) -> (PathBuf, PathBuf) {
        let params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("server params");
        let key = KeyPair::generate().expect("server key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("sign server cert");
        let cert_path = self.dir.path().join(format!("{name}.crt"));
        let key_path = self.dir.path().join(format!("{name}.key"));
        std::fs::write(&cert_path, cert.pem()).expect("write cert");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");
        (cert_path, key_path)
    }
}

/// What the proxy saw.
#[derive(Debug, Clone, Default)]
pub struct TlsStats {
    /// Handshakes that completed (each then relayed to the upstream).
    pub handshakes: u64,
    /// Why each failed handshake failed (rustls' error text, e.g. a received alert).
    pub failures: Vec<String>,
}

/// A TLS listener on a free loopback port that relays each connection to `upstream`; stops
/// (and cuts its connections) on drop.
pub struct TlsProxy {
    pub addr: SocketAddr,
    stats: Arc<Mutex<TlsStats>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TlsProxy {
    pub fn start(upstream: &str, cert: ServerCert) -> TlsProxy {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let upstream: SocketAddr = upstream.parse().expect("upstream address");
        let config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(cert.chain, cert.key)
            .expect("server TLS config");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("proxy address");
        let stats = Arc::new(Mutex::new(TlsStats::default()));
        let shared = stats.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("proxy runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("tokio listener");
                tokio::select! {
                    _ = stopped => {}
                    () = accept_loop(listener, acceptor, upstream, shared) => {}
                }
            });
        });
        TlsProxy {
            addr,
            stats,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn stats(&self) -> TlsStats {
        lock(&self.stats).clone()
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    upstream: SocketAddr,
    stats: Arc<Mutex<TlsStats>>,
) {
    while let Ok((client, _)) = listener.accept().await {
        let acceptor = acceptor.clone();
        let stats = stats.clone();
        tokio::spawn(async move {
            let handshake =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(client)).await;
            let mut tls = match handshake {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    lock(&stats).failures.push(error.to_string());
                    return;
                }
                Err(_) => {
                    lock(&stats).failures.push("handshake timed out".into());
                    return;
                }
            };
            lock(&stats).handshakes += 1;
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
        });
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Dropping the runtime at the end of the thread cancels every relayed connection.
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
