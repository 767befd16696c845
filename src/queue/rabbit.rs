//! The RabbitMQ [`JobQueue`] (lapin 4), used when `amqp.url` is set.
//!
//! **Topology**, declared idempotently on every (re)connect: a durable direct exchange; the
//! durable work queue; one durable `<queue>.retry.<delay>` queue per retry tier with a queue TTL
//! of its delay that dead-letters back to the work queue; the durable dead-letter queue. Every
//! queue is bound with its own name as routing key. The work queue and the DLQ carry no
//! arguments, so an existing deployment redeclares cleanly (docs/wire-compatibility.md).
//!
//! **Publishing**: persistent messages, `mandatory` (an unroutable message is an error, not a
//! silent drop), publisher confirms; a publish resolves only when the broker confirmed it.
//! Confirms are kept in flight concurrently on one channel. Messages carry `timestamp` (publish
//! time, which makes the oldest-message age real), `message_id` (the job id) and headers
//! `attempt`, `job_id`, `created_at`, plus `last_error` on dead letters.
//!
//! **Consuming**: one channel per consumer, `basic.qos(prefetch)`, manual acks.
//!
//! **Connection loss**: [`RabbitQueue::run_connection`] (a supervised task child) owns the
//! connection: it connects with backoff, declares the topology, publishes the session, and on
//! loss clears it and reconnects. While there is no session, publishes fail fast with
//! [`QueueError::Unavailable`] (the dispatcher buffers them) and consumers wait for the next
//! session, then resubscribe. Deliveries from the lost connection cannot be acked; the broker
//! redelivers them, and processing is idempotent.
//!
//! The URL may hold a password: it is kept as a secret and never logged.
//!
//! **TLS** (`amqps://`): rustls with certificate verification against the platform roots, plus
//! the CAs of `amqp.tls_ca_file` when set (read on every connect, so a rotated file is picked
//! up by the next reconnection). There is no switch to turn verification off.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::future::{self, BoxFuture, FutureExt as _};
use futures::StreamExt as _;
use gse_actors::backfill::{
    Acker, BackfillJob, Delivery, DeliveryStream, JobQueue, QueueError, QueueSample, Target,
};
use gse_actors::health::{ComponentStatus, HealthReporter};
use gse_actors::store::error_chain;
use gse_actors::supervisor::ChildSpec;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions,
    BasicQosOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::tcp::OwnedTLSConfig;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties,
    DefaultConnectionBuilder, Event,
};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::names::QueueNames;
use super::wire;

const BACKEND: &str = "rabbitmq";
/// The health component this adapter reports.
pub const COMPONENT: &str = "amqp";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A confirm that never comes (connection half-dead) must not hold a job forever: the caller
/// buffers or requeues it, and a duplicate is harmless.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest `last_error` header kept (headers are not meant for stack traces).
const MAX_LAST_ERROR: usize = 2048;

/// Errors of the connection task (it only ends on stop, so these stay internal).
#[derive(Debug, thiserror::Error)]
pub enum RabbitError {
    #[error("{operation} failed")]
    Amqp {
        operation: &'static str,
        #[source]
        source: lapin::Error,
    },
    #[error("connecting to the broker timed out after {0:?}")]
    ConnectTimeout(Duration),
    #[error("cannot read the TLS CA file {}", path.display())]
    CaFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn amqp(operation: &'static str) -> impl FnOnce(lapin::Error) -> RabbitError {
    move |source| RabbitError::Amqp { operation, source }
}

/// Bound for one broker operation (ack, channel open, declare): on a half-dead connection an
/// operation may never complete, and a consumer waiting on it would never resubscribe.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// `operation` within [`OPERATION_TIMEOUT`], its lapin error mapped to a [`QueueError`].
async fn bounded<T>(
    operation: &'static str,
    future: impl std::future::Future<Output = lapin::Result<T>>,
) -> Result<T, QueueError> {
    match tokio::time::timeout(OPERATION_TIMEOUT, future).await {
        Ok(result) => result.map_err(backend(operation)),
        Err(_) => Err(QueueError::Backend {
            backend: BACKEND,
            operation,
            source: format!("no answer within {OPERATION_TIMEOUT:?}").into(),
        }),
    }
}

fn backend(operation: &'static str) -> impl FnOnce(lapin::Error) -> QueueError {
    move |source| QueueError::Backend {
        backend: BACKEND,
        operation,
        source: Box::new(source),
    }
}

/// One live connection: its publisher channel (confirm mode) and its generation number.
struct Session {
    connection: Connection,
    publisher: Channel,
    generation: u64,
}

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

