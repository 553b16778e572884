//! Why the recorder could not do what it was asked (write a record, read a session, record an
//! opt-out or a delivery status): its error, shared by every message it handles. The caller says
//! what was being attempted; this says what failed.

/// Why the recorder could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordError {
    /// Redis did not answer or refused the request.
    #[error("redis failed the recorder's request")]
    Redis(#[from] redis::RedisError),
    /// Redis did not answer the completion call this job was batched in.
    #[error("redis failed the recorder's request")]
    Batch(#[source] std::sync::Arc<redis::RedisError>),
    /// The record could not be serialized.
    #[error("failed to encode the record")]
    Encode(#[from] serde_json::Error),
    /// The actor is gone (shutting down).
    #[error("recorder is unavailable")]
    Mailbox(#[from] actix::MailboxError),
}
