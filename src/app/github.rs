//! Builds the GitHub port of every configured org from the configuration: resolves each org's
//! credential (its own token or App, else the top-level one), shares one [`Credential`] and one
//! [`Governor`] per distinct credential (a token used by several orgs shares its budget; each
//! App installation has its own), and wraps them in an [`OrgApi`]. When roles come from
//! leases, every client refuses calls made outside a lease scope. With [`BudgetSharing`]
//! (Redis and `rate_limit.shared`), each governor shares its credential's budget with the other
//! replicas under the credential's [`CredentialId`].

use std::collections::HashMap;
use std::sync::Arc;

use gse_actors::election::manager::RoleMode;
use gse_actors::observe::Recorder;
use gse_actors::scrape::port::GithubApi;
use secrecy::ExposeSecret;

use crate::config::{Config, OrgConfig};
use crate::github::api::OrgApi;
use crate::github::auth::{AuthError, Credential};
use crate::github::body::InFlightBudget;
use crate::github::client::{Client, ResponseLimits, RetrySettings};
use crate::github::governor::{Governor, RateLimitSettings, Sharing};
use crate::github::owner::Owner;
use crate::github::shared_budget::{CredentialId, SharedBudgets};

/// Why the GitHub ports could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("building the HTTP client")]
    Http(#[source] reqwest::Error),
    #[error("GitHub App credentials of org {org}")]
    App {
        org: String,
        #[source]
        source: AuthError,
    },
    #[error("org {org} has no GitHub credentials")]
    NoCredentials { org: String },
}

/// Settings every client of the process shares.
pub fn retry_settings(config: &Config) -> RetrySettings {
    RetrySettings {
        max_attempts: config.retry.max_attempts,
        initial_backoff: config.retry.initial_backoff,
        max_backoff: config.retry.max_backoff,
        jitter: config.retry.jitter,
    }
}

pub fn rate_settings(config: &Config) -> RateLimitSettings {
    RateLimitSettings {
        min_remaining_threshold: u64::from(config.rate_limit.min_remaining_threshold),
        min_reset_buffer: config.rate_limit.min_reset_buffer,
        secondary_limit_backoff: config.rate_limit.secondary_limit_backoff,
        requests_per_minute: config.rate_limit.requests_per_minute,
    }
}

/// What the governors need to share their credentials' budgets with the other replicas.
#[derive(Clone)]
pub struct BudgetSharing {
    pub budgets: SharedBudgets,
    /// How many replicas share a credential when one paces alone.
    pub peers: Arc<dyn Fn() -> usize + Send + Sync>,
    pub recorder: Arc<dyn Recorder>,
}

/// The governor of credential `id`: shared with the other replicas when `sharing` is given.
pub fn governor(config: &Config, sharing: Option<&BudgetSharing>, id: &CredentialId) -> Governor {
    match sharing {
        None => Governor::new(rate_settings(config)),
        Some(sharing) => Governor::shared(
            rate_settings(config),
            Sharing {
                budget: sharing.budgets.credential(id),
                peers: sharing.peers.clone(),
                recorder: sharing.recorder.clone(),
            },
        ),
    }
}

/// An org's configuration and its GitHub port.
pub type OrgPort = (OrgConfig, Arc<dyn GithubApi>);

/// One `GithubApi` per org, in configuration order (budgets of this process only).
pub fn org_apis(config: &Config) -> Result<Vec<OrgPort>, SetupError> {
    Ok(org_clients(config, None)?
        .into_iter()
        .map(|(org, client)| (org, Arc::new(OrgApi::new(client)) as Arc<dyn GithubApi>))
        .collect())
}

/// One GitHub [`Client`] per org (credential and governor shared per distinct credential), in
/// configuration order.
pub fn org_clients(
    config: &Config,
    sharing: Option<&BudgetSharing>,
) -> Result<Vec<(OrgConfig, Arc<Client>)>, SetupError> {
    let http = crate::github::http_client(
        config.github.request_timeout,
        &config.leader_election.identity,
    )
    .map_err(SetupError::Http)?;
    let in_flight = InFlightBudget::new(config.github.max_response_bytes_in_flight);
    // Roles from leases: every call is made on behalf of an org by its lease holder, under
    // the lease (a call outside any lease is refused).
    let leased = matches!(
        crate::role_mode(config),
        RoleMode::Single | RoleMode::PerOrg
    );
    let mut shared: HashMap<String, (Arc<Credential>, Arc<Governor>)> = HashMap::new();
    let mut out = Vec::new();
    let g = &config.github;
    for org in &g.orgs {
        let owner = Arc::new(Owner::new(&org.org));
        let token = org.token.as_ref().or(if org.app_id.is_some() {
            None
        } else {
            g.token.as_ref()
        });
        // Equal tokens share one governor (the map holds a fingerprint, not the secret); each
        // org's App credential has its own, shared through Redis per installation.
        let (share_key, id, credential) = if let Some(token) = token {
            let id = CredentialId::token(token.expose_secret());
            let credential = Credential::Token(token.clone());
            (id.as_str().to_string(), id, credential)
        } else {
            let app_id = org.app_id.or(g.app_id);
            let key_path = org
                .private_key_path
                .as_ref()
                .or(g.private_key_path.as_ref());
            let installation = org.installation_id.or(if org.app_id.is_some() {
                None
            } else {
                g.installation_id
            });
            let (Some(app_id), Some(key_path)) = (app_id, key_path) else {
                return Err(SetupError::NoCredentials {
                    org: org.org.clone(),
                });
            };
            let credential = Credential::app(
                app_id,
                key_path,
                installation,
                &org.org,
                Some(owner.clone()),
            )
            .map_err(|source| SetupError::App {
                org: org.org.clone(),
                source,
            })?;
            let id = CredentialId::app(app_id, installation, &org.org);
            (format!("app:{app_id}:org:{}", org.org), id, credential)
        };
        let (credential, governor) = shared
            .entry(share_key)
            .or_insert_with(|| {
                (
                    Arc::new(credential),
                    Arc::new(governor(config, sharing, &id)),
                )
            })
            .clone();
        let client = Client::new(
            http.clone(),
            g.api_base_url.clone(),
            org.org.clone(),
            credential,
            governor,
            retry_settings(config),
        )
        .with_limits(ResponseLimits {
            max_response_bytes: g.max_response_bytes,
            max_pages_per_listing: g.max_pages_per_listing,
            in_flight: in_flight.clone(),
        })
        .with_lease_required(leased)
        .with_owner(owner);
        out.push((org.clone(), Arc::new(client)));
    }
    Ok(out)
}
