//! The fake's configuration: data size and seed, credentials, limits and clock.

use std::fmt;
use std::net::SocketAddr;

/// Where the fake's "now" comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clock {
    /// Wall-clock time (an offset can still be added through `POST /_fake/clock`).
    Real,
    /// A fixed instant in Unix seconds; it moves only through `POST /_fake/clock`.
    Fixed(f64),
}

/// The GitHub App whose JWTs `POST /app/installations/{id}/access_tokens` accepts.
#[derive(Clone)]
pub struct AppAuth {
    pub app_id: u64,
    /// PEM of the App's RSA public key (SPKI `PUBLIC KEY` or PKCS#1 `RSA PUBLIC KEY`).
    pub public_key_pem: String,
}

impl fmt::Debug for AppAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppAuth")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

/// GitHub's secondary rate limits, per token (or per installation / App).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SecondaryLimits {
    /// Requests allowed in flight at once; more are refused. 0 disables the check.
    pub max_concurrent: u32,
    /// Requests allowed within `burst_window_secs` of the fake clock; 0 disables the check.
    pub burst_max: u32,
    pub burst_window_secs: u32,
    /// 403 or 429: GitHub uses both for secondary limits.
    pub status: u16,
    /// `retry-after` sent with a concurrency refusal (bursts send the time until the window frees).
    pub concurrency_retry_after_secs: u32,
}

impl Default for SecondaryLimits {
    fn default() -> Self {
        SecondaryLimits {
            max_concurrent: 100,
            burst_max: 900,
            burst_window_secs: 60,
            status: 403,
            concurrency_retry_after_secs: 60,
        }
    }
}

/// Everything [`crate::FakeGithub::spawn`] needs. `Default` is a small org good for unit tests.
#[derive(Clone)]
pub struct FakeConfig {
    pub seed: u64,
    /// Number of organizations.
    pub orgs: usize,
    /// Number of user-owned accounts, after the organizations in [`crate::world::World::orgs`]:
    /// repositories and activity like an org's, but `GET /users/{login}` says `"type": "User"`,
    /// `/orgs/{login}/…` is 404, search takes `user:` only and there are no Copilot reports.
    pub user_owners: usize,
    /// Repositories per organization.
    pub repos: usize,
    /// Members per organization (bots come on top).
    pub users: usize,
    /// The personal access token accepted as `Authorization: Bearer|token <t>`.
    pub token: String,
    /// Primary (`core`) budget per token or installation per hour.
    pub rate_limit: u32,
    /// `search` budget per token or installation per minute (GitHub: 30).
    pub search_rate_limit: u32,
    /// `graphql` budget in points per token or installation per hour (GitHub: 5,000).
    pub graphql_rate_limit: u32,
    /// Length of the `core` and `graphql` budget windows (GitHub: 3,600 s); shorter lets a test
    /// see a reset.
    pub rate_limit_window_secs: u32,
    pub clock: Clock,
    pub app: Option<AppAuth>,
    pub secondary: SecondaryLimits,
    /// How many calls to `stats/contributors` of a repository answer 202 before it is "computed".
    pub stats_compute_calls: u32,
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// actix worker threads (1 keeps the fake on one core).
    pub workers: usize,
    /// Whole weeks of history kept before the current week; older activity does not exist.
    pub history_weeks: u32,
    /// Lifetime of issued installation tokens, in seconds of the fake clock.
    pub installation_token_ttl_secs: u32,
    /// Slug of the enterprise whose Copilot reports cover every org of the world.
    pub enterprise_slug: String,
    /// The enterprise's own GitHub App (its installation id is
    /// [`crate::copilot::enterprise_installation_id`]); `None`: only the PAT reads enterprise reports.
    pub enterprise_app: Option<AppAuth>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            seed: 7,
            orgs: 1,
            user_owners: 0,
            repos: 8,
            users: 10,
            token: "fake-token".to_string(),
            rate_limit: 5000,
            search_rate_limit: 30,
            graphql_rate_limit: 5000,
            rate_limit_window_secs: 3600,
            clock: Clock::Real,
            app: None,
            secondary: SecondaryLimits::default(),
            stats_compute_calls: 2,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            workers: 1,
            history_weeks: 3,
            installation_token_ttl_secs: 3600,
            enterprise_slug: "fake-enterprise".to_string(),
            enterprise_app: None,
        }
    }
}

/// Redacts the token: it is a credential.
impl fmt::Debug for FakeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeConfig")
            .field("seed", &self.seed)
            .field("orgs", &self.orgs)
            .field("user_owners", &self.user_owners)
            .field("repos", &self.repos)
            .field("users", &self.users)
            .field("token", &"<redacted>")
            .field("rate_limit", &self.rate_limit)
            .field("search_rate_limit", &self.search_rate_limit)
            .field("graphql_rate_limit", &self.graphql_rate_limit)
            .field("rate_limit_window_secs", &self.rate_limit_window_secs)
            .field("clock", &self.clock)
            .field("app", &self.app)
            .field("secondary", &self.secondary)
            .field("stats_compute_calls", &self.stats_compute_calls)
            .field("listen", &self.listen)
            .field("workers", &self.workers)
            .field("history_weeks", &self.history_weeks)
            .field(
                "installation_token_ttl_secs",
                &self.installation_token_ttl_secs,
            )
            .field("enterprise_slug", &self.enterprise_slug)
            .field("enterprise_app", &self.enterprise_app)
            .finish()
    }
}
