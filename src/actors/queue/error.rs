//! Why a job could not be queued: the queue actor's error, cloned to every job of a failed
//! batch, and what counts as Redis being down for the breaker.

use std::sync::Arc;

use crate::store::breaker::{is_outage, Outage};
use crate::store::connection::ReplicationError;

/// Why a job could not be queued. Cloned to every job of a failed batch.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum QueueError {
    /// Redis did not answer or refused the command (shared by every job of the batch).
    #[error("failed to reach redis")]
    Redis(#[source] Arc<redis::RedisError>),
    /// The topic's queue holds `max_queue_depth` jobs already.
    #[error("queue `{0}` is full")]
    Full(String),
    /// The job could not be serialized.
    #[error("failed to encode job")]
    Encode(#[source] Arc<serde_json::Error>),
    /// The script answered something it never answers.
    #[error("unexpected answer from the enqueue script: {0}")]
    Unexpected(String),
    /// `WAIT` did not see `min_replica_acks` replicas hold the batch in time.
    #[error("the write was not confirmed by enough replicas")]
    NotReplicated(#[source] Arc<ReplicationError>),
    /// Redis failed moments ago; the request was not tried (see [`crate::store::breaker::Breaker`]).
    #[error("redis is unavailable (failing fast until the next probe)")]
    Down,
}

impl From<redis::RedisError> for QueueError {
    fn from(error: redis::RedisError) -> Self {
        QueueError::Redis(Arc::new(error))
    }
}

impl From<serde_json::Error> for QueueError {
    fn from(error: serde_json::Error) -> Self {
        QueueError::Encode(Arc::new(error))
    }
}

impl From<ReplicationError> for QueueError {
    /// A plain Redis failure stays one (with `min_replica_acks = 0` every failure is); only too
    /// few replicas is "not replicated".
    fn from(error: ReplicationError) -> Self {
        match error {
            ReplicationError::Redis(e) => QueueError::Redis(Arc::new(e)),
            too_few => QueueError::NotReplicated(Arc::new(too_few)),
        }
    }
}

impl Outage for QueueError {
    fn down() -> Self {
        QueueError::Down
    }

    fn is_outage(&self) -> bool {
        match self {
            QueueError::Redis(e) => is_outage(e),
            _ => false,
        }
    }
}
