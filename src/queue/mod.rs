//! Adapters of the backfill [`JobQueue`](gse_actors::backfill::JobQueue) port: [`memory`]
//! (embedded default when `amqp.url` is unset) and [`rabbit`] (RabbitMQ through lapin), with
//! their shared queue [`names`] and the JSON [`wire`] format. [`sampler`] renders the queue
//! gauges of `/metrics/replica`. [`dedup_redis`] is the dispatcher's dedup lock table shared by
//! every replica through Redis; [`stash_redis`] keeps the dispatcher's unpublished jobs there
//! across restarts.

pub mod dedup_redis;
pub mod memory;
pub mod names;
pub mod rabbit;
pub mod sampler;
pub mod stash_redis;
pub mod wire;
