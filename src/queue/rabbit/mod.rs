//! The RabbitMQ [`JobQueue`] (lapin 4), used when `amqp.url` is set.
//!
//! - [`connection`]: the supervised task that owns the connection (connect with backoff, TLS,
//!   publish the session, reconnect on loss).
//! - [`topology`]: the exchange and queues declared on every (re)connect, and which queue a
//!   [`Target`] routes to.
//! - [`publish`]: persistent, mandatory, confirmed publishes; [`properties`]: the message
//!   properties and headers they carry.
//! - [`consume`]: consumers and the acks, requeues and dead letters of their deliveries.
//! - [`sample`]: the queue gauges (depths, age of the oldest ready job).
//! - [`error`]: bounds on broker operations and their errors.
//!
//! While there is no session (connection + declared topology + publisher channel), publishes
//! fail fast with [`QueueError::Unavailable`] (the dispatcher buffers them) and consumers wait
//! for the next one.
//!
//! The URL may hold a password: it is kept as a secret and never logged.

mod connection;
mod consume;
mod error;
mod properties;
mod publish;
mod sample;
mod topology;

pub use error::RabbitError;

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use gse_actors::backfill::{
    BackfillJob, DeliveryStream, JobQueue, QueueError, QueueSample, Target,
};
use lapin::{Channel, Connection};
use secrecy::SecretString;
use tokio::sync::watch;

use super::names::QueueNames;

const BACKEND: &str = "rabbitmq";
/// The health component this adapter reports.
pub const COMPONENT: &str = "amqp";

/// One live connection: its publisher channel (confirm mode) and its generation number.
struct Session {
    connection: Connection,
    publisher: Channel,
    generation: u64,
}

/// What every clone shares: the settings and the current session.
struct Inner {
    url: SecretString,
    /// `amqp.tls_ca_file`: extra trusted CAs (PEM) for `amqps://`.
    tls_ca_file: Option<PathBuf>,
    names: QueueNames,
    session: watch::Sender<Option<Arc<Session>>>,
}

/// The RabbitMQ queue. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct RabbitQueue {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RabbitQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitQueue")
            .field("names", &self.inner.names)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl RabbitQueue {
    /// A queue for `url` (kept secret) and `names`. Nothing connects until
    /// [`RabbitQueue::run_connection`] runs.
    pub fn new(url: SecretString, names: QueueNames) -> RabbitQueue {
        RabbitQueue::with_tls_ca_file(url, names, None)
    }

    /// Like [`RabbitQueue::new`], trusting the CAs of the PEM file `tls_ca_file` as well for
    /// an `amqps://` URL.
    pub fn with_tls_ca_file(
        url: SecretString,
        names: QueueNames,
        tls_ca_file: Option<PathBuf>,
    ) -> RabbitQueue {
        let (session, _) = watch::channel(None);
        RabbitQueue {
            inner: Arc::new(Inner {
                url,
                tls_ca_file,
                names,
                session,
            }),
        }
    }

    /// The topology's names.
    pub fn names(&self) -> &QueueNames {
        &self.inner.names
    }

    /// Whether a session (connection + declared topology + publisher) is up now.
    pub fn is_connected(&self) -> bool {
        self.inner.session.borrow().is_some()
    }

    /// How many sessions were established so far (1 after the first connect).
    pub fn generation(&self) -> u64 {
        self.inner
            .session
            .borrow()
            .as_ref()
            .map_or(0, |session| session.generation)
    }

    /// Resolves once a session is up.
    pub async fn wait_connected(&self) {
        let mut rx = self.inner.session.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = rx.wait_for(Option::is_some).await;
    }

    /// The session up now, if any.
    fn current(&self) -> Option<Arc<Session>> {
        self.inner.session.borrow().clone()
    }
}

impl JobQueue for RabbitQueue {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn retry_tiers(&self) -> usize {
        self.inner.names.retry.len()
    }

    fn publish(
        &self,
        job: &BackfillJob,
        target: Target,
    ) -> BoxFuture<'static, Result<(), QueueError>> {
        publish::publish(self, job, target)
    }

    fn consume(
        &self,
        consumer: &str,
        prefetch: u16,
    ) -> BoxFuture<'static, Result<DeliveryStream, QueueError>> {
        consume::consume(self, consumer, prefetch)
    }

    fn sample(&self) -> BoxFuture<'static, Result<Vec<QueueSample>, QueueError>> {
        sample::sample(self)
    }
}
