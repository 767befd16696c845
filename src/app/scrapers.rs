//! Wiring of the scrapers: the `orgs` supervisor (one_for_one), started empty, to which the
//! RoleManager adds one ScrapeActor per org this replica owns ([`SupervisedScrapers`]) and
//! removes it when the tenure ends. Scrapers are fed by the GitHub ports of
//! [`super::github`] (built once, so token caches and rate governors survive restarts
//! and changes of owner), write to the StoreActor under their grant and report missed windows
//! to the backfill sink.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::{FutureExt, LocalBoxFuture};

use gse_actors::messages::{EnqueueMissing, UpsertBatch};
use gse_actors::scrape::actor::{CounterLedger, ScrapeActor, ScrapeActorArgs};
use gse_actors::scrape::cycle::CycleSettings;
use gse_actors::scrape::events::ScrapeObserver;
use gse_actors::scrape::filter::RepoFilter;
use gse_actors::scrape::health::GithubHealth;
use gse_actors::scrape::loc::LocSettings;
use gse_actors::scrape::port::{Clock, ScrapeStateStore};

use gse_actors::election::fenced_state::FencedState;
use gse_actors::election::manager::ScraperHost;
use gse_actors::election::{Grant, StaleWriteHook};
use gse_actors::scrape::port::GithubApi;
use gse_actors::supervisor::{
    ActorSlot, ChildSpec, NotStarted, StartedBefore, Strategy, SupervisorSlot, SupervisorSpec,
};

use gse_actors::backfill::catch_up::ScraperSlots;

use super::github::{org_clients, BudgetSharing, SetupError};
use crate::config::{Config, OrgConfig};
use crate::github::api::OrgApi;
use crate::github::client::Client;

/// Shared dependencies of every scraper.
#[derive(Clone)]
pub struct ScrapeDeps {
    pub clock: Arc<dyn Clock>,
    pub state_store: Arc<dyn ScrapeStateStore>,
    /// The StoreActor (started before the scrapers' subtree).
    pub store: StartedBefore<UpsertBatch>,
    /// Where missed windows go (started before the scrapers' subtree).
    pub backfill: StartedBefore<EnqueueMissing>,
    pub observer: Arc<dyn ScrapeObserver>,
    /// Tells the RoleManager that the store rejected a write under a grant.
    pub on_stale: Option<StaleWriteHook>,
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
            stats_retry_base: config.retry.initial_backoff,
            stats_retry_doublings: l.stats_poll_attempts,
        },
    }
}

/// Everything needed to start the scraper of any configured org, built once (so token caches,
/// rate governors, ETags and counter ledgers survive actor restarts and changes of owner).
pub struct OrgScrapers {
    orgs: BTreeMap<String, OrgEntry>,
    deps: ScrapeDeps,
    health: (u32, f64, u32),
}

struct OrgEntry {
    settings: Arc<CycleSettings>,
    org: OrgConfig,
    api: Arc<dyn GithubApi>,
    client: Arc<Client>,
    ledger: Arc<std::sync::Mutex<CounterLedger>>,
    slot: ActorSlot<ScrapeActor>,
}

/// The supervisor child name of an org's scraper.
pub fn child_name(org: &str) -> String {
    format!("scrape.{org}")
}

impl OrgScrapers {
    /// `sharing`: the credentials' budgets are shared with the other replicas.
    pub fn new(
        config: &Config,
        deps: ScrapeDeps,
        sharing: Option<&BudgetSharing>,
    ) -> Result<OrgScrapers, SetupError> {
        let g = &config.github;
        let orgs = org_clients(config, sharing)?
            .into_iter()
            .map(|(org, client)| {
                let entry = OrgEntry {
                    settings: Arc::new(cycle_settings(config, &org)),
                    api: Arc::new(OrgApi::new(client.clone())),
                    client,
                    ledger: Arc::new(std::sync::Mutex::new(CounterLedger::default())),
                    slot: ActorSlot::<ScrapeActor>::new(),
                    org: org.clone(),
                };
                (org.org, entry)
            })
            .collect();
        Ok(OrgScrapers {
            orgs,
            deps,
            health: (
                g.unhealthy_failure_threshold,
                g.unhealthy_cooldown.as_secs_f64(),
                g.recover_success_threshold,
            ),
        })
    }

