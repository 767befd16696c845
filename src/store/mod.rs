//! Metric store adapters behind the `MetricStore` port: [`memory`] (the embedded default).

pub mod memory;
