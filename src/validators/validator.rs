//! The trait every validator implements, built in or registered by a Rust program.

use crate::domain::InboundMessage;

/// A check on an inbound message.
pub trait Validator: Send + Sync + 'static {
    /// True when the message passes.
    fn check(&self, message: &InboundMessage) -> bool;
}