    /// The GitHub client of every configured org (its credential and rate governor), for the
    /// Copilot actors.
    pub fn clients(&self) -> Vec<(String, Arc<Client>)> {
        self.orgs
            .iter()
            .map(|(org, entry)| (org.clone(), entry.client.clone()))
            .collect()
    }

    /// The org → ScrapeActor slots (stable across restarts and changes of owner), which the
    /// backfill worker uses to ask a local scraper for a cycle.
    pub fn slots(&self) -> ScraperSlots {
        Arc::new(
            self.orgs
                .iter()
                .map(|(org, entry)| (org.clone(), entry.slot.clone()))
                .collect(),
        )
    }

    /// The child spec of `org`'s scraper under `grant`: every batch and every scrape-state
    /// write it makes carries the grant. `None` for an org that is not configured.
    pub fn child_spec(&self, org: &str, grant: Option<Grant>) -> Option<ChildSpec> {
        let entry = self.orgs.get(org)?;
        let (settings, org_config, api, ledger, deps, health) = (
            entry.settings.clone(),
            entry.org.clone(),
            entry.api.clone(),
            entry.ledger.clone(),
            self.deps.clone(),
            self.health,
        );
        let state: Arc<dyn ScrapeStateStore> = Arc::new(FencedState::new(
            deps.state_store.clone(),
            grant.clone(),
            deps.on_stale.clone(),
        ));
        Some(ChildSpec::try_actor_in(
            &entry.slot,
            child_name(org),
            move |_| {
                let store = deps.store.get()?;
                let backfill = deps.backfill.get()?;
                Ok::<_, NotStarted>(ScrapeActor::new(ScrapeActorArgs {
                    settings: settings.clone(),
                    org: org_config.org.clone(),
                    interval: org_config.scrape_interval,
                    jitter: 0.05,
                    grant: grant.clone(),
                    health: GithubHealth::new(health.0, health.1, health.2),
                    api: api.clone(),
                    state_store: state.clone(),
                    clock: deps.clock.clone(),
                    store,
                    backfill,
                    observer: deps.observer.clone(),
                    counters: ledger.clone(),
                }))
            },
        ))
    }
}

/// The `orgs` supervisor (one_for_one), started empty: the RoleManager adds and removes one
/// scraper per org it owns through [`SupervisedScrapers`]. `slot` holds the control of its
/// current incarnation.
pub fn orgs_supervisor_in(slot: &SupervisorSlot) -> ChildSpec {
    ChildSpec::supervisor_in(slot, "orgs", || {
        SupervisorSpec::new("orgs", Strategy::OneForOne)
    })
}

/// The [`ScraperHost`] of production: scrapers are dynamic children of the `orgs` supervisor.
pub struct SupervisedScrapers {
    pub scrapers: Arc<OrgScrapers>,
    pub orgs: SupervisorSlot,
    /// The Copilot actors started and stopped with an org's scraper (`copilot.enabled`).
    pub copilot: Option<Arc<super::copilot::CopilotActors>>,
}

impl ScraperHost for SupervisedScrapers {
    fn start(
        &self,
        org: &str,
        grant: Option<Grant>,
    ) -> LocalBoxFuture<'static, Result<(), String>> {
        let spec = self.scrapers.child_spec(org, grant.clone());
        let copilot = self
            .copilot
            .as_ref()
            .map(|c| c.child_specs(org, grant))
            .unwrap_or_default();
        let control = self.orgs.get();
        let org = org.to_string();
        async move {
            let spec = spec.ok_or_else(|| format!("org {org} is not configured"))?;
            let control = control.ok_or("the orgs supervisor is not running")?;
            control
                .start_child(spec)
                .await
                .map_err(|error| format!("starting the scraper of {org}: {error}"))?;
            for spec in copilot {
                control
                    .start_child(spec)
                    .await
                    .map_err(|error| format!("starting the Copilot actor of {org}: {error}"))?;
            }
            Ok(())
        }
        .boxed_local()
    }

    fn stop(&self, org: &str) -> LocalBoxFuture<'static, ()> {
        let control = self.orgs.get();
        let mut names = vec![child_name(org)];
        if let Some(copilot) = &self.copilot {
            names.extend(copilot.child_names(org));
        }
        async move {
            if let Some(control) = control {
                for name in names {
                    if let Err(error) = control.terminate_child(&name).await {
                        tracing::debug!(child = %name, error = %error, "stopping a scraper: its supervisor is gone");
                    }
                }
            }
        }
        .boxed_local()
    }
}
