//! Building and running the actor system: connect to Redis, compile the topics, start the actors
//! a role needs, and bind the HTTP server. Tests build the same `App` as `pyrowire serve`.
//!
//! Shutdown (SIGTERM, SIGINT, or [`ShutdownHandle::trigger`]): webhooks are answered 503 from
//! then on, the worker pools take no new jobs and finish those in flight within
//! `shutdown_grace_ms`, the HTTP server finishes its open requests and stops; jobs not finished
//! stay queued in Redis for the next start (or another process).

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr};
use actix_web::dev::Server;
use actix_web::{web, HttpServer};
use tokio::sync::Notify;

use crate::actors::messages::Drain;
use crate::actors::pool::{PoolConnections, WorkerPool, READ_BLOCK};
use crate::actors::recorder::{Recorder, Retention};
use crate::actors::scheduler::Scheduler;
use crate::actors::sender::{SenderOptions, TwilioSender};
use crate::actors::worker::WorkerDeps;
use crate::domain::topic::{build_topics, Topics};
use crate::handlers::HandlerRegistry;
use crate::ingress::request_log::RequestLog;
use crate::ingress::{self, IngressShared, IngressState};
use crate::metrics::Metrics;
use crate::settings::{Profile, Settings, SettingsError};
use crate::store::connection::{connect, RedisConn, COMMAND_TIMEOUT};
use crate::store::keys::Keys;
use crate::store::target::{RedisTarget, TargetError};
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

/// A built, not yet running, pyrowire process.
pub struct App {
    server: Option<Server>,
    port: Option<u16>,
    pools: Vec<Addr<WorkerPool>>,
    /// Held so that the scheduler lives as long as the app (processes with workers).
    _scheduler: Option<Addr<Scheduler>>,
    draining: Arc<AtomicBool>,
    grace: Duration,
    stop: Arc<Notify>,
}

/// Starts a graceful shutdown of a running [`App`], as SIGTERM does.
#[derive(Clone)]
pub struct ShutdownHandle(Arc<Notify>);

