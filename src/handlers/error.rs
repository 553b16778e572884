//! Why a handler could not produce a reply.

/// Why a handler could not produce a reply; the job is retried, then dead-lettered.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HandlerError {
    /// What went wrong, for the error record (never the message body).
    pub message: String,
}

impl HandlerError {
    /// An error with the given description.
    pub fn new(message: impl Into<String>) -> Self {
        HandlerError {
            message: message.into(),
        }
    }
}
