//! Handlers turn a message into a reply. Built in: `echo` and `reply`; a Rust program may register
//! its own by name. A topic names its handler in settings, either by name or as a table with
//! `kind` and options; the factory checks the options once, at start-up.

mod context;
mod echo;
mod from_fn;
mod reply;
mod webhook;

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::LocalBoxFuture;

use crate::domain::{InboundMessage, Reply};

pub use context::{HandlerContext, SendFn};
pub use echo::Echo;
pub use from_fn::{from_fn, FnHandler};
pub use reply::Template;
pub use webhook::Webhook;

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

/// Turns a message into a reply. Runs on a worker actor; must not block.
pub trait Handler: Send + Sync + 'static {
    /// Produces the reply (possibly none) for one message.
    fn handle<'a>(
        &'a self,
        message: &'a InboundMessage,
        context: &'a HandlerContext,
    ) -> LocalBoxFuture<'a, Result<Reply, HandlerError>>;
}

/// Builds a handler from its settings options (the table without `kind`).
pub type HandlerFactory =
    Arc<dyn Fn(&toml::Table) -> Result<Arc<dyn Handler>, String> + Send + Sync>;

/// Handler kinds by name: the built-ins plus any a Rust program registers.
#[derive(Clone)]
pub struct HandlerRegistry {
    factories: HashMap<String, HandlerFactory>,
}

impl Default for HandlerRegistry {
    fn default() -> Self {
        let mut registry = HandlerRegistry {
            factories: HashMap::new(),
        };
        registry.register("echo", Arc::new(Echo::from_options));
        registry.register("reply", Arc::new(Template::from_options));
        registry.register("webhook", Arc::new(Webhook::from_options));
        registry
    }
}

impl HandlerRegistry {
    /// Registers (or replaces) a handler kind.
    pub fn register(&mut self, kind: impl Into<String>, factory: HandlerFactory) {
        self.factories.insert(kind.into(), factory);
    }

    /// Builds the handler of a kind with its options.
    pub fn build(&self, kind: &str, options: &toml::Table) -> Result<Arc<dyn Handler>, String> {
        match self.factories.get(kind) {
            Some(factory) => factory(options),
            None => {
                let mut known: Vec<_> = self.factories.keys().map(String::as_str).collect();
                known.sort_unstable();
                Err(format!(
                    "is not a known handler `{kind}` (known: {})",
                    known.join(", ")
                ))
            }
        }
    }
}
