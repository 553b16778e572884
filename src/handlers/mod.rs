//! Handlers turn a message into a reply. Built in: `echo` and `reply`; a Rust program may register
//! its own by name. A topic names its handler in settings, either by name or as a table with
//! `kind` and options; the factory checks the options once, at start-up.

mod context;
mod echo;
mod error;
mod from_fn;
mod handler;
mod reply;
mod webhook;

use std::collections::HashMap;
use std::sync::Arc;

pub use context::HandlerContext;
pub(crate) use context::SendFn;
pub(crate) use echo::Echo;
pub use error::HandlerError;
pub use from_fn::from_fn;
pub use handler::Handler;
pub(crate) use reply::Template;
pub(crate) use reply::{parse as parse_template, Piece as TemplatePiece};
pub(crate) use webhook::Webhook;

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
