//! The trait every handler implements, built in or registered by a Rust program.

use futures_util::future::LocalBoxFuture;

use super::context::HandlerContext;
use super::error::HandlerError;
use crate::domain::{InboundMessage, Reply};

/// Turns a message into a reply. Runs on a worker actor; must not block.
pub trait Handler: Send + Sync + 'static {
    /// Produces the reply (possibly none) for one message.
    fn handle<'a>(
        &'a self,
        message: &'a InboundMessage,
        context: &'a HandlerContext,
    ) -> LocalBoxFuture<'a, Result<Reply, HandlerError>>;
}
