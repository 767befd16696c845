//! Builds the Copilot actors from the configuration, once: per org a [`Source`] on a copy of
//! the org's GitHub client (same credential and rate governor, `copilot.request_timeout`), and
//! for the enterprise one on its own App credential. The RoleManager's scraper host starts an
//! org's Copilot actor with the org's scraper, under the same grant; the enterprise actor goes
//! with the first configured org.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gse_actors::copilot::actor::{CopilotActor, CopilotActorArgs};
use gse_actors::copilot::backfill::CopilotSlots;
use gse_actors::copilot::mapping::{MapSettings, Scope};
use gse_actors::copilot::run::RunMemory;
use gse_actors::copilot::users::UserLabelMode;
use gse_actors::election::Grant;
use gse_actors::health::HealthReporter;
use gse_actors::messages::{EnqueueMissing, UpsertBatch};
use gse_actors::scrape::actor::CounterLedger;
use gse_actors::scrape::port::Clock;
use gse_actors::supervisor::{ActorSlot, ChildSpec, NotStarted, StartedBefore};

use super::github::{rate_settings, retry_settings, SetupError};
use crate::config::{self, Config};
use crate::copilot::download::download_client;
use crate::copilot::fetch::{RunSettings, Source};
use crate::github::auth::Credential;
use crate::github::client::Client;
use crate::github::governor::Governor;

/// The largest users-report row read (a row is a few kilobytes).
pub const MAX_ROW_BYTES: usize = 1 << 20;

/// The store partition of an org's Copilot series.
pub fn partition(org: &str) -> String {
    format!("{org}/copilot")
}

struct Entry {
    name: String,
    partition: String,
    component: String,
    source: Arc<Source>,
    memory: Arc<Mutex<RunMemory>>,
    counters: Arc<Mutex<CounterLedger>>,
    /// The running actor (stable across restarts), for the backfill worker.
    slot: ActorSlot<CopilotActor>,
}

/// Every Copilot actor this process may run, keyed by the org that carries it.
pub struct CopilotActors {
    by_org: BTreeMap<String, Vec<Entry>>,
    interval: Duration,
    store: StartedBefore<UpsertBatch>,
    backfill: StartedBefore<EnqueueMissing>,
    health: HealthReporter,
    clock: Arc<dyn Clock>,
}

/// The largest organization/enterprise report value: `github.max_response_bytes`.
fn max_value_bytes(config: &Config) -> usize {
    usize::try_from(config.github.max_response_bytes).unwrap_or(usize::MAX)
}

fn map_settings(config: &Config) -> MapSettings {
    let c = &config.copilot;
    MapSettings {
        breakdown_ide: c.include_breakdown_ide,
        breakdown_feature: c.include_breakdown_feature,
        breakdown_language: c.include_breakdown_language,
        breakdown_model: c.include_breakdown_model,
        pull_requests: c.include_pull_request_activity,
        max_label_values: c.max_label_values as usize,
        emit_day_label: c.emit_day_label,
        user_label_mode: match c.user_label_mode {
            config::UserLabelMode::Login => UserLabelMode::Login,
            config::UserLabelMode::Id => UserLabelMode::Id,
            config::UserLabelMode::Hashed => UserLabelMode::Hashed,
            config::UserLabelMode::None => UserLabelMode::None,
        },
        user_label_salt: c.user_label_salt.clone(),
    }
}

