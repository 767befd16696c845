//! GitHub adapters: the HTTP client factory, the `/meta` reachability probe, and the scraper's
//! GitHub port.
//!
//! Why a thin client on reqwest instead of octocrab: the governor must own every wait (octocrab
//! sleeps inside requests, does not retry a bare 403 secondary limit and retries 5xx without
//! backoff), ETags and `Link` pagination are a few lines each, and we call only a dozen GET
//! endpoints, the token exchange and one GraphQL query. A typed client over reqwest +
//! jsonwebtoken (rust_crypto, so one crypto provider) costs less code and build time than
//! bypassing octocrab's middleware.
//!
//! - [`auth`]: PAT and GitHub App credentials (JWT → installation token, cached, refreshed).
//! - [`governor`]: the per-credential rate-limit governor with cancellable waits.
//! - [`shared_budget`]: a credential's pacing and pauses shared by every replica in Redis.
//! - [`body`]: reading a response body under a size cap.
//! - [`client`]: the request core (retries, backoff, ETags, pagination, telemetry).
//! - [`api`]: `OrgApi`, the `GithubApi` port of one org.
//! - [`graphql`]: the org-wide search over GraphQL (items with their reviews and comments) and
//!   the batched default-branch commit listings.
//! - [`owner`]: whether an org's owner is an organization or a user account, asked once.
//! - [`identity`]: who an account is (login, bot, deleted), one rule for REST and GraphQL.
//! - [`wire`]: GitHub's JSON shapes.

pub mod api;
pub mod auth;
pub mod body;
pub mod client;
pub mod governor;
pub mod graphql;
pub mod identity;
pub mod owner;
pub mod probe;
#[cfg(test)]
mod proptests;
pub mod shared_budget;
/// The per-org clients are built by the composition root ([`crate::app::github`]).
pub use crate::app::github as setup;
pub mod wire;

use std::time::Duration;

/// The REST API version every call asks for.
pub const API_VERSION: &str = "2022-11-28";

/// Installs ring as rustls' process-wide crypto provider (one provider in the tree, no C build).
/// Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Builds the HTTP client every GitHub call uses. The `User-Agent` names the replica
/// (`github-stats-exporter/<version> (<identity>)`), so GitHub's audit log and a proxy can tell
/// replicas apart.
pub fn http_client(
    request_timeout: Duration,
    identity: &str,
) -> Result<reqwest::Client, reqwest::Error> {
    install_crypto_provider();
    let printable: String = identity
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(64)
        .collect();
    reqwest::Client::builder()
        .user_agent(format!(
            "github-stats-exporter/{} ({printable})",
            env!("CARGO_PKG_VERSION")
        ))
        .timeout(request_timeout)
        .connect_timeout(request_timeout.min(Duration::from_secs(10)))
        .build()
}