    fn current(&self) -> Option<Arc<Session>> {
        self.inner.session.borrow().clone()
    }

    /// The supervised child `amqp` that runs [`RabbitQueue::run_connection`].
    pub fn connection_child(&self, reporter: Option<HealthReporter>) -> ChildSpec {
        let queue = self.clone();
        ChildSpec::task(COMPONENT, move |stop| {
            queue.clone().run_connection(stop, reporter.clone())
        })
    }

    /// Owns the connection until `stop`: connect (exponential backoff 200 ms → 10 s), declare
    /// the topology, open the publisher, publish the session, wait for its loss, repeat.
    /// Reports `amqp` to `reporter` (required for readiness).
    pub async fn run_connection(
        self,
        stop: CancellationToken,
        reporter: Option<HealthReporter>,
    ) -> Result<(), RabbitError> {
        let report = |status: ComponentStatus| {
            if let Some(reporter) = &reporter {
                reporter.report(COMPONENT, status, true);
            }
        };
        let mut backoff = Duration::from_millis(200);
        let mut generation = self
            .inner
            .session
            .borrow()
            .as_ref()
            .map_or(0, |s| s.generation);
        loop {
            let attempt = tokio::select! {
                () = stop.cancelled() => break,
                attempt = self.connect() => attempt,
            };
            match attempt {
                Ok((connection, publisher, mut events)) => {
                    generation += 1;
                    backoff = Duration::from_millis(200);
                    let session = Arc::new(Session {
                        connection,
                        publisher,
                        generation,
                    });
                    self.inner.session.send_replace(Some(session.clone()));
                    report(ComponentStatus::Up);
                    tracing::info!(generation, exchange = %self.inner.names.exchange,
                        queue = %self.inner.names.work, "amqp connected; topology declared");
                    let lost = tokio::select! {
                        () = stop.cancelled() => None,
                        reason = wait_lost(&session.connection, &mut events) => Some(reason),
                    };
                    self.inner.session.send_replace(None);
                    let close = session.connection.close(200, "shutdown".into());
                    let _ = tokio::time::timeout(Duration::from_secs(1), close).await;
                    match lost {
                        None => break,
                        Some(reason) => {
                            tracing::warn!(reason = %reason, "amqp connection lost; reconnecting");
                            report(ComponentStatus::Down(format!("connection lost: {reason}")));
                        }
                    }
                }
                Err(error) => {
                    let chain = error_chain(&error);
                    tracing::warn!(error = %chain, retry_in_ms = backoff.as_millis() as u64,
                        "amqp connect failed");
                    report(ComponentStatus::Down(chain));
                }
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
        self.inner.session.send_replace(None);
        Ok(())
    }

    async fn connect(
        &self,
    ) -> Result<
        (
            Connection,
            Channel,
            futures::stream::BoxStream<'static, Event>,
        ),
        RabbitError,
    > {
        let properties =
            ConnectionProperties::default().with_connection_name("github-stats-exporter".into());
        let tls = self.tls_config()?;
        let builder = DefaultConnectionBuilder::new()
            .map_err(amqp("starting the AMQP runtime"))?
            .with_uri_str(self.inner.url.expose_secret().to_string())
            .with_properties(properties)
            .with_tls_config(tls);
        let connection = tokio::time::timeout(CONNECT_TIMEOUT, builder.connect())
            .await
            .map_err(|_| RabbitError::ConnectTimeout(CONNECT_TIMEOUT))?
            .map_err(amqp("connect"))?;
        let events = connection.events_listener().boxed();
        declare_topology(&connection, &self.inner.names).await?;
        let publisher = connection
            .create_channel()
            .await
            .map_err(amqp("opening the publisher channel"))?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(amqp("enabling publisher confirms"))?;
        Ok((connection, publisher, events))
    }

    /// The TLS settings of the next connect: the CA file's certificates, read now.
    fn tls_config(&self) -> Result<OwnedTLSConfig, RabbitError> {
        let cert_chain = match &self.inner.tls_ca_file {
            Some(path) => {
                Some(
                    std::fs::read_to_string(path).map_err(|source| RabbitError::CaFile {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        Ok(OwnedTLSConfig {
            identity: None,
            cert_chain,
        })
    }

    fn routing_key(&self, target: &Target) -> String {
        let names = &self.inner.names;
        match target {
            Target::Work => names.work.clone(),
            Target::Retry { tier } => names
                .retry
                .get(*tier)
                .or(names.retry.last())
                .map_or_else(|| names.work.clone(), |(name, _)| name.clone()),
            Target::DeadLetter { .. } => names.dlq.clone(),
        }
    }
}

/// Waits until the connection is lost; returns why.
async fn wait_lost(
    connection: &Connection,
    events: &mut futures::stream::BoxStream<'static, Event>,
) -> String {
    let mut check = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Event::Error(error)) => return error.to_string(),
                Some(_) => {}
                None => return "connection event stream ended".to_string(),
            },
            _ = check.tick() => {
                if !connection.status().connected() {
                    return "connection closed".to_string();
                }
            }
        }
    }
}

/// Declares the exchange and every queue with its binding; idempotent.
async fn declare_topology(connection: &Connection, names: &QueueNames) -> Result<(), RabbitError> {
    let channel = connection
        .create_channel()
        .await
        .map_err(amqp("opening the topology channel"))?;
    channel
        .exchange_declare(
            names.exchange.as_str().into(),
            lapin::ExchangeKind::Direct,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(amqp("declaring the exchange"))?;
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let mut queues: Vec<(String, FieldTable)> = vec![(names.work.clone(), FieldTable::default())];
    for (name, delay) in &names.retry {
        let mut args = FieldTable::default();
        let ttl_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl_ms));
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(names.exchange.as_str().into()),
        );
        args.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(names.work.as_str().into()),
        );
        queues.push((name.clone(), args));
    }
    queues.push((names.dlq.clone(), FieldTable::default()));
    for (name, args) in queues {
        channel
            .queue_declare(name.as_str().into(), durable, args)
            .await
            .map_err(amqp("declaring a queue"))?;
        channel
            .queue_bind(
                name.as_str().into(),
                names.exchange.as_str().into(),
                name.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(amqp("binding a queue"))?;
    }
    let _ = channel.close(200, "OK".into()).await;
    Ok(())
}

fn long_string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Properties of a job message: persistent, JSON, timestamped, with visible headers.
fn properties(job: Option<&BackfillJob>, last_error: Option<&str>) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        "version".into(),
        AMQPValue::LongLongInt(i64::from(wire::WIRE_VERSION)),
    );
    let mut properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_timestamp(gse_actors::clock::unix_now_secs());
    if let Some(job) = job {
        headers.insert(
            "attempt".into(),
            AMQPValue::LongLongInt(i64::from(job.attempt)),
        );
        headers.insert("job_id".into(), long_string(&job.job_id));
        headers.insert(
            "created_at".into(),
            long_string(&wire::rfc3339(job.created_at)),
        );
        properties = properties.with_message_id(ShortString::from(truncate(&job.job_id, 255)));
    }
    if let Some(last_error) = last_error {
        headers.insert(
            "last_error".into(),
            long_string(truncate(last_error, MAX_LAST_ERROR)),
        );
        headers.insert(
            "dead_lettered_at".into(),
            long_string(&wire::rfc3339(SystemTime::now())),
        );
    }
    properties.with_headers(headers)
}