impl CopilotActors {
    /// `None` when `copilot.enabled` is false. `clients` are the orgs' GitHub clients.
    pub fn new(
        config: &Config,
        clients: Vec<(String, Arc<Client>)>,
        store: StartedBefore<UpsertBatch>,
        backfill: StartedBefore<EnqueueMissing>,
        health: HealthReporter,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<CopilotActors>, SetupError> {
        let c = &config.copilot;
        if !c.enabled {
            return Ok(None);
        }
        let identity = &config.leader_election.identity;
        let api_http =
            crate::github::http_client(c.request_timeout, identity).map_err(SetupError::Http)?;
        let download = download_client(c.download_timeout, identity).map_err(SetupError::Http)?;
        let map = map_settings(config);
        let mut by_org: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
        let org_settings = Arc::new(RunSettings {
            map: map.clone(),
            include_28d: c.include_org_28d,
            include_users: c.include_org_users_28d,
            include_seats: c.include_seats,
            max_records: c.max_records_per_report,
            max_users: c.max_users_per_report,
            refresh_if_unchanged: c.refresh_if_report_unchanged,
            // A whole 28-day object is one value: bounded like any GitHub body.
            max_value_bytes: max_value_bytes(config),
            max_row_bytes: MAX_ROW_BYTES,
        });
        for (org, scrape) in &clients {
            let client = Client::new(
                api_http.clone(),
                scrape.base.clone(),
                scrape.org.clone(),
                scrape.credential.clone(),
                scrape.governor.clone(),
                scrape.retry.clone(),
            )
            .with_limits(scrape.limits.clone())
            .with_owner(scrape.owner.clone());
            let source = Source {
                scope: Scope {
                    scope: "organization",
                    org: org.clone(),
                },
                github: Arc::new(client),
                download: download.clone(),
                settings: org_settings.clone(),
            };
            by_org.entry(org.clone()).or_default().push(Entry {
                name: format!("copilot.{org}"),
                partition: partition(org),
                component: format!("copilot.{org}"),
                source: Arc::new(source),
                memory: Arc::default(),
                counters: Arc::default(),
                slot: ActorSlot::new(),
            });
        }
        let e = &c.enterprise;
        if e.enabled {
            let host = config.github.orgs.first().map(|o| o.org.clone());
            if let (Some(host), Some(slug), Some(app_id), Some(key)) =
                (host, &e.slug, e.app_id, &e.private_key_path)
            {
                let credential = Credential::app(app_id, key, e.installation_id, slug, None)
                    .map_err(|source| SetupError::App {
                        org: format!("enterprise {slug}"),
                        source,
                    })?;
                let client = Client::new(
                    api_http.clone(),
                    config.github.api_base_url.clone(),
                    slug.clone(),
                    Arc::new(credential),
                    Arc::new(Governor::new(rate_settings(config))),
                    retry_settings(config),
                );
                let source = Source {
                    scope: Scope {
                        scope: "enterprise",
                        org: slug.clone(),
                    },
                    github: Arc::new(client),
                    download: download.clone(),
                    settings: Arc::new(RunSettings {
                        map,
                        include_28d: c.include_enterprise_28d,
                        include_users: c.include_enterprise_users_28d,
                        include_seats: false,
                        max_records: c.max_records_per_report,
                        max_users: c.max_users_per_report,
                        refresh_if_unchanged: c.refresh_if_report_unchanged,
                        // A whole 28-day object is one value: bounded like any GitHub body.
                        max_value_bytes: max_value_bytes(config),
                        max_row_bytes: MAX_ROW_BYTES,
                    }),
                };
                by_org.entry(host).or_default().push(Entry {
                    name: format!("copilot.enterprise.{slug}"),
                    partition: format!("{slug}/copilot-enterprise"),
                    component: format!("copilot.enterprise.{slug}"),
                    source: Arc::new(source),
                    memory: Arc::default(),
                    counters: Arc::default(),
                    slot: ActorSlot::new(),
                });
            }
        }
        Ok(Some(CopilotActors {
            by_org,
            interval: c.scrape_interval,
            store,
            backfill,
            health,
            clock,
        }))
    }

    /// The (scope, org) → CopilotActor slots, for the backfill worker of report days.
    pub fn slots(&self) -> CopilotSlots {
        Arc::new(
            self.by_org
                .values()
                .flatten()
                .map(|e| {
                    let key = (e.source.scope.scope.to_string(), e.source.scope.org.clone());
                    (key, e.slot.clone())
                })
                .collect(),
        )
    }

    /// The child names started with `org`'s scraper.
    pub fn child_names(&self, org: &str) -> Vec<String> {
        self.by_org
            .get(org)
            .map(|entries| entries.iter().map(|e| e.name.clone()).collect())
            .unwrap_or_default()
    }

    /// The Copilot actors that go with `org`'s scraper, under the same grant.
    pub fn child_specs(&self, org: &str, grant: Option<Grant>) -> Vec<ChildSpec> {
        let Some(entries) = self.by_org.get(org) else {
            return Vec::new();
        };
        entries
            .iter()
            .map(|entry| {
                let (source, memory, counters, partition, component) = (
                    entry.source.clone(),
                    entry.memory.clone(),
                    entry.counters.clone(),
                    entry.partition.clone(),
                    entry.component.clone(),
                );
                let (store, backfill, health, clock, interval, grant) = (
                    self.store.clone(),
                    self.backfill.clone(),
                    self.health.clone(),
                    self.clock.clone(),
                    self.interval,
                    grant.clone(),
                );
                ChildSpec::try_actor_in(&entry.slot, entry.name.clone(), move |_| {
                    let store = store.get()?;
                    let backfill = backfill.get()?;
                    Ok::<_, NotStarted>(CopilotActor::new(CopilotActorArgs {
                        source: source.clone(),
                        interval,
                        grant: grant.clone(),
                        partition: partition.clone(),
                        component: component.clone(),
                        store,
                        backfill,
                        health: health.clone(),
                        clock: clock.clone(),
                        memory: memory.clone(),
                        counters: counters.clone(),
                    }))
                })
            })
            .collect()
    }
}
