//! Handlers from async closures, for Rust programs:
//! `from_fn(|message, context| async move { Ok(Reply::text("hi")) })`.

use std::future::Future;
use std::sync::Arc;

use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;

use super::context::HandlerContext;
use super::error::HandlerError;
use super::handler::Handler;
use crate::domain::{InboundMessage, Reply};

/// A handler made from a closure; see [`from_fn`].
pub(crate) struct FnHandler<F> {
    f: F,
}

/// Wraps `f` as a handler. It gets owned copies of the message and of the context (a cheap
/// clone that shares the job's sends), and returns the reply.
pub fn from_fn<F, Fut>(f: F) -> Arc<dyn Handler>
where
    F: Fn(InboundMessage, HandlerContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Reply, HandlerError>> + 'static,
{
    Arc::new(FnHandler { f })
}

impl<F, Fut> Handler for FnHandler<F>
where
    F: Fn(InboundMessage, HandlerContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Reply, HandlerError>> + 'static,
{
    fn handle<'a>(
        &'a self,
        message: &'a InboundMessage,
        context: &'a HandlerContext,
    ) -> LocalBoxFuture<'a, Result<Reply, HandlerError>> {
        (self.f)(message.clone(), context.clone()).boxed_local()
    }
}
