//! Lease events: `released <lease key>` and `left <identity>` on the election's pub/sub channel,
//! so waiting candidates retry at once. Each stream of `LeaderElector::events` has a dedicated
//! pub/sub connection, re-established with a short backoff whenever it breaks (a silent one is
//! pinged), until the elector is dropped.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{BoxStream, StreamExt};
use gse_actors::election::LeaseEvent;
use redis::aio::{PubSubSink, PubSubStream};
use redis::{RedisError, Value};
use tokio_util::sync::CancellationToken;

use super::Inner;
use crate::redis::connection::MasterSource;
use crate::redis::CallError;

/// First wait before the event subscription reconnects; doubles up to [`EVENTS_MAX_BACKOFF`].
const EVENTS_MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait before the event subscription reconnects.
const EVENTS_MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The event stream of the elector `inner` (its `LeaderElector::events`).
pub(super) fn stream(inner: &Inner) -> BoxStream<'static, LeaseEvent> {
    let subscription = Subscription {
        source: inner.pubsub.clone(),
        channel: inner.keys.channel(),
        alive: inner.alive.clone(),
        timeout: inner.timeout,
        keepalive: inner.timeout.max(Duration::from_secs(1)) * 5,
        connection: None,
        backoff: EVENTS_MIN_BACKOFF,
        was_connected: false,
    };
    futures::stream::unfold(subscription, |mut subscription| async move {
        let event = subscription.next_event().await?;
        Some((event, subscription))
    })
    .boxed()
}

/// A [`LeaseEvent`] from a pub/sub payload; `None` for anything else.
pub fn parse_event(payload: &str) -> Option<LeaseEvent> {
    let (kind, rest) = payload.split_once(' ')?;
    if rest.is_empty() {
        return None;
    }
    match kind {
        "released" => Some(LeaseEvent::Released {
            lease_key: rest.to_string(),
        }),
        "left" => Some(LeaseEvent::Left {
            identity: rest.to_string(),
        }),
        _ => None,
    }
}

/// The state of one `LeaderElector::events` stream: a dedicated pub/sub connection,
/// re-established with a short backoff whenever it breaks, until the elector is dropped.
struct Subscription {
    source: Arc<MasterSource>,
    channel: String,
    alive: CancellationToken,
    timeout: Duration,
    /// A silent connection is pinged after this long (a half-open TCP connection never ends
    /// the stream by itself).
    keepalive: Duration,
    connection: Option<(PubSubSink, PubSubStream)>,
    backoff: Duration,
    was_connected: bool,
}

impl Subscription {
    /// The next event; `None` once the elector is gone.
    async fn next_event(&mut self) -> Option<LeaseEvent> {
        loop {
            if self.alive.is_cancelled() {
                return None;
            }
            let Some((sink, stream)) = &mut self.connection else {
                match self.connect().await {
                    Ok(connection) => {
                        tracing::debug!(channel = %self.channel, "subscribed to lease events");
                        self.connection = Some(connection);
                        self.backoff = EVENTS_MIN_BACKOFF;
                        self.was_connected = true;
                    }
                    Err(error) => {
                        tracing::debug!(error = %error, retry_in = ?self.backoff, "lease event subscription failed");
                        let wait = self.backoff.mul_f64(1.0 + rand::random::<f64>() * 0.2);
                        self.backoff = (self.backoff * 2).min(EVENTS_MAX_BACKOFF);
                        tokio::select! {
                            () = self.alive.cancelled() => return None,
                            () = tokio::time::sleep(wait) => {}
                        }
                    }
                }
                continue;
            };
            let lost = tokio::select! {
                () = self.alive.cancelled() => return None,
                message = stream.next() => match message {
                    Some(message) => {
                        match std::str::from_utf8(message.get_payload_bytes()).ok().and_then(parse_event) {
                            Some(event) => return Some(event),
                            None => {
                                tracing::debug!(channel = message.get_channel_name(), payload = ?String::from_utf8_lossy(message.get_payload_bytes()), "ignoring a malformed lease event");
                                false
                            }
                        }
                    }
                    None => true,
                },
                () = tokio::time::sleep(self.keepalive) => {
                    !matches!(
                        tokio::time::timeout(self.timeout, sink.ping::<Value>()).await,
                        Ok(Ok(_))
                    )
                }
            };
            if lost {
                if self.was_connected {
                    tracing::warn!(channel = %self.channel, "lease event subscription lost; reconnecting");
                    self.was_connected = false;
                }
                self.connection = None;
            }
        }
    }

    async fn connect(
        &self,
    ) -> Result<(PubSubSink, PubSubStream), Box<dyn std::error::Error + Send + Sync>> {
        let attempt = async {
            let client = self.source.client().await?;
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&self.channel).await?;
            Ok::<_, RedisError>(pubsub.split())
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(error)) => Err(Box::new(error)),
            Err(_) => Err(Box::new(CallError::TimedOut(self.timeout))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_and_malformed_ones_are_ignored() {
        assert_eq!(
            parse_event("released ns:lease:gse"),
            Some(LeaseEvent::Released {
                lease_key: "ns:lease:gse".into()
            })
        );
        assert_eq!(
            parse_event("left pod a"),
            Some(LeaseEvent::Left {
                identity: "pod a".into()
            })
        );
        for bad in ["", "released", "released ", "joined x", "left"] {
            assert_eq!(parse_event(bad), None, "{bad:?}");
        }
    }
}
