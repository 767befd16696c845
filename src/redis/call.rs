//! One Redis call with a deadline, the way every Redis user of the process makes it: the
//! connection is taken from the [`Connector`] and the call awaited, both within `timeout`; a
//! failure or a timeout is reported to the connector (with Sentinel the next call asks for the
//! master again). Callers map the [`CallError`] onto their own error type.

use std::future::Future;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::RedisError;

use super::connection::Connector;

/// Why a Redis call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Redis (or the connection) answered with an error.
    #[error(transparent)]
    Redis(#[from] RedisError),
    /// No answer within the deadline.
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
}

impl CallError {
    /// The deadline passed: ours, or the connection's own response timeout (the same
    /// deadline) that fired first.
    pub fn is_timeout(&self) -> bool {
        match self {
            CallError::TimedOut(_) => true,
            CallError::Redis(error) => error.is_timeout(),
        }
    }
}

/// Runs `f` on a connection of `connector`, all within `timeout`.
pub async fn with_deadline<T, F, Fut>(
    connector: &Connector,
    timeout: Duration,
    f: F,
) -> Result<T, CallError>
where
    F: FnOnce(ConnectionManager) -> Fut,
    Fut: Future<Output = Result<T, RedisError>>,
{
    let attempt = async {
        let conn = connector.get().await?;
        f(conn).await
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            connector.failed(Some(&error));
            Err(CallError::Redis(error))
        }
        Err(_) => {
            connector.failed(None);
            Err(CallError::TimedOut(timeout))
        }
    }
}
