//! `GET /health` (readiness): 200 when Redis answers and the process takes webhooks, 503 when
//! Redis is down or the process is shutting down. `GET /health/live` (liveness): 200 while the
//! process runs, whatever Redis does, so a platform does not restart it during a Redis outage.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::state::IngressState;
use crate::actors::messages::Ping;

/// Readiness: pings Redis through the queue actor.
pub async fn health(state: web::Data<IngressState>) -> HttpResponse {
    if state.is_draining() {
        return HttpResponse::ServiceUnavailable().json(json!({"status": "draining"}));
    }
    match state.queue.send(Ping).await {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({"status": "ok", "redis": "up"})),
        _ => HttpResponse::ServiceUnavailable()
            .json(json!({"status": "unavailable", "redis": "down"})),
    }
}

/// Liveness: the process answers.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "alive"}))
}
