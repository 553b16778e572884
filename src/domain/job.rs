//! The payload queued in Redis for the workers, versioned so that the format can change without
//! draining the queue.

use serde::{Deserialize, Serialize};

use super::inbound::InboundMessage;

/// Version tag of queue payloads; bump when [`Job`] changes incompatibly.
pub const JOB_VERSION: u32 = 1;

/// The payload queued in Redis for the workers; versioned so the format can change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Always [`JOB_VERSION`] when written by this build.
    pub v: u32,
    /// The inbound message.
    pub message: InboundMessage,
    /// Text to send first through the REST API (`send_on_accept`).
    #[serde(default)]
    pub accept_sms: Option<String>,
}