/// Publishes `body` with `properties` to `routing_key` and waits for the broker's confirm.
async fn publish_confirmed(
    session: Arc<Session>,
    exchange: String,
    routing_key: String,
    body: Vec<u8>,
    properties: BasicProperties,
) -> Result<(), QueueError> {
    let confirm = bounded(
        "publish",
        session.publisher.basic_publish(
            exchange.as_str().into(),
            routing_key.as_str().into(),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            &body,
            properties,
        ),
    )
    .await?;
    let confirmation = tokio::time::timeout(CONFIRM_TIMEOUT, confirm)
        .await
        .map_err(|_| QueueError::Refused {
            operation: "publish (no confirm within the timeout)",
        })?
        .map_err(backend("publish confirm"))?;
    match confirmation {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(_)) => Err(QueueError::Refused {
            operation: "publish (unroutable: topology missing?)",
        }),
        Confirmation::Nack(_) => Err(QueueError::Refused {
            operation: "publish",
        }),
        Confirmation::NotRequested => Err(QueueError::Refused {
            operation: "publish without confirm mode",
        }),
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
        let Some(session) = self.current() else {
            return future::ready(Err(QueueError::Unavailable { backend: BACKEND })).boxed();
        };
        let routing_key = self.routing_key(&target);
        let last_error = match &target {
            Target::DeadLetter { last_error } => Some(last_error.as_str()),
            _ => None,
        };
        let properties = properties(Some(job), last_error);
        let body = wire::encode(job);
        let exchange = self.inner.names.exchange.clone();
        publish_confirmed(session, exchange, routing_key, body, properties).boxed()
    }

    fn consume(
        &self,
        consumer: &str,
        prefetch: u16,
    ) -> BoxFuture<'static, Result<DeliveryStream, QueueError>> {
        let queue = self.clone();
        let tag = consumer.to_string();
        async move {
            let mut rx = queue.inner.session.subscribe();
            let session = rx
                .wait_for(Option::is_some)
                .await
                .map_err(|error| QueueError::Backend {
                    backend: BACKEND,
                    operation: "waiting for a connection",
                    source: Box::new(error),
                })?
                .clone()
                .ok_or(QueueError::Unavailable { backend: BACKEND })?;
            let generation = session.generation;
            let channel = bounded(
                "opening a consumer channel",
                session.connection.create_channel(),
            )
            .await?;
            bounded(
                "basic.qos",
                channel.basic_qos(prefetch, BasicQosOptions::default()),
            )
            .await?;
            let consumer = bounded(
                "basic.consume",
                channel.basic_consume(
                    queue.inner.names.work.as_str().into(),
                    tag.as_str().into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                ),
            )
            .await?;
            // The stream ends as soon as this session is gone, so the consumer resubscribes on
            // the next one instead of waiting on a dead channel.
            let lost = async move {
                let _ = rx
                    .wait_for(|s| s.as_ref().map(|s| s.generation) != Some(generation))
                    .await;
            };
            let stream = consumer
                .map(move |item| {
                    // Keep the channel open for as long as the stream lives; dropping the
                    // stream closes it, and the broker requeues whatever was left unacked.
                    let _channel = &channel;
                    match item {
                        Ok(delivery) => Ok(Delivery {
                            job: wire::decode(&delivery.data).map_err(|e| error_chain(&e)),
                            redelivered: delivery.redelivered,
                            acker: Box::new(RabbitAcker {
                                queue: queue.clone(),
                                acker: delivery.acker,
                                data: delivery.data,
                            }),
                        }),
                        Err(error) => Err(backend("consume")(error)),
                    }
                })
                .take_until(lost);
            Ok(Box::pin(stream) as DeliveryStream)
        }
        .boxed()
    }

    fn sample(&self) -> BoxFuture<'static, Result<Vec<QueueSample>, QueueError>> {
        let Some(session) = self.current() else {
            return future::ready(Err(QueueError::Unavailable { backend: BACKEND })).boxed();
        };
        let names = self.inner.names.clone();
        async move {
            let channel = bounded(
                "opening the sampling channel",
                session.connection.create_channel(),
            )
            .await?;
            let mut queues = vec![names.work.clone()];
            queues.extend(names.retry.iter().map(|(name, _)| name.clone()));
            queues.push(names.dlq.clone());
            let mut samples = Vec::with_capacity(queues.len());
            for name in queues {
                let declared = bounded(
                    "sampling a queue",
                    channel.queue_declare(
                        name.as_str().into(),
                        QueueDeclareOptions {
                            passive: true,
                            ..QueueDeclareOptions::default()
                        },
                        FieldTable::default(),
                    ),
                )
                .await?;
                let ready = u64::from(declared.message_count());
                let oldest_ready_age = match (name == names.work, ready) {
                    (false, _) => None,
                    (true, 0) => Some(Duration::ZERO),
                    (true, _) => Some(peek_age(&channel, &name).await?.unwrap_or_default()),
                };
                samples.push(QueueSample {
                    queue: name,
                    ready,
                    oldest_ready_age,
                });
            }
            let _ = channel.close(200, "OK".into()).await;
            Ok(samples)
        }
        .boxed()
    }
}

