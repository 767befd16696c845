//! GitHub adapters. For now: the HTTP client factory and the `/meta` reachability probe that
//! feeds `gh_exporter_dependency_health{dependency="github"}` and `/healthz`.

pub mod probe;

use std::time::Duration;

/// Installs ring as rustls' process-wide crypto provider (one provider in the tree, no C build).
/// Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Builds the HTTP client every GitHub call uses.
pub fn http_client(request_timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(concat!("github-stats-exporter/", env!("CARGO_PKG_VERSION")))
        .timeout(request_timeout)
        .connect_timeout(request_timeout.min(Duration::from_secs(10)))
        .build()
}
