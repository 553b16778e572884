//! The HTTP side of a process: bind the listening socket and start the HTTP server. For the web
//! roles, each HTTP worker thread has its own validator and queue actors, connections bounded by
//! `max_connections`; a worker process serves only its health and metrics routes.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, HttpServer};

use std::sync::atomic::AtomicBool;

use super::options::StartupError;
use super::workers::Parts;
use crate::ingress::probe::ProbeState;
use crate::ingress::request_log::RequestLog;
use crate::ingress::{self, IngressShared, IngressState};
use crate::settings::Profile;
use crate::settings::Secret;
use crate::store::limits::QueueLimits;
use crate::topics::Topics;

/// The web side: the state every request handler shares, and the HTTP server serving it.
pub(super) fn serve_web(
    parts: &Parts<'_>,
    topics: Arc<Topics>,
    draining: Arc<AtomicBool>,
) -> Result<(Server, u16), StartupError> {
    let (settings, profile) = (parts.settings, &parts.settings.profile);
    let token = |token: &Option<Secret>| token.clone().filter(|t| !t.expose().is_empty());
    let shared = Arc::new(IngressShared {
        topics,
        recorder: parts.recorder.clone(),
        draining,
        signatures: profile.signatures_checked(&settings.profile_name),
        public_url: profile.public_url.clone(),
        request_timeout: profile.request_timeout(),
        metrics: parts.metrics.clone(),
        dashboard_token: token(&profile.dashboard_token),
        redis: parts.shared.clone(),
        redis_target: parts.target.clone(),
        keys: parts.keys.clone(),
        limits: QueueLimits::of(profile),
        api_token: token(&profile.api_token),
    });
    serve_http(profile, shared)
}

/// The profile's listening socket (`host`, `port`, `$PORT` when 0) and the port it got.
fn bind(profile: &Profile) -> Result<(TcpListener, u16), StartupError> {
    let address = format!("{}:{}", profile.host, listen_port(profile.port));
    let bind_error = |source| StartupError::Bind {
        address: address.clone(),
        source,
    };
    let listener = TcpListener::bind(&address).map_err(bind_error)?;
    let port = listener.local_addr().map_err(bind_error)?.port();
    Ok((listener, port))
}

/// A worker process's HTTP server: `/health`, `/health/live` and `/metrics` only, on one
/// thread. When the profile's address cannot be bound (a platform's worker dyno gives no
/// port, or another process holds it) the worker runs without it, saying so: `None`.
pub(super) fn serve_probe(profile: &Profile, state: ProbeState) -> Option<(Server, u16)> {
    let (listener, port) = match bind(profile) {
        Ok(bound) => bound,
        Err(e) => {
            log::warn!(
                "Worker runs without its health and metrics routes: {}",
                crate::errors::Chain(&e)
            );
            return None;
        }
    };
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        actix_web::App::new()
            .app_data(state.clone())
            .wrap(RequestLog)
            .configure(ingress::probe::configure)
    })
    .listen(listener);
    let server = match server {
        Ok(server) => server,
        Err(e) => {
            log::warn!("Worker runs without its health and metrics routes: {e}");
            return None;
        }
    };
    let server = server
        .disable_signals()
        .workers(1)
        .max_connections(PROBE_MAX_CONNECTIONS)
        .client_request_timeout(profile.request_timeout())
        .client_disconnect_timeout(Duration::from_secs(1))
        .shutdown_timeout(1)
        .run();
    Some((server, port))
}

/// Connections a worker process's probe server holds at once: scrapers and health checks.
const PROBE_MAX_CONNECTIONS: usize = 64;

/// Binds the listening socket and starts the HTTP server; each worker thread gets its own
/// validator and queue actors. Answers the server and the port it listens on.
fn serve_http(
    profile: &Profile,
    shared: Arc<IngressShared>,
) -> Result<(Server, u16), StartupError> {
    let (listener, port) = bind(profile)?;
    let bind_error = |source| StartupError::Bind {
        address: format!("{}:{port}", profile.host),
        source,
    };
    let (workers, per_worker) = connection_limits(profile.max_connections);
    let server = HttpServer::new(move || {
        // Runs once per HTTP worker thread: its own validator and queue actors, so a
        // webhook is validated and queued without leaving its thread.
        let state = IngressState::start(shared.clone());
        crate::allocator::collect_periodically();
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
