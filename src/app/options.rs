//! What to run (`Role`, `RunOptions`) and why starting failed (`StartupError`).

use crate::handlers::HandlerRegistry;
use crate::metrics::Metrics;
use crate::settings::SettingsError;
use crate::store::target::TargetError;
use crate::validators::ValidatorRegistry;

/// Which parts of the pipeline this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Ingress and workers.
    All,
    /// Ingress only: validate and queue.
    Web,
    /// Workers only: handle queued jobs and reply.
    Worker,
}

impl Role {
    pub(super) fn serves_web(self) -> bool {
        matches!(self, Role::All | Role::Web)
    }
    pub(super) fn runs_workers(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }
}

/// What to run.
#[derive(Clone)]
pub struct RunOptions {
    /// Which parts.
    pub role: Role,
    /// Topics whose workers run here; empty means all.
    pub topics: Vec<String>,
    /// Handler kinds (built-ins plus registered ones).
    pub handlers: HandlerRegistry,
    /// Custom validators.
    pub validators: ValidatorRegistry,
    /// Where this process's metrics are counted (and served at `/metrics`).
    pub metrics: Metrics,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            role: Role::All,
            topics: Vec::new(),
            handlers: HandlerRegistry::default(),
            validators: ValidatorRegistry::default(),
            metrics: Metrics::default(),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The settings are wrong.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// `--topic` named a topic the settings do not define.
    #[error("unknown topic `{0}` given with --topic or $TOPIC")]
    UnknownTopic(String),
    /// The Redis settings cannot be used (the CA file cannot be read).
    #[error(transparent)]
    RedisTarget(#[from] TargetError),
    /// Redis could not be reached.
    #[error("failed to connect to redis at {url}")]
    Redis {
        /// The Redis URL or sentinels, passwords removed.
        url: String,
        /// What Redis or the connection said.
        #[source]
        source: redis::RedisError,
    },
    /// The listening socket could not be bound.
    #[error("failed to listen on {address}")]
    Bind {
        /// The address that could not be bound.
        address: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
