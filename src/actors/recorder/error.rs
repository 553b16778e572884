//! Why a record could not be written: the recorder's error, shared by every message it handles.

/// Why a record could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Redis did not answer or refused the transaction.
    #[error("failed to write record to redis")]
    Redis(#[from] redis::RedisError),
    /// The record could not be serialized.
    #[error("failed to encode record")]
    Encode(#[from] serde_json::Error),
    /// The actor is gone (shutting down).
    #[error("recorder is unavailable")]
    Mailbox(#[from] actix::MailboxError),
}
