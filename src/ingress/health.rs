//! `GET /health` (readiness): 200 when the Redis primary answers and the process takes webhooks,
//! 503 when Redis is down, only a replica answers, or the process is shutting down; the JSON
//! names the connection form (`single`, `sentinel`, `cluster`) and the primary's `host:port`. `GET /health/live` (liveness): 200 while the
//! process runs, whatever Redis does, so a platform does not restart it during a Redis outage.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::state::IngressState;
use crate::actors::messages::Ping;

/// Readiness: pings Redis through the queue actor.
pub(super) async fn health(state: web::Data<IngressState>) -> HttpResponse {
    if state.is_draining() {
        return HttpResponse::ServiceUnavailable().json(json!({"status": "draining"}));
    }
    let form = state.redis.form().name();
    match state.queue.send(Ping).await {
        Ok(Ok(pong)) if pong.primary => HttpResponse::Ok().json(json!({
            "status": "ok", "redis": "up", "form": pong.form, "primary": pong.address,
        })),
        // A demoted node answers but takes no writes: not ready until the primary is found.
        Ok(Ok(pong)) => HttpResponse::ServiceUnavailable().json(json!({
            "status": "unavailable", "redis": "no primary", "form": pong.form,
            "node": pong.address,
        })),
        _ => HttpResponse::ServiceUnavailable()
            .json(json!({"status": "unavailable", "redis": "down", "form": form})),
    }
}

/// Liveness: the process answers.
pub(super) async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "alive"}))
}
