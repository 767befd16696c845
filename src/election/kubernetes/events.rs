//! Lease events from other replicas, read from a watch on this election's Leases. Every change
//! seen is noted in the elector's observations at once (so expiry counts from a holder's last
//! renewal, not from a candidate's next look). A lock whose
//! holder was emptied is [`LeaseEvent::Released`], a member whose holder was emptied (or whose
//! Lease was deleted) is [`LeaseEvent::Left`]. Waiting candidates retry at once instead of at
//! their next round. The watch lists first (for a `resourceVersion`), then watches from it;
//! when it ends or fails it starts again after a pause that doubles up to 5 s.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{BoxStream, StreamExt};
use gse_actors::election::LeaseEvent;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{ListParams, WatchEvent, WatchParams};

use super::record::{KIND_LABEL, KIND_LOCK, KIND_MEMBER};
use super::{record_of, Inner};

const MIN_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

type Watch = BoxStream<'static, Result<WatchEvent<Lease>, kube::Error>>;

struct Watcher {
    inner: Arc<Inner>,
    watch: Option<Watch>,
    pending: VecDeque<LeaseEvent>,
    backoff: Duration,
}

/// The event a change of `lease` means, if any.
fn event_of(lease: &Lease, deleted: bool) -> Option<LeaseEvent> {
    let name = lease.metadata.name.clone()?;
    let kind = lease.metadata.labels.as_ref()?.get(KIND_LABEL)?.as_str();
    let record = record_of(lease);
    let gone = deleted || record.holder().is_none();
    match (kind, gone) {
        (KIND_LOCK, true) => Some(LeaseEvent::Released { lease_key: name }),
        (KIND_MEMBER, true) => Some(LeaseEvent::Left { identity: name }),
        _ => None,
    }
}

impl Watcher {
    async fn open(&mut self) -> Result<Watch, String> {
        let api = self.inner.api().await.map_err(|e| e.to_string())?.clone();
        let (key, value) = self.inner.names.election_label();
        let selector = format!("{key}={value}");
        let list = api
            .list(&ListParams::default().labels(&selector).limit(1))
            .await
            .map_err(|e| e.to_string())?;
        let version = list.metadata.resource_version.unwrap_or_default();
        let params = WatchParams::default().labels(&selector).timeout(290);
        let watch = api
            .watch(&params, &version)
            .await
            .map_err(|e| e.to_string())?;
        Ok(watch.boxed())
    }

    async fn next_event(&mut self) -> Option<LeaseEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.inner.alive.is_cancelled() {
                return None;
            }
            let Some(watch) = self.watch.as_mut() else {
                match self.open().await {
                    Ok(watch) => {
                        self.watch = Some(watch);
                        self.backoff = MIN_BACKOFF;
                    }
                    Err(error) => {
                        tracing::debug!(error = %error, "watching the election's Leases failed; trying again");
                        self.pause().await?;
                    }
                }
                continue;
            };
            match watch.next().await {
                Some(Ok(WatchEvent::Added(lease) | WatchEvent::Modified(lease))) => {
                    // A change seen the moment it happens: candidates count a silent holder's
                    // lease from its last renewal, not from their next look.
                    if let (Some(name), Some(version)) = (
                        lease.metadata.name.as_deref(),
                        lease.metadata.resource_version.as_deref(),
                    ) {
                        self.inner.state().observations.note(
                            name,
                            version,
                            tokio::time::Instant::now(),
                        );
                    }
                    self.pending.extend(event_of(&lease, false));
                }
                Some(Ok(WatchEvent::Deleted(lease))) => {
                    self.pending.extend(event_of(&lease, true));
                }
                Some(Ok(WatchEvent::Bookmark(_))) => {}
                Some(Ok(WatchEvent::Error(status))) => {
                    tracing::debug!(
                        code = status.code,
                        "the Lease watch ended with an error; watching again"
                    );
                    self.watch = None;
                }
                Some(Err(error)) => {
                    tracing::debug!(error = %error, "the Lease watch failed; watching again");
                    self.watch = None;
                    self.pause().await?;
                }
                None => self.watch = None,
            }
        }
    }

    /// Waits the backoff (doubling it), or returns `None` once the elector is gone.
    async fn pause(&mut self) -> Option<()> {
        let delay = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        tokio::select! {
            () = tokio::time::sleep(delay) => Some(()),
            () = self.inner.alive.cancelled() => None,
        }
    }
}

/// The events of `inner`'s election, for as long as the stream is polled.
pub(super) fn stream(inner: &Arc<Inner>) -> BoxStream<'static, LeaseEvent> {
    let watcher = Watcher {
        inner: inner.clone(),
        watch: None,
        pending: VecDeque::new(),
        backoff: MIN_BACKOFF,
    };
    futures::stream::unfold(watcher, |mut watcher| async move {
        let event = watcher.next_event().await?;
        Some((event, watcher))
    })
    .boxed()
}
