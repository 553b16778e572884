//! `echo`: replies with the message text.

use std::sync::Arc;

use futures_util::future::{ready, LocalBoxFuture};
use futures_util::FutureExt;

use super::context::HandlerContext;
use super::error::HandlerError;
use super::handler::Handler;
use crate::domain::{InboundMessage, Reply};

/// Replies with the message text (no reply to a media-only message).
pub(crate) struct Echo;

impl Echo {
    /// `echo` takes no options.
    pub(crate) fn from_options(options: &toml::Table) -> Result<Arc<dyn Handler>, String> {
        match options.keys().next() {
            Some(key) => Err(format!("has an unknown option `{key}` (echo takes none)")),
            None => Ok(Arc::new(Echo)),
        }
    }
}

impl Handler for Echo {
    fn handle<'a>(
        &'a self,
        message: &'a InboundMessage,
        _context: &'a HandlerContext,
    ) -> LocalBoxFuture<'a, Result<Reply, HandlerError>> {
        let reply = if message.message.is_empty() {
            Reply::none()
        } else {
            Reply::text(message.message.clone())
        };
        ready(Ok(reply)).boxed_local()
    }
}
