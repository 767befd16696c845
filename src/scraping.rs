//! Wiring of the scrapers: one ScrapeActor per configured org, fed by the GitHub ports of
//! [`crate::github::setup`], writing to the StoreActor, reporting missed windows to the interim
//! [`PendingBackfill`] sink. (The lead's OrgSupervisor will own these actors; until then `run`
//! starts them directly while this replica leads.)

use std::sync::Arc;

use actix::{Actor, Addr, Recipient};
use gse_actors::messages::{EnqueueMissing, UpsertBatch};
use gse_actors::scrape::actor::{ScrapeActor, ScrapeActorArgs};
use gse_actors::scrape::cycle::CycleSettings;
use gse_actors::scrape::events::ScrapeObserver;
use gse_actors::scrape::filter::RepoFilter;
use gse_actors::scrape::health::GithubHealth;
use gse_actors::scrape::loc::LocSettings;
use gse_actors::scrape::port::{Clock, ScrapeStateStore};

use crate::config::{Config, OrgConfig};
use crate::github::setup::{org_apis, SetupError};

/// Shared dependencies of every scraper.
pub struct ScrapeDeps {
    pub clock: Arc<dyn Clock>,
    pub state_store: Arc<dyn ScrapeStateStore>,
    pub store: Recipient<UpsertBatch>,
    pub backfill: Recipient<EnqueueMissing>,
    pub observer: Arc<dyn ScrapeObserver>,
    pub epoch: u64,
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

/// Starts one ScrapeActor per org.
pub fn start_scrapers(
    config: &Config,
    deps: &ScrapeDeps,
) -> Result<Vec<Addr<ScrapeActor>>, SetupError> {
    let g = &config.github;
    Ok(org_apis(config)?
        .into_iter()
        .map(|(org, api)| {
            ScrapeActor::new(ScrapeActorArgs {
                settings: Arc::new(cycle_settings(config, &org)),
                org: org.org.clone(),
                interval: org.scrape_interval,
                jitter: 0.05,
                epoch: deps.epoch,
                health: GithubHealth::new(
                    g.unhealthy_failure_threshold,
                    g.unhealthy_cooldown.as_secs_f64(),
                    g.recover_success_threshold,
                ),
                api,
                state_store: deps.state_store.clone(),
                clock: deps.clock.clone(),
                store: deps.store.clone(),
                backfill: deps.backfill.clone(),
                observer: deps.observer.clone(),
            })
            .start()
        })
        .collect())
}
