//! Wiring of the scrapers: the `orgs` supervisor (one_for_one) with one ScrapeActor per
//! configured org, fed by the GitHub ports of [`crate::github::setup`] (built once, so token
//! caches and rate governors survive actor restarts), writing to the StoreActor and reporting
//! missed windows to the backfill sink. Started only while this replica leads.

use std::sync::Arc;

use actix::Recipient;
use gse_actors::messages::{EnqueueMissing, UpsertBatch};
use gse_actors::scrape::actor::{CounterLedger, ScrapeActor, ScrapeActorArgs};
use gse_actors::scrape::cycle::CycleSettings;
use gse_actors::scrape::events::ScrapeObserver;
use gse_actors::scrape::filter::RepoFilter;
use gse_actors::scrape::health::GithubHealth;
use gse_actors::scrape::loc::LocSettings;
use gse_actors::scrape::port::{Clock, ScrapeStateStore};

use gse_actors::supervisor::{ActorSlot, ChildSpec, Strategy, SupervisorSpec};

use crate::backfill_worker::ScraperSlots;

use crate::config::{Config, OrgConfig};
use crate::github::setup::{org_apis, SetupError};

/// Finds the current incarnation of an actor the scrapers send to.
pub type RecipientLookup<M> = Arc<dyn Fn() -> Option<Recipient<M>> + Send + Sync>;

/// Shared dependencies of every scraper.
#[derive(Clone)]
pub struct ScrapeDeps {
    pub clock: Arc<dyn Clock>,
    pub state_store: Arc<dyn ScrapeStateStore>,
    pub store: RecipientLookup<UpsertBatch>,
    pub backfill: RecipientLookup<EnqueueMissing>,
    pub observer: Arc<dyn ScrapeObserver>,
    pub grant: Option<gse_actors::roles::Grant>,
}

/// The cycle settings of one org.
pub fn cycle_settings(config: &Config, org: &OrgConfig) -> CycleSettings {
    let l = &config.loc;
    CycleSettings {
        filter: RepoFilter {
            allow: org.repo_allowlist.clone(),
            deny: org.repo_denylist.clone(),
            include_archived: org.include_archived,
            include_forks: org.include_forks,
        },
        concurrency: org.per_org_concurrency as usize,
        exclude_bots: config.github.exclude_bots,
        loc: LocSettings {
            refresh_interval_secs: l.refresh_interval.as_secs_f64(),
            fallback_enabled: l.fallback_enabled,
            zero_detection_windows: l.large_repo_zero_detection_windows,
            cooldown_secs: l.large_repo_cooldown.as_secs_f64(),
            max_commits_per_repo_per_week: l.fallback_max_commits_per_repo_per_week,
            max_detail_calls_per_org_per_hour: l.fallback_max_commit_detail_calls_per_org_per_hour,
        },
    }
}

/// The `orgs` supervisor: one_for_one over one ScrapeActor per org. Each child's factory
/// builds a fresh actor (fresh state; the saved cycle is restored from the state store) that
/// reuses the org's GitHub API (token cache, governor, ETags).
/// Also returns the org → ScrapeActor slots (stable across restarts), which the backfill worker
/// uses to ask an org for a cycle.
pub fn org_supervisor(
    config: &Config,
    deps: &ScrapeDeps,
) -> Result<(ChildSpec, ScraperSlots), SetupError> {
    let g = &config.github;
    let health = (
        g.unhealthy_failure_threshold,
        g.unhealthy_cooldown.as_secs_f64(),
        g.recover_success_threshold,
    );
    let orgs: Vec<_> = org_apis(config)?
        .into_iter()
        .map(|(org, api)| {
            let ledger = Arc::new(std::sync::Mutex::new(CounterLedger::default()));
            let slot = ActorSlot::<ScrapeActor>::new();
            (
                Arc::new(cycle_settings(config, &org)),
                org,
                api,
                ledger,
                slot,
            )
        })
        .collect();
    let slots: ScraperSlots = Arc::new(
        orgs.iter()
            .map(|(_, org, _, _, slot)| (org.org.clone(), slot.clone()))
            .collect(),
    );
    let deps = deps.clone();
    let spec = ChildSpec::supervisor("orgs", move || {
        let mut spec = SupervisorSpec::new("orgs", Strategy::OneForOne);
        for (settings, org, api, ledger, slot) in &orgs {
            let (settings, org, api, ledger, deps) = (
                settings.clone(),
                org.clone(),
                api.clone(),
                ledger.clone(),
                deps.clone(),
            );
            let child = ChildSpec::actor_in(slot, format!("scrape.{}", org.org), move |_| {
                // rest_for_one in the root starts the store and the backfill sink before
                // `orgs`, so both are present; if not, this start fails and is retried.
                let store = (deps.store)().expect("the store actor runs before the scrapers");
                let backfill =
                    (deps.backfill)().expect("the backfill sink runs before the scrapers");
                ScrapeActor::new(ScrapeActorArgs {
                    settings: settings.clone(),
                    org: org.org.clone(),
                    interval: org.scrape_interval,
                    jitter: 0.05,
                    grant: deps.grant.clone(),
                    health: GithubHealth::new(health.0, health.1, health.2),
                    api: api.clone(),
                    state_store: deps.state_store.clone(),
                    clock: deps.clock.clone(),
                    store,
                    backfill,
                    observer: deps.observer.clone(),
                    counters: ledger.clone(),
                })
            });
            spec = spec.child(child);
        }
        spec
    });
    Ok((spec, slots))
}