/// The age of the message at the head of `queue` from its publish timestamp: fetched without
/// ack and returned at once with a requeue (it keeps its place at the head).
async fn peek_age(channel: &Channel, queue: &str) -> Result<Option<Duration>, QueueError> {
    let got = bounded(
        "peeking the oldest message",
        channel.basic_get(queue.into(), BasicGetOptions { no_ack: false }),
    )
    .await?;
    let Some(message) = got else {
        return Ok(None);
    };
    let timestamp = *message.delivery.properties.timestamp();
    bounded(
        "returning the peeked message",
        message.delivery.nack(BasicNackOptions {
            requeue: true,
            multiple: false,
        }),
    )
    .await?;
    Ok(timestamp.map(|published| {
        Duration::from_secs(gse_actors::clock::unix_now_secs().saturating_sub(published))
    }))
}

/// Settles one RabbitMQ delivery on its own channel.
struct RabbitAcker {
    queue: RabbitQueue,
    acker: lapin::Acker,
    data: Vec<u8>,
}

impl Acker for RabbitAcker {
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<(), QueueError>> {
        async move {
            bounded("basic.ack", self.acker.ack(BasicAckOptions::default()))
                .await
                .map(|_| ())
        }
        .boxed()
    }

    fn requeue(self: Box<Self>) -> BoxFuture<'static, Result<(), QueueError>> {
        async move {
            let options = BasicNackOptions {
                requeue: true,
                multiple: false,
            };
            bounded("basic.nack", self.acker.nack(options))
                .await
                .map(|_| ())
        }
        .boxed()
    }

    fn dead_letter_raw(
        self: Box<Self>,
        last_error: String,
    ) -> BoxFuture<'static, Result<(), QueueError>> {
        async move {
            let session = self
                .queue
                .current()
                .ok_or(QueueError::Unavailable { backend: BACKEND })?;
            let names = &self.queue.inner.names;
            publish_confirmed(
                session,
                names.exchange.clone(),
                names.dlq.clone(),
                self.data.clone(),
                properties(None, Some(&last_error)),
            )
            .await?;
            bounded("basic.ack", self.acker.ack(BasicAckOptions::default()))
                .await
                .map(|_| ())
        }
        .boxed()
    }
}
