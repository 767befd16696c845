//! Consuming: one channel per consumer, `basic.qos(prefetch)`, manual acks. A consumer's
//! stream ends with its session, so the consumer resubscribes on the next one; each delivery
//! is settled (ack, requeue, dead letter) through a [`RabbitAcker`].

use futures::future::{BoxFuture, FutureExt as _};
use futures::StreamExt as _;
use gse_actors::backfill::{Acker, Delivery, DeliveryStream, QueueError};
use gse_actors::store::error_chain;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;

use super::error::{backend, bounded};
use super::properties::{properties, traceparent};
use super::publish::publish_confirmed;
use super::{RabbitQueue, BACKEND};
use crate::queue::wire;

/// Subscribes `consumer` to the work queue once a session is up (the port's
/// `JobQueue::consume`).
pub(super) fn consume(
    queue: &RabbitQueue,
    consumer: &str,
    prefetch: u16,
) -> BoxFuture<'static, Result<DeliveryStream, QueueError>> {
    let queue = queue.clone();
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
                        job: wire::decode(&delivery.data)
                            .map(|mut job| {
                                job.trace_parent = traceparent(&delivery.properties);
                                job
                            })
                            .map_err(|e| error_chain(&e)),
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
