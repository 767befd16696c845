//! Connections to the Redis master: a [`ConnectionManager`] (multiplexed, reconnecting in the
//! background with exponential backoff) for standalone Redis, and for Sentinel a manager built
//! on the master the Sentinels name, dropped and re-resolved after a connection error or a
//! `READONLY` answer (redis-rs does not follow a failover by itself).
//!
//! [`MasterSource`] is the one place a Redis client is built from the settings (URL, topology,
//! Sentinel credentials, TLS CA), shared by the store, the backfill dedup table and the lease
//! elector, so every connection of the process is secured the same way. A `rediss://` URL
//! means TLS with certificate verification (system roots, or only the CA of
//! `store.redis_tls_ca_file`); there is no switch to turn verification off.
//!
//! Nothing connects eagerly: a Redis that is down at start makes calls fail (and the replica
//! not ready), it never makes the process fall back to memory or exit.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    Client, ConnectionAddr, ErrorKind, IntoConnectionInfo, RedisError, TlsCertificates, TlsMode,
};
use secrecy::{ExposeSecret, SecretString};

use super::settings::{RedisSettings, RedisTopology, SentinelAuth};

/// Hands out a connection to the current master.
pub struct Connector {
    kind: Kind,
    config: ConnectionManagerConfig,
}

enum Kind {
    Standalone(ConnectionManager),
    Sentinel(Box<SentinelState>),
}

struct SentinelState {
    source: MasterSource,
    current: Mutex<Option<ConnectionManager>>,
}

