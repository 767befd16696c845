//! The topology, declared idempotently on every (re)connect: a durable direct exchange; the
//! durable work queue; one durable `<queue>.retry.<delay>` queue per retry tier with a queue TTL
//! of its delay that dead-letters back to the work queue; the durable dead-letter queue. Every
//! queue is bound with its own name as routing key. The work queue and the DLQ carry no
//! arguments, so an existing deployment redeclares cleanly (docs/wire-compatibility.md).

use gse_actors::backfill::Target;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::Connection;

use super::error::{amqp, RabbitError};
use super::RabbitQueue;
use crate::queue::names::QueueNames;

impl RabbitQueue {
    /// The queue (routing key) a job for `target` goes to; a tier beyond the configured ones
    /// goes to the last retry queue.
    pub(super) fn routing_key(&self, target: &Target) -> String {
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

/// Declares the exchange and every queue with its binding; idempotent.
pub(super) async fn declare_topology(
    connection: &Connection,
    names: &QueueNames,
) -> Result<(), RabbitError> {
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
