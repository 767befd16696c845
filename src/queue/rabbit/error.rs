//! Broker operations' bounds and errors: every operation on a live connection runs within
//! [`OPERATION_TIMEOUT`] and fails as a [`QueueError`]; the connection task's own failures are
//! [`RabbitError`]s.

use std::path::PathBuf;
use std::time::Duration;

use gse_actors::backfill::QueueError;

use super::BACKEND;

/// Errors of the connection task (it only ends on stop, so these stay internal).
#[derive(Debug, thiserror::Error)]
pub enum RabbitError {
    #[error("{operation} failed")]
    Amqp {
        operation: &'static str,
        #[source]
        source: lapin::Error,
    },
    #[error("connecting to the broker timed out after {0:?}")]
    ConnectTimeout(Duration),
    #[error("cannot read the TLS CA file {}", path.display())]
    CaFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Maps a lapin error of the connection task to a [`RabbitError`] naming `operation`.
pub(super) fn amqp(operation: &'static str) -> impl FnOnce(lapin::Error) -> RabbitError {
    move |source| RabbitError::Amqp { operation, source }
}

/// Bound for one broker operation (ack, channel open, declare): on a half-dead connection an
/// operation may never complete, and a consumer waiting on it would never resubscribe.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// `operation` within [`OPERATION_TIMEOUT`], its lapin error mapped to a [`QueueError`].
pub(super) async fn bounded<T>(
    operation: &'static str,
    future: impl std::future::Future<Output = lapin::Result<T>>,
) -> Result<T, QueueError> {
    match tokio::time::timeout(OPERATION_TIMEOUT, future).await {
        Ok(result) => result.map_err(backend(operation)),
        Err(_) => Err(QueueError::Backend {
            backend: BACKEND,
            operation,
            source: format!("no answer within {OPERATION_TIMEOUT:?}").into(),
        }),
    }
}

/// Maps a lapin error to a [`QueueError`] naming `operation`.
pub(super) fn backend(operation: &'static str) -> impl FnOnce(lapin::Error) -> QueueError {
    move |source| QueueError::Backend {
        backend: BACKEND,
        operation,
        source: Box::new(source),
    }
}