impl Connector {
    /// Validates the URL, reads the TLS CA file and prepares (without opening) the connection.
    pub fn new(settings: &RedisSettings) -> Result<Connector, RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            // The per-call deadlines are enforced by the caller; this is the outer bound.
            .set_response_timeout(Some(settings.bulk_timeout))
            // One attempt per call: the StoreActor's own backoff paces the retries, so a call
            // during an outage fails within the connect timeout instead of sleeping here.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(2));
        let source = MasterSource::new(
            &settings.url,
            &settings.topology,
            settings.tls_ca_file.as_deref(),
        )?;
        let kind = match source {
            MasterSource::Standalone(client) => Kind::Standalone(
                ConnectionManager::new_lazy_with_config(client, config.clone())?,
            ),
            sentinel @ MasterSource::Sentinel(_) => Kind::Sentinel(Box::new(SentinelState {
                source: sentinel,
                current: Mutex::new(None),
            })),
        };
        Ok(Connector { kind, config })
    }

    /// A connection to the master (cheap clone of a multiplexed manager).
    pub async fn get(&self) -> Result<ConnectionManager, RedisError> {
        match &self.kind {
            Kind::Standalone(manager) => Ok(manager.clone()),
            Kind::Sentinel(sentinel) => {
                if let Some(manager) = lock(&sentinel.current).clone() {
                    return Ok(manager);
                }
                let master = sentinel.source.client().await?;
                let manager = ConnectionManager::new_lazy_with_config(master, self.config.clone())?;
                *lock(&sentinel.current) = Some(manager.clone());
                Ok(manager)
            }
        }
    }

    /// Reports a failed call (`None`: it timed out): with Sentinel, a connection error, a
    /// timeout or a write refused by a demoted master makes the next call ask the Sentinels
    /// again.
    pub fn failed(&self, error: Option<&RedisError>) {
        if let Kind::Sentinel(sentinel) = &self.kind {
            let reresolve = error.is_none_or(|e| {
                e.code() == Some("READONLY")
                    || e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_timeout()
            });
            if reresolve {
                *lock(&sentinel.current) = None;
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded value is replaced in one assignment; a poisoned lock still holds valid data.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where a client for the master comes from: the server the URL names, or the master the
/// Sentinels name, asked again on every call of [`MasterSource::client`].
pub enum MasterSource {
    Standalone(Client),
    Sentinel(tokio::sync::Mutex<SentinelClient>),
}

impl MasterSource {
    /// Builds the client(s) without connecting; fails on a malformed URL or Sentinel address,
    /// or a CA file that cannot be read or parsed.
    pub fn new(
        url: &SecretString,
        topology: &RedisTopology,
        tls_ca_file: Option<&Path>,
    ) -> Result<MasterSource, RedisError> {
        // redis-rs builds its rustls config on the process default provider: make sure it is
        // ring (the one crypto backend built in) whichever connection comes first.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certificates = tls_ca_file.map(read_ca_file).transpose()?;
        match topology {
            RedisTopology::Standalone => {
                let client = match certificates {
                    Some(certificates) => {
                        Client::build_with_tls(url.expose_secret(), certificates)?
                    }
                    None => Client::open(url.expose_secret())?,
                };
                Ok(MasterSource::Standalone(client))
            }
            RedisTopology::Sentinel {
                sentinels,
                master_set,
                auth,
            } => {
                let client = sentinel_client(url, sentinels, master_set, auth, certificates)?;
                Ok(MasterSource::Sentinel(tokio::sync::Mutex::new(client)))
            }
        }
    }

    /// A client for the current master (with Sentinel: asks the Sentinels now).
    pub async fn client(&self) -> Result<Client, RedisError> {
        match self {
            MasterSource::Standalone(client) => Ok(client.clone()),
            MasterSource::Sentinel(sentinel) => sentinel.lock().await.async_get_client().await,
        }
    }
}

/// The PEM CA bundle of `path` as redis-rs TLS roots (replacing the system roots).
fn read_ca_file(path: &Path) -> Result<TlsCertificates, RedisError> {
    let pem = std::fs::read(path).map_err(|error| {
        RedisError::from((
            ErrorKind::InvalidClientConfig,
            "cannot read the Redis TLS CA file",
            format!("{}: {error}", path.display()),
        ))
    })?;
    Ok(TlsCertificates {
        client_tls: None,
        root_cert: Some(pem),
    })
}

/// A Sentinel client that finds the master of `master_set`, connecting to it with the
/// credentials, database and scheme of `url` (`rediss://`: TLS to the master **and** to the
/// Sentinels, verified against `certificates` when given), and authenticating to the
/// Sentinels with `auth`.
fn sentinel_client(
    url: &SecretString,
    sentinels: &[String],
    master_set: &str,
    auth: &SentinelAuth,
    certificates: Option<TlsCertificates>,
) -> Result<SentinelClient, RedisError> {
    let node = url.expose_secret().into_connection_info()?;
    let tls = matches!(node.addr(), ConnectionAddr::TcpTls { .. });
    let addrs = sentinels
        .iter()
        .map(|addr| sentinel_addr(addr, tls))
        .collect::<Result<Vec<_>, _>>()?;
    let redis = node.redis_settings();
    let mut builder = SentinelClientBuilder::new(addrs, master_set, SentinelServerType::Master)?
        .set_client_to_redis_db(redis.db())
        .set_client_to_redis_protocol(redis.protocol());
    if let Some(username) = redis.username() {
        builder = builder.set_client_to_redis_username(username);
    }
    if let Some(password) = redis.password() {
        builder = builder.set_client_to_redis_password(password);
    }
    if let Some(username) = &auth.username {
        builder = builder.set_client_to_sentinel_username(username);
    }
    if let Some(password) = &auth.password {
        builder = builder.set_client_to_sentinel_password(password.expose_secret());
    }
    if tls {
        builder = builder.set_client_to_redis_tls_mode(TlsMode::Secure);
        if let Some(certificates) = certificates {
            builder = builder
                .set_client_to_redis_certificates(certificates.clone())
                .set_client_to_sentinel_certificates(certificates);
        }
    }
    builder.build()
}

/// `host:port` of a Sentinel as a redis-rs address (TLS when the master is reached over TLS).
fn sentinel_addr(addr: &str, tls: bool) -> Result<ConnectionAddr, RedisError> {
    let invalid = || {
        RedisError::from((
            ErrorKind::InvalidClientConfig,
            "a Sentinel address is not host:port",
            addr.to_string(),
        ))
    };
    let (host, port) = addr.rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok(if tls {
        ConnectionAddr::TcpTls {
            host,
            port,
            insecure: false,
            tls_params: None,
        }
    } else {
        ConnectionAddr::Tcp(host, port)
    })
}