impl ShutdownHandle {
    /// Begins the shutdown; [`App::run`] returns once it is done.
    pub fn trigger(&self) {
        self.0.notify_one();
    }
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
        let target = RedisTarget::from_profile(profile)?;
        if target.tls_insecure() {
            log::warn!(
                "redis_tls_insecure is on: Redis's TLS certificate is not checked, so the connection can be intercepted"
            );
        }
        let redis_error = |source| StartupError::Redis {
            url: target.describe(),
            source,
        };
        let events = options.metrics.redis.clone();
        let shared = connect(&target, COMMAND_TIMEOUT, events.clone())
            .await
            .map_err(redis_error)?;
        let recorder = Recorder::new(shared.clone(), keys.clone(), retention(profile)).start();
        let metrics = options.metrics.clone();
        let parts = Parts {
            settings: &settings,
            target: &target,
            keys: &keys,
            shared: &shared,
            recorder: &recorder,
            metrics: &metrics,
        };
        for topic in topics.values() {
            let validators: Vec<String> = topic.settings.validators.keys().cloned().collect();
            metrics.init_topic(&topic.name, &validators);
        }
        let (pools, scheduler) = if options.role.runs_workers() {
            let pools = start_pools(&parts, &topics, &options.topics)
                .await
                .map_err(redis_error)?;
            let worked: Vec<String> = topics
                .keys()
                .filter(|t| options.topics.is_empty() || options.topics.contains(*t))
                .cloned()
                .collect();
            let scheduler =
                Scheduler::new(shared.clone(), keys.clone(), worked, profile.record_ttl_s);
            (pools, Some(scheduler.start()))
        } else {
            (Vec::new(), None)
        };
        let draining = Arc::new(AtomicBool::new(false));
        let mut app = App {
            server: None,
            port: None,
            pools,
            _scheduler: scheduler,
            draining: draining.clone(),
            grace: profile.shutdown_grace(),
            stop: Arc::new(Notify::new()),
        };
        if !options.role.serves_web() {
            return Ok(app);
        }
        let shared = Arc::new(IngressShared {
            topics,
            recorder,
            draining,
            signatures: profile.signatures_checked(&settings.profile_name),
            public_url: profile.public_url.clone(),
            request_timeout: profile.request_timeout(),
            metrics: metrics.clone(),
            dashboard_token: profile
                .dashboard_token
                .clone()
                .filter(|t| !t.expose().is_empty()),
            redis: shared,
            redis_target: target.clone(),
            keys,
            dedup_ttl_s: profile.dedup_ttl_s,
            max_queue_depth: profile.max_queue_depth,
            record_ttl_s: profile.record_ttl_s,
            api_token: profile.api_token.clone().filter(|t| !t.expose().is_empty()),
        });
        let (server, port) = serve_http(profile, shared)?;
        log::info!("Listening on http://{}:{port}", settings.profile.host);
        app.server = Some(server);
        app.port = Some(port);
        Ok(app)
    }

    /// The port the HTTP server listens on (web roles).
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// A handle that shuts the app down as SIGTERM would.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.stop.clone())
    }

    /// Runs until SIGTERM, SIGINT or [`ShutdownHandle::trigger`], then shuts down gracefully.
    pub async fn run(self) -> std::io::Result<()> {
        let handle = self.server.as_ref().map(Server::handle);
        let server = self.server.map(actix_rt::spawn);
        tokio::select! {
            _ = wait_for_signal() => {}
            _ = self.stop.notified() => log::info!("Shutting down on request"),
        }
        self.draining.store(true, Ordering::Relaxed);
        let drains = futures_util::future::join_all(self.pools.iter().map(|p| p.send(Drain)));
        if actix_rt::time::timeout(self.grace, drains).await.is_err() {
            log::warn!(
                "Jobs still running after shutdown_grace_ms; they stay queued and will be claimed again. grace_ms={}",
                self.grace.as_millis()
            );
        }
        if let Some(handle) = handle {
            handle.stop(true).await;
        }
        if let Some(server) = server {
            if let Ok(result) = server.await {
                result?;
            }
        }
        log::info!("Stopped");
        Ok(())
    }
}

/// What starting the pools needs from [`App::build`].
struct Parts<'a> {
    settings: &'a Settings,
    target: &'a RedisTarget,
    keys: &'a Keys,
    shared: &'a RedisConn,
    recorder: &'a Addr<Recorder>,
    metrics: &'a Metrics,
}

/// Starts the sender and a supervised worker pool for each topic worked here (`only`: the
/// topics given with `--topic`; empty means all), each pool with its own reading connection.
async fn start_pools(
    parts: &Parts<'_>,
    topics: &Arc<Topics>,
    only: &[String],
) -> redis::RedisResult<Vec<Addr<WorkerPool>>> {
    let (profile, target, keys) = (&parts.settings.profile, parts.target, parts.keys);
    let (shared, recorder, metrics) = (parts.shared, parts.recorder, parts.metrics);
    let events = metrics.redis.clone();
    let mut pools = Vec::new();
    // The sender has a connection of its own: with `min_replica_acks`, each mark's WAIT
    // holds the connection it runs on, and must not hold up records and heartbeats.
    let sender_conn = if target.min_replica_acks > 0 {
        connect(target, COMMAND_TIMEOUT, events.clone()).await?
    } else {
        shared.clone()
    };
    let sender = TwilioSender::new(
        topics.clone(),
        sender_conn,
        keys.clone(),
        SenderOptions {
            timeout: profile.twilio_timeout(),
            dry_run: profile.dry_run,
            mark_ttl_s: profile.record_ttl_s,
        },
    )
    .start();
    let consumer = consumer_name();
    for topic in topics.values() {
        let wanted = only.is_empty() || only.contains(&topic.name);
        if !wanted || topic.settings.workers == 0 {
            continue;
        }
        let reader = connect(target, READ_BLOCK + COMMAND_TIMEOUT, events.clone()).await?;
        let deps = WorkerDeps {
            topic: topic.clone(),
            sender: sender.clone(),
            recorder: recorder.clone(),
            consumer: consumer.clone(),
            record_patience: profile.claim_idle(),
            metrics: metrics.clone(),
            status_callback: (!profile.public_url.is_empty()).then(|| {
                format!(
                    "{}/status/{}",
                    profile.public_url.trim_end_matches('/'),
                    topic.name
                )
            }),
        };
        let conns = PoolConnections {
            reader,
            shared: shared.clone(),
        };
        let size = topic.settings.workers;
        pools.push(WorkerPool::new(deps, keys.clone(), conns, size, profile.claim_idle()).start());
    }

    Ok(pools)
}

