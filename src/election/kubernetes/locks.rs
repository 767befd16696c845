//! The lock Leases (global, per org): acquisition through `resourceVersion` (a 409 is a lost
//! race, answered as held), renewal with its fence, release that empties the holder and removes
//! the fence.

use std::sync::Arc;

use gse_actors::election::{Acquire, ElectionError, Grant, LeaseScope};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use tokio::time::Instant;

use super::fence::Fenced;
use super::record::{Judgement, KIND_LOCK};
use super::{backend_error, record_of, status, HeldLock, Inner};
use crate::redis::token::random_hex;

impl Inner {
    pub(super) async fn try_acquire(&self, scope: LeaseScope) -> Result<Acquire, ElectionError> {
        const OP: &str = "acquire";
        let api = self.api().await?;
        let name = self.scope_name(&scope);
        let key = self.fence.key(&scope);
        let current = self
            .call(OP, api.get_opt(&name))
            .await?
            .map_err(|e| backend_error(OP, e))?;
        let now = Instant::now();
        let (version, transitions) = match &current {
            None => (None, 0),
            Some(lease) => {
                let record = record_of(lease);
                let judgement = self.state().observations.judge(&name, &record, now);
                if let Judgement::Held { holder, ttl } = judgement {
                    if holder != self.identity() {
                        return Ok(Acquire::Held { holder, ttl });
                    }
                }
                (Some(record.resource_version), record.transitions)
            }
        };
        let floor = self.state().min_epoch.get(&name).copied().unwrap_or(0);
        let epoch = transitions.max(floor) + 1;
        let token = random_hex();
        let lease = self.lease(
            &name,
            KIND_LOCK,
            Some(self.identity()),
            &token,
            epoch,
            self.lease_secs,
            version.clone(),
            &[],
        );
        let pp = PostParams::default();
        let written = match version {
            None => self.call(OP, api.create(&pp, &lease)).await?,
            Some(_) => self.call(OP, api.replace(&name, &pp, &lease)).await?,
        };
        let written = match written {
            Ok(written) => written,
            // Lost the race (another candidate wrote first): held, judged again next round.
            Err(e) if status(&e) == Some(409) => {
                return Ok(Acquire::Held {
                    holder: String::new(),
                    ttl: self.settings.redis.lease_duration,
                });
            }
            Err(e) => return Err(backend_error(OP, e)),
        };
        let record = record_of(&written);
        self.state()
            .observations
            .note(&name, &record.resource_version, Instant::now());
        let value = format!("{epoch}|{token}|{}", self.identity());
        let grant = Grant::leased(epoch, Arc::from(key.as_str()), Arc::from(value.as_str()));
        let fenced = self.fence.write(&grant).await;
        match fenced {
            Ok(Fenced::Written) => {
                self.state().held.insert(
                    key,
                    HeldLock {
                        name,
                        resource_version: record.resource_version,
                        token,
                        epoch,
                    },
                );
                Ok(Acquire::Acquired(grant))
            }
            other => {
                // Without a fence the tenure could not write: give the Lease back at once.
                let held = HeldLock {
                    name: name.clone(),
                    resource_version: record.resource_version,
                    token,
                    epoch,
                };
                let _ = self.give_back(api, &held).await;
                match other {
                    Ok(Fenced::Refused { held }) => {
                        self.state().min_epoch.insert(name.clone(), held);
                        Err(backend_error(
                            OP,
                            format!("the Redis fence of {name} holds a newer tenure (epoch {held}); retrying above it"),
                        ))
                    }
                    Err(error) => Err(error),
                    Ok(Fenced::Written) => unreachable!("handled above"),
                }
            }
        }
    }

    /// Renews one held lock and its fence: `Ok(false)` when it is no longer ours.
    pub(super) async fn renew_one(&self, grant: &Grant) -> Result<bool, ElectionError> {
        const OP: &str = "renew";
        let Some(held) = self
            .state()
            .held
            .get(grant.lease_key.as_ref())
            .filter(|h| h.epoch == grant.epoch)
            .cloned()
        else {
            return Ok(false);
        };
        let api = self.api().await?;
        let lease = self.lease(
            &held.name,
            KIND_LOCK,
            Some(self.identity()),
            &held.token,
            held.epoch,
            self.lease_secs,
            Some(held.resource_version.clone()),
            &[],
        );
        let written = self
            .call(OP, api.replace(&held.name, &PostParams::default(), &lease))
            .await?;
        let written = match written {
            Ok(written) => written,
            Err(e) if matches!(status(&e), Some(404 | 409)) => {
                self.state().held.remove(grant.lease_key.as_ref());
                return Ok(false);
            }
            Err(e) => return Err(backend_error(OP, e)),
        };
        let version = record_of(&written).resource_version;
        {
            let mut state = self.state();
            state
                .observations
                .note(&held.name, &version, Instant::now());
            if let Some(h) = state.held.get_mut(grant.lease_key.as_ref()) {
                h.resource_version = version;
            }
        }
        match self.fence.write(grant).await? {
            Fenced::Written => Ok(true),
            Fenced::Refused { held: newer } => {
                tracing::warn!(lease = %held.name, epoch = grant.epoch, fenced = newer, "the Redis fence holds a newer tenure: this one is over");
                self.state().held.remove(grant.lease_key.as_ref());
                Ok(false)
            }
        }
    }

    /// Empties a held lock's holder (candidates take over at once).
    async fn give_back(&self, api: &Api<Lease>, held: &HeldLock) -> Result<(), ElectionError> {
        const OP: &str = "release";
        let lease = self.lease(
            &held.name,
            KIND_LOCK,
            None,
            &held.token,
            held.epoch,
            1,
            Some(held.resource_version.clone()),
            &[],
        );
        match self
            .call(OP, api.replace(&held.name, &PostParams::default(), &lease))
            .await?
        {
            Ok(_) => Ok(()),
            // Someone else wrote it since: it is not ours to release.
            Err(e) if matches!(status(&e), Some(404 | 409)) => Ok(()),
            Err(e) => Err(backend_error(OP, e)),
        }
    }

    pub(super) async fn release(&self, grants: Vec<Grant>) -> Result<(), ElectionError> {
        let api = self.api().await?;
        let held: Vec<HeldLock> = {
            let mut state = self.state();
            grants
                .iter()
                .filter_map(|g| {
                    state
                        .held
                        .remove(g.lease_key.as_ref())
                        .filter(|h| h.epoch == g.epoch)
                })
                .collect()
        };
        let results = futures::future::join_all(held.iter().map(|h| self.give_back(api, h))).await;
        let fence = self.fence.remove(&grants).await;
        results.into_iter().collect::<Result<(), _>>()?;
        fence
    }
}
