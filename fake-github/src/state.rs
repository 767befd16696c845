//! Everything a request handler can reach, shared by all actix workers.

use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Arc;

use crate::auth::{Auth, AuthSetupError};
use crate::budget::Budgets;
use crate::clock::FakeClock;
use crate::config::FakeConfig;
use crate::counters::Counters;
#[cfg(feature = "faults")]
use crate::faults::Faults;
use crate::secondary::Secondary;
use crate::store::Store;
use crate::world::World;

#[derive(Debug)]
pub struct State {
    pub config: FakeConfig,
    pub world: Arc<World>,
    pub store: Store,
    pub clock: FakeClock,
    pub auth: Auth,
    /// `core` budgets: `rate_limit` per hour.
    pub core: Budgets,
    /// `search` budgets: `search_rate_limit` per minute.
    pub search: Budgets,
    /// `graphql` budgets: `graphql_rate_limit` points per hour.
    pub graphql: Budgets,
    pub secondary: Secondary,
    #[cfg(feature = "faults")]
    pub faults: Faults,
    pub counters: Counters,
    /// `/_fake/copilot` knobs.
    pub copilot: crate::copilot::knobs::Knobs,
    /// Calls to `stats/contributors` per repository, for the 202-then-200 behaviour.
    pub stats_calls: Vec<AtomicU32>,
    /// Base of the `url` fields in bodies (`http://host:port`).
    pub api_url: String,
    pub request_seq: AtomicU64,
}

impl State {
    pub fn new(config: FakeConfig, api_url: String) -> Result<State, AuthSetupError> {
        let world = Arc::new(World::generate(&config));
        let auth = Auth::new(
            config.token.clone(),
            config.app.as_ref(),
            config.installation_token_ttl_secs,
            config.seed,
        )?
        .with_enterprise_app(config.enterprise_app.as_ref())?;
        Ok(State {
            store: Store::new(world.clone(), config.history_weeks),
            clock: FakeClock::new(config.clock),
            auth,
            core: Budgets::new(
                config.rate_limit,
                f64::from(config.rate_limit_window_secs.max(1)),
            ),
            search: Budgets::new(config.search_rate_limit, 60.0),
            graphql: Budgets::new(
                config.graphql_rate_limit,
                f64::from(config.rate_limit_window_secs.max(1)),
            ),
            secondary: Secondary::new(config.secondary),
            #[cfg(feature = "faults")]
            faults: Faults::default(),
            counters: Counters::default(),
            copilot: crate::copilot::knobs::Knobs::default(),
            stats_calls: (0..world.repos.len()).map(|_| AtomicU32::new(0)).collect(),
            api_url,
            request_seq: AtomicU64::new(1),
            world,
            config,
        })
    }
}
