//! Publishing: persistent messages, `mandatory` (an unroutable message is an error, not a
//! silent drop), publisher confirms; a publish resolves only when the broker confirmed it.
//! Confirms are kept in flight concurrently on the session's one publisher channel.

use std::sync::Arc;
use std::time::Duration;

use futures::future::{self, BoxFuture, FutureExt as _};
use gse_actors::backfill::{BackfillJob, QueueError, Target};
use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Confirmation};

use super::error::{backend, bounded};
use super::properties::properties;
use super::{RabbitQueue, Session, BACKEND};
use crate::queue::wire;

/// A confirm that never comes (connection half-dead) must not hold a job forever: the caller
/// buffers or requeues it, and a duplicate is harmless.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

/// Publishes `job` to the queue of `target` (the port's `JobQueue::publish`).
pub(super) fn publish(
    queue: &RabbitQueue,
    job: &BackfillJob,
    target: Target,
) -> BoxFuture<'static, Result<(), QueueError>> {
    let Some(session) = queue.current() else {
        return future::ready(Err(QueueError::Unavailable { backend: BACKEND })).boxed();
    };
    let routing_key = queue.routing_key(&target);
    let last_error = match &target {
        Target::DeadLetter { last_error } => Some(last_error.as_str()),
        _ => None,
    };
    let properties = properties(Some(job), last_error);
    let body = wire::encode(job);
    let exchange = queue.inner.names.exchange.clone();
    publish_confirmed(session, exchange, routing_key, body, properties).boxed()
}

/// Publishes `body` with `properties` to `routing_key` and waits for the broker's confirm.
pub(super) async fn publish_confirmed(
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