/// Binds the listening socket and starts the HTTP server; each worker thread gets its own
/// validator and queue actors. Answers the server and the port it listens on.
fn serve_http(
    profile: &Profile,
    shared: Arc<IngressShared>,
) -> Result<(Server, u16), StartupError> {
    let address = format!("{}:{}", profile.host, listen_port(profile.port));
    let bind_error = |source| StartupError::Bind {
        address: address.clone(),
        source,
    };
    let listener = TcpListener::bind(&address).map_err(bind_error)?;
    let port = listener.local_addr().map_err(bind_error)?.port();
    let (workers, per_worker) = connection_limits(profile.max_connections);
    let server = HttpServer::new(move || {
        // Runs once per HTTP worker thread: its own validator and queue actors, so a
        // webhook is validated and queued without leaving its thread.
        let state = IngressState::start(shared.clone());
        let topics = state.topics.clone();
        actix_web::App::new()
            .app_data(web::Data::new(state))
            .wrap(RequestLog)
            .configure(|cfg| ingress::configure(cfg, &topics))
    })
    .listen(listener)
    .map_err(bind_error)?
    .disable_signals()
    .workers(workers)
    .max_connections(per_worker)
    .client_request_timeout(profile.request_timeout())
    .client_disconnect_timeout(Duration::from_secs(1))
    .shutdown_timeout(profile.shutdown_grace_ms.div_ceil(1000))
    .run();
    Ok((server, port))
}

fn retention(profile: &Profile) -> Retention {
    Retention {
        record_ttl_s: profile.record_ttl_s,
        recent: profile.recent_records,
        dead_letter_ttl_s: profile.dead_letter_ttl_s,
        max_dead_letters: profile.max_dead_letters,
        dedup_ttl_s: profile.dedup_ttl_s,
    }
}

/// HTTP worker threads (one per CPU, as actix's default, but never more than connections) and
/// each one's share of `max_connections`: a thread stops accepting at its share, so connections
/// past the limit wait in the kernel's listen backlog instead of taking memory here.
fn connection_limits(max_connections: usize) -> (usize, usize) {
    /// actix-server's own upper bound on worker threads.
    const MAX_WORKERS: usize = 512;
    let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let workers = cpus.min(max_connections).clamp(1, MAX_WORKERS);
    (workers, max_connections.div_ceil(workers).max(1))
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

#[cfg(test)]
mod tests {
    use super::connection_limits;

    #[test]
    fn splits_max_connections_between_worker_threads() {
        // Arrange
        let cases = [1, 2, 3, 255, 256, 100_000];

        for max in cases {
            // Act
            let (workers, per_worker) = connection_limits(max);

            // Assert
            assert!(
                workers >= 1 && workers <= max,
                "max={max} workers={workers}"
            );
            let total = workers * per_worker;
            assert!(
                total >= max && total < max + workers,
                "max={max} workers={workers} per_worker={per_worker}"
            );
        }
    }
}
