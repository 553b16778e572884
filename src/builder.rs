//! The library's front door: a builder that loads settings.toml, registers a Rust program's own
//! handlers and validators by name, and runs the same actor system as `pyrowire serve`.
//!
//! ```no_run
//! use pyrowire::domain::Reply;
//! use pyrowire::handlers::from_fn;
//! use pyrowire::Pyrowire;
//!
//! fn main() -> Result<(), pyrowire::builder::RunError> {
//!     Pyrowire::new()
//!         .settings("settings.toml")
//!         .handler("shout", from_fn(|message, _context| async move {
//!             Ok(Reply::text(message.message.to_uppercase()))
//!         }))
//!         .run()
//! }
//! ```
//! A topic then names it: `handler = "shout"`.

use std::path::PathBuf;
use std::sync::Arc;

use crate::app::{App, Role, RunOptions, StartupError};
use crate::handlers::{Handler, HandlerFactory};
use crate::settings::{self, LoadOptions, Settings, SettingsError};
use crate::validators::{Validator, ValidatorFactory};

/// Why running stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The settings could not be loaded.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The app could not start.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// The server failed while running.
    #[error("server failed")]
    Io(#[from] std::io::Error),
}

/// Builds and runs a pyrowire server.
pub struct Pyrowire {
    load: LoadOptions,
    options: RunOptions,
}

impl Default for Pyrowire {
    fn default() -> Self {
        Pyrowire::new()
    }
}

impl Pyrowire {
    /// Settings from `$PYROWIRE_SETTINGS` or `./settings.toml`; the profile from
    /// `$PYROWIRE_PROFILE`, `$ENV` or `dev`; every role; the built-in handlers and validators.
    pub fn new() -> Self {
        let path = std::env::var_os("PYROWIRE_SETTINGS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("settings.toml"));
        Pyrowire {
            load: LoadOptions {
                path,
                profile: None,
            },
            options: RunOptions::default(),
        }
    }

    /// Reads settings from this file.
    pub fn settings(mut self, path: impl Into<PathBuf>) -> Self {
        self.load.path = path.into();
        self
    }

    /// Uses this profile.
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.load.profile = Some(name.into());
        self
    }

    /// Runs only this part of the pipeline.
    pub fn role(mut self, role: Role) -> Self {
        self.options.role = role;
        self
    }

    /// Runs workers only for these topics.
    pub fn topics(mut self, topics: Vec<String>) -> Self {
        self.options.topics = topics;
        self
    }

    /// Registers a handler under `name`, for topics that say `handler = "name"` (it takes no
    /// options).
    pub fn handler(self, name: impl Into<String>, handler: Arc<dyn Handler>) -> Self {
        let name = name.into();
        let factory = fixed(&name, handler);
        self.handler_factory(name, factory)
    }

    /// Registers a handler kind built from its settings options
    /// (`handler = { kind = "name", ... }`).
    pub fn handler_factory(mut self, name: impl Into<String>, factory: HandlerFactory) -> Self {
        self.options.handlers.register(name, factory);
        self
    }

    /// Registers a validator under `name`, for topics that list `name = "message"` among their
    /// validators (it takes no options).
    pub fn validator(self, name: impl Into<String>, validator: Arc<dyn Validator>) -> Self {
        let name = name.into();
        let factory = fixed(&name, validator);
        self.validator_factory(name, factory)
    }

    /// Registers a validator kind built from its settings options.
    pub fn validator_factory(mut self, name: impl Into<String>, factory: ValidatorFactory) -> Self {
        self.options.validators.register(name, factory);
        self
    }

    /// Loads the settings this builder points at.
    pub fn load(&self) -> Result<Settings, SettingsError> {
        settings::load(&self.load)
    }

    /// The run options (role, topics, registries) collected so far.
    pub fn options(&self) -> RunOptions {
        self.options.clone()
    }

    /// Builds the app inside the current actix `System` without running it.
    pub async fn build(self) -> Result<App, RunError> {
        let settings = self.load()?;
        Ok(App::build(settings, self.options).await?)
    }

    /// Sets up logging (the profile's `log_level`, or `RUST_LOG`), then runs until SIGTERM or
    /// SIGINT and shuts down gracefully.
    pub fn run(self) -> Result<(), RunError> {
        let settings = self.load()?;
        run(settings, self.options)
    }
}

/// A factory that hands out one ready-made handler or validator and refuses options.
#[allow(clippy::type_complexity)]
fn fixed<T: ?Sized + Send + Sync + 'static>(
    kind: &str,
    value: Arc<T>,
) -> Arc<dyn Fn(&toml::Table) -> Result<Arc<T>, String> + Send + Sync> {
    let kind = kind.to_string();
    Arc::new(move |options: &toml::Table| match options.keys().next() {
        Some(key) => Err(format!("has an unknown option `{key}` ({kind} takes none)")),
        None => Ok(value.clone()),
    })
}

/// Runs the app for loaded settings: logging, an actix `System`, the app, until a signal.
pub fn run(settings: Settings, options: RunOptions) -> Result<(), RunError> {
    init_logging(&settings.profile.log_level);
    actix_rt::System::new().block_on(async move {
        let app = App::build(settings, options).await?;
        app.run().await?;
        Ok(())
    })
}

/// Sets up `env_logger` at `level` (pyrowire at `level`, other crates at most at `info`; `RUST_LOG`, when set, wins). A program
/// that set up logging itself keeps its choice.
pub fn init_logging(level: &str) {
    let filter = log_filter(level);
    let env = env_logger::Env::default().default_filter_or(filter);
    let _ = env_logger::Builder::from_env(env).try_init();
}

/// `log_level` sets pyrowire's own level; other crates log at most at `info`, so that `debug`
/// shows pyrowire's message flow without every dependency's internals. A full filter
/// (containing `=` or `,`) is used as it is.
pub(crate) fn log_filter(level: &str) -> String {
    if level.contains(['=', ',']) {
        return level.to_string();
    }
    let others = match level.to_ascii_lowercase().as_str() {
        "debug" | "trace" => "info".to_string(),
        other => other.to_string(),
    };
    format!("{others},pyrowire={level}")
}
