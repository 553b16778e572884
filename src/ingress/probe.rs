//! The routes of a worker process (`--role worker`): `GET /health`, `GET /health/live` and
//! `GET /metrics`, nothing else (every other path answers 404), so that a platform can probe a
//! worker and Prometheus scrape it. `/health` is 200 when the Redis primary answers and every
//! worker pool of the process is reading its queue, 503 otherwise, naming each pool's state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};

use super::health;
use super::metrics::render;
use crate::actors::messages::{PoolState, ReportPool};
use crate::actors::pool::WorkerPool;
use crate::metrics::Metrics;
use crate::store::connection::{loggable, RedisConn};
use crate::store::keys::Keys;
use crate::store::primary::is_primary;
use crate::topics::Topics;

/// How long `/health` waits for Redis and for the pools before answering 503.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// What a worker process's routes read.
pub(crate) struct ProbeState {
    /// Every topic, by name (the gauges cover them all, as on the web side).
    pub topics: Arc<Topics>,
    /// This process's worker pools.
    pub pools: Vec<Addr<WorkerPool>>,
    /// The shared Redis connection.
    pub redis: RedisConn,
    /// Key builder.
    pub keys: Keys,
    /// This process's metrics.
    pub metrics: Metrics,
    /// Set on shutdown.
    pub draining: Arc<AtomicBool>,
}

/// Registers a worker process's routes.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(worker_health))
        .route("/health/live", web::get().to(health::live))
        .route("/metrics", web::get().to(metrics));
}

async fn metrics(state: web::Data<ProbeState>) -> HttpResponse {
    render(&state.redis, &state.keys, &state.topics, &state.metrics).await
}

/// Readiness of a worker process: Redis's primary answers and every pool reads.
async fn worker_health(state: web::Data<ProbeState>) -> HttpResponse {
    if state.draining.load(Ordering::Relaxed) {
        return HttpResponse::ServiceUnavailable().json(json!({"status": "draining"}));
    }
    let mut conn = state.redis.clone();
    let redis = actix_rt::time::timeout(HEALTH_TIMEOUT, is_primary(&mut conn)).await;
    let redis = match redis {
        Ok(Ok(true)) => "up",
        Ok(Ok(false)) => "no primary",
        Ok(Err(e)) => {
            log::debug!("Health: Redis did not answer. error={}", loggable(&e));
            "down"
        }
        Err(_) => "down",
    };
    let reports = state.pools.iter().map(|pool| pool.send(ReportPool));
    let reports = futures_util::future::join_all(reports);
    let reports = actix_rt::time::timeout(HEALTH_TIMEOUT, reports)
        .await
        .unwrap_or_default();
    let mut pools = Map::new();
    let mut reading = reports.len() == state.pools.len();
    for report in reports {
        match report {
            Ok(report) => {
                reading &= report.state == PoolState::Reading;
                pools.insert(report.topic, Value::from(report.state.as_str()));
            }
            Err(_) => reading = false,
        }
    }
    let ready = redis == "up" && reading;
    let body = json!({
        "status": if ready { "ok" } else { "unavailable" },
        "role": "worker",
        "redis": redis,
        "form": conn.form().name(),
        "pools": pools,
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
