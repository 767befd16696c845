//! Membership: one Lease per replica (`<lease_name>-member-<identity>`) renewed at every
//! heartbeat and carrying the process's nonce; the members are the holders of the member
//! Leases this replica saw change within their duration. A second live process with the same
//! identity is refused; leaving empties the holder.

use std::time::Duration;

use gse_actors::election::{ElectionError, Membership};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ListParams, PostParams};
use tokio::time::Instant;

use super::record::{KIND_LABEL, KIND_MEMBER, ORGS_ANNOTATION};
use super::{backend_error, record_of, status, Inner};

impl Inner {
    pub(super) async fn heartbeat(&self) -> Result<Membership, ElectionError> {
        const OP: &str = "heartbeat";
        let api = self.api().await?;
        let me = self.identity().to_string();
        let name = self.names.member(&me);
        let current = self
            .call(OP, api.get_opt(&name))
            .await?
            .map_err(|e| backend_error(OP, e))?;
        let now = Instant::now();
        let version = match &current {
            None => None,
            Some(lease) => {
                let record = record_of(lease);
                let unchanged =
                    self.state()
                        .observations
                        .note(&name, &record.resource_version, now);
                let ours = record.token.as_deref() == Some(self.nonce.as_str());
                if !ours && record.holder().is_some() && unchanged < record.duration {
                    return Err(ElectionError::DuplicateIdentity { identity: me });
                }
                Some(record.resource_version)
            }
        };
        let lease = self.lease(
            &name,
            KIND_MEMBER,
            Some(&me),
            &self.nonce,
            0,
            self.lease_secs,
            version.clone(),
            &[(ORGS_ANNOTATION, &self.settings.redis.orgs_fingerprint)],
        );
        let pp = PostParams::default();
        let written = match version {
            None => self.call(OP, api.create(&pp, &lease)).await?,
            Some(_) => self.call(OP, api.replace(&name, &pp, &lease)).await?,
        };
        match written {
            Ok(written) => {
                let version = record_of(&written).resource_version;
                let mut state = self.state();
                state.observations.note(&name, &version, Instant::now());
                state.member_version = Some(version);
            }
            // Another process wrote our member Lease since we read it: the next heartbeat
            // judges it.
            Err(e) if status(&e) == Some(409) => {}
            Err(e) => return Err(backend_error(OP, e)),
        }
        self.members(api).await
    }

    async fn members(&self, api: &Api<Lease>) -> Result<Membership, ElectionError> {
        const OP: &str = "members";
        let (key, value) = self.names.election_label();
        let selector = format!("{key}={value},{KIND_LABEL}={KIND_MEMBER}");
        let list = self
            .call(OP, api.list(&ListParams::default().labels(&selector)))
            .await?
            .map_err(|e| backend_error(OP, e))?;
        let now = Instant::now();
        let me = self.identity().to_string();
        let mut members = vec![me.clone()];
        let mut next_expiry: Option<Duration> = None;
        let mut state = self.state();
        for lease in &list.items {
            let Some(name) = lease.metadata.name.as_deref() else {
                continue;
            };
            let record = record_of(lease);
            let unchanged = state.observations.note(name, &record.resource_version, now);
            let Some(holder) = record.holder() else {
                continue;
            };
            if unchanged >= record.duration || holder == me {
                continue;
            }
            members.push(holder.to_string());
            let left = record.duration - unchanged;
            next_expiry = Some(next_expiry.map_or(left, |n| n.min(left)));
        }
        members.sort();
        members.dedup();
        Ok(Membership {
            members,
            next_expiry,
        })
    }

    pub(super) async fn leave(&self) -> Result<(), ElectionError> {
        const OP: &str = "leave";
        let api = self.api().await?;
        let Some(version) = self.state().member_version.take() else {
            return Ok(());
        };
        let me = self.identity().to_string();
        let name = self.names.member(&me);
        let lease = self.lease(
            &name,
            KIND_MEMBER,
            None,
            &self.nonce,
            0,
            1,
            Some(version),
            &[(ORGS_ANNOTATION, &self.settings.redis.orgs_fingerprint)],
        );
        match self
            .call(OP, api.replace(&name, &PostParams::default(), &lease))
            .await?
        {
            Ok(_) => Ok(()),
            Err(e) if matches!(status(&e), Some(404 | 409)) => Ok(()),
            Err(e) => Err(backend_error(OP, e)),
        }
    }
}
