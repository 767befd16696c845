//! The queue gauges of `/metrics/replica`: each queue's ready count (a passive declare) and, for
//! the work queue, the age of its oldest ready job.

use std::time::Duration;

use futures::future::{self, BoxFuture, FutureExt as _};
use gse_actors::backfill::{QueueError, QueueSample};
use lapin::options::{BasicGetOptions, BasicNackOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::Channel;

use super::error::bounded;
use super::{RabbitQueue, BACKEND};

/// Samples every queue of the topology (the port's `JobQueue::sample`).
pub(super) fn sample(
    queue: &RabbitQueue,
) -> BoxFuture<'static, Result<Vec<QueueSample>, QueueError>> {
    let Some(session) = queue.current() else {
        return future::ready(Err(QueueError::Unavailable { backend: BACKEND })).boxed();
    };
    let names = queue.inner.names.clone();
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
