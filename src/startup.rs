//! Building and running the actor system: connect to Redis, compile the topics, start the actors
//! a role needs, and bind the HTTP server. Tests build the same `App` as `pyrowire serve`.

use std::net::TcpListener;
use std::sync::Arc;

use actix::{Actor, SyncArbiter};
use actix_web::dev::Server;
use actix_web::{web, HttpServer};

use crate::actors::queue::RedisQueue;
use crate::actors::recorder::Recorder;
use crate::actors::topic_worker::WorkerDeps;
use crate::actors::twilio_sender::TwilioSender;
use crate::actors::validator::Validator;
use crate::actors::worker_pool::{WorkerPool, READ_BLOCK};
use crate::handlers::HandlerRegistry;
use crate::ingress::{self, IngressState};
use crate::redis_conn::{connect, redact_url, COMMAND_TIMEOUT};
use crate::redis_keys::Keys;
use crate::settings::{Settings, SettingsError};
use crate::topics::build_topics;
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
    fn serves_web(self) -> bool {
        matches!(self, Role::All | Role::Web)
    }
    fn runs_workers(self) -> bool {
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
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            role: Role::All,
            topics: Vec::new(),
            handlers: HandlerRegistry::default(),
            validators: ValidatorRegistry::default(),
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
    /// Redis could not be reached.
    #[error("failed to connect to redis at {url}")]
    Redis {
        url: String,
        #[source]
        source: redis::RedisError,
    },
    /// The listening socket could not be bound.
    #[error("failed to listen on {address}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
}

/// A built, not yet running, pyrowire process.
pub struct App {
    server: Option<Server>,
    port: Option<u16>,
}

impl App {
    /// Starts the actors for the role and binds the HTTP server (web roles). Must run inside an
    /// actix `System`.
    pub async fn build(settings: Settings, options: RunOptions) -> Result<App, StartupError> {
        let topics = Arc::new(build_topics(
            &settings,
            &options.handlers,
            &options.validators,
        )?);
        if let Some(unknown) = options.topics.iter().find(|t| !topics.contains_key(*t)) {
            return Err(StartupError::UnknownTopic(unknown.clone()));
        }
        let profile = &settings.profile;
        let keys = Keys::new(profile.redis_prefix.clone());
        let redis_error = |source| StartupError::Redis {
            url: redact_url(profile.redis.expose()),
            source,
        };
        let shared = connect(&profile.redis, COMMAND_TIMEOUT)
            .await
            .map_err(redis_error)?;
        if options.role.runs_workers() {
            let sender =
                TwilioSender::new(topics.clone(), profile.twilio_timeout(), profile.dry_run)
                    .start();
            let recorder = Recorder::new(
                shared.clone(),
                keys.clone(),
                profile.record_ttl_s,
                profile.recent_records,
            )
            .start();
            let consumer = consumer_name();
            for topic in topics.values() {
                let wanted = options.topics.is_empty() || options.topics.contains(&topic.name);
                if !wanted || topic.settings.workers == 0 {
                    continue;
                }
                let reader = connect(&profile.redis, READ_BLOCK + COMMAND_TIMEOUT)
                    .await
                    .map_err(redis_error)?;
                let deps = WorkerDeps {
                    topic: topic.clone(),
                    sender: sender.clone(),
                    recorder: recorder.clone(),
                    consumer: consumer.clone(),
                };
                let size = topic.settings.workers;
                WorkerPool::new(deps, keys.clone(), reader, size, profile.claim_idle()).start();
            }
        }
        if !options.role.serves_web() {
            return Ok(App {
                server: None,
                port: None,
            });
        }
        let queue =
            RedisQueue::new(shared, keys, profile.dedup_ttl_s, profile.max_queue_depth).start();
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        let validator = {
            let topics = topics.clone();
            SyncArbiter::start(threads, move || Validator::new(topics.clone()))
        };
        let state = web::Data::new(IngressState {
            topics,
            validator,
            queue,
        });
        let address = format!("{}:{}", profile.host, listen_port(profile.port));
        let listener = TcpListener::bind(&address).map_err(|source| StartupError::Bind {
            address: address.clone(),
            source,
        })?;
        let bind_error = |source| StartupError::Bind {
            address: address.clone(),
            source,
        };
        let port = listener.local_addr().map_err(bind_error)?.port();
        let server = HttpServer::new(move || {
            actix_web::App::new()
                .app_data(state.clone())
                .configure(ingress::configure)
        })
        .listen(listener)
        .map_err(bind_error)?
        .shutdown_timeout(settings.profile.shutdown_grace_ms.div_ceil(1000))
        .run();
        log::info!("Listening on http://{}:{port}", settings.profile.host);
        Ok(App {
            server: Some(server),
            port: Some(port),
        })
    }

    /// The port the HTTP server listens on (web roles).
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Runs until the server stops (SIGINT/SIGTERM); a worker-only process runs until a signal.
    pub async fn run(self) -> std::io::Result<()> {
        match self.server {
            Some(server) => server.await,
            None => {
                wait_for_signal().await;
                Ok(())
            }
        }
    }
}

/// `port = 0` means `$PORT` when set, else any free port.
fn listen_port(configured: u16) -> u16 {
    if configured != 0 {
        return configured;
    }
    std::env::var("PORT")
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(0)
}

/// A consumer name unique to this process run: host, pid and a random suffix.
fn consumer_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "pyrowire".into());
    format!(
        "{host}-{}-{:04x}",
        std::process::id(),
        rand::random::<u16>()
    )
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    log::info!("Shutting down on signal");
}
