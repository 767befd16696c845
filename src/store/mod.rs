//! Metric store adapters behind the `MetricStore` port: [`memory`] (the embedded default) and
//! [`redis`] (shared by every replica, used when `store.redis_url` is set).

pub mod memory;
pub mod redis;
