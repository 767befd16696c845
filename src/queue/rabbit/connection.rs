//! The connection, owned by one supervised task ([`RabbitQueue::run_connection`]): it connects
//! with backoff, declares the topology, opens the publisher channel (confirm mode) and
//! publishes the session; on loss it clears the session and reconnects. Consumers then
//! resubscribe on the next session. Deliveries from the lost connection cannot be acked; the
//! broker redelivers them, and processing is idempotent.
//!
//! **TLS** (`amqps://`): rustls with certificate verification against the platform roots, plus
//! the CAs of `amqp.tls_ca_file` when set (read on every connect, so a rotated file is picked
//! up by the next reconnection). There is no switch to turn verification off.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use gse_actors::health::{ComponentStatus, HealthReporter};
use gse_actors::store::error_chain;
use gse_actors::supervisor::ChildSpec;
use lapin::options::ConfirmSelectOptions;
use lapin::tcp::OwnedTLSConfig;
use lapin::{Channel, Connection, ConnectionProperties, DefaultConnectionBuilder, Event};
use secrecy::ExposeSecret as _;
use tokio_util::sync::CancellationToken;

use super::error::{amqp, RabbitError};
use super::topology::declare_topology;
use super::{RabbitQueue, Session, COMPONENT};

/// Bound on establishing one connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl RabbitQueue {
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
