//! Building and running the actor system: connect to Redis, compile the topics, start the actors
//! a role needs, and bind the HTTP server. Tests build the same `App` as `pyrowire serve`.
//!
//! Shutdown (SIGTERM, SIGINT, or [`ShutdownHandle::trigger`]): webhooks are answered 503 from
//! then on, the worker pools take no new jobs and finish those in flight within
//! `shutdown_grace_ms`, the HTTP server finishes its open requests and stops; jobs not finished
//! stay queued in Redis for the next start (or another process).
//!
//! `options` holds what to run and why starting failed; `workers` starts the worker side (the
//! sender and a pool per topic), `http` the web side.

mod http;
mod options;
mod workers;

pub use options::{Role, RunOptions, StartupError};

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr};
use actix_web::dev::Server;
use tokio::sync::Notify;

use crate::actors::messages::Drain;
use crate::actors::pool::WorkerPool;
use crate::actors::recorder::Recorder;
use crate::ingress::probe::ProbeState;
use crate::settings::Settings;
use crate::store::connection::{connect, RedisConn, COMMAND_TIMEOUT};
use crate::store::keys::Keys;
use crate::store::opt_outs::Ledger;
use crate::store::senders::{groups, share_ledgers, siblings};
use crate::store::target::RedisTarget;
use crate::topics::{build_topics, Topics};
use http::{serve_probe, serve_web};
use workers::{retention, start_workers, Parts, Workers};

/// The topics with their handlers and validators built; a `--topic` the settings lack is refused.
fn compile(settings: &Settings, options: &RunOptions) -> Result<Arc<Topics>, StartupError> {
    let topics = build_topics(settings, &options.handlers, &options.validators)?;
    if let Some(unknown) = options.topics.iter().find(|t| !topics.contains_key(*t)) {
        return Err(StartupError::UnknownTopic(unknown.clone()));
    }
    Ok(Arc::new(topics))
}

/// The profile's Redis form and the process's shared connection to it.
async fn open_redis(
    profile: &crate::settings::Profile,
    options: &RunOptions,
) -> Result<(RedisTarget, RedisConn), StartupError> {
    let target = RedisTarget::from_profile(profile)?;
    if target.tls_insecure() {
        log::warn!(
            "redis_tls_insecure is on: Redis's TLS certificate is not checked, so the connection can be intercepted"
        );
    }
    let events = options.metrics.redis.clone();
    match connect(&target, COMMAND_TIMEOUT, events).await {
        Ok(shared) => Ok((target, shared)),
        Err(source) => Err(StartupError::Redis {
            url: target.describe(),
            source,
        }),
    }
}

/// How this process writes opt-outs: the topics that send events, and the topics that share a
/// sender (and so a ledger).
fn ledger(settings: &Settings, keys: &Keys) -> Ledger {
    let events: HashSet<String> = settings
        .topics
        .iter()
        .filter(|(_, topic)| topic.events_url.is_some())
        .map(|(name, _)| name.clone())
        .collect();
    Ledger {
        keys: keys.clone(),
        dedup_ttl_s: settings.profile.dedup_ttl_s,
        events: Arc::new(events),
        siblings: Arc::new(siblings(settings)),
    }
}

/// Merges the opt-out ledgers of topics that send from one sender (the migration from per-topic
/// ledgers too; idempotent, see `share_ledgers`). A failure is logged: the next start tries
/// again, and every change from now on reaches every copy.
async fn share_opt_outs(shared: &RedisConn, keys: &Keys, settings: &Settings) {
    let groups = groups(settings);
    if groups.is_empty() {
        return;
    }
    let mut conn = shared.clone();
    match share_ledgers(&mut conn, keys, &groups).await {
        Ok(0) => {}
        Ok(added) => log::info!(
            "Opt-out ledgers shared by the topics of one sender: {added} entries copied. groups={groups:?}"
        ),
        Err(e) => log::warn!(
            "Failed to merge the opt-out ledgers of topics sharing a sender; trying again at the next start. error={}",
            crate::errors::Chain(&e)
        ),
    }
}

/// A built, not yet running, pyrowire process.
pub struct App {
    server: Option<Server>,
    port: Option<u16>,
    pools: Vec<Addr<WorkerPool>>,
    /// Held so that the scheduler and the events dispatcher live as long as the app (processes
    /// with workers).
    _workers: Workers,
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
        crate::allocator::collect_periodically();
        let topics = compile(&settings, &options)?;
        let profile = &settings.profile;
        let keys = Keys::new(profile.redis_prefix.clone());
        let (target, shared) = open_redis(profile, &options).await?;
        let ledger = ledger(&settings, &keys);
        share_opt_outs(&shared, &keys, &settings).await;
        let recorder = Recorder::new(
            shared.clone(),
            keys.clone(),
            retention(profile),
            ledger.clone(),
        )
        .start();
        let metrics = options.metrics.clone();
        let parts = Parts {
            settings: &settings,
            target: &target,
            keys: &keys,
            shared: &shared,
            recorder: &recorder,
            metrics: &metrics,
            ledger: Arc::new(ledger),
        };
        for topic in topics.values() {
            let validators: Vec<String> = topic.settings.validators.keys().cloned().collect();
            metrics.init_topic(&topic.name, &validators);
        }
        let workers = if options.role.runs_workers() {
            let started = start_workers(&parts, &topics, &options.topics).await;
            started.map_err(|source| StartupError::Redis {
                url: target.describe(),
                source,
            })?
        } else {
            Workers::default()
        };
        let draining = Arc::new(AtomicBool::new(false));
        let mut app = App {
            server: None,
            port: None,
            pools: workers.pools.clone(),
            _workers: workers,
            draining: draining.clone(),
            grace: profile.shutdown_grace(),
            stop: Arc::new(Notify::new()),
        };
        if options.role.serves_web() {
            let (server, port) = serve_web(&parts, topics, draining)?;
            log::info!("Listening on http://{}:{port}", profile.host);
            app.server = Some(server);
            app.port = Some(port);
        } else {
            let state = ProbeState {
                topics,
                pools: app.pools.clone(),
                redis: shared.clone(),
                keys: keys.clone(),
                metrics: metrics.clone(),
                draining,
            };
            if let Some((server, port)) = serve_probe(profile, state) {
                log::info!(
                    "Worker health and metrics on http://{}:{port} (/health, /health/live, /metrics)",
                    profile.host
                );
                app.server = Some(server);
                app.port = Some(port);
            }
        }
        Ok(app)
    }

    /// The port the HTTP server listens on (a worker process's: its health and metrics).
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
