//! `GET /health`: 200 when Redis answers, 503 otherwise, with a small JSON body.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::IngressState;
use crate::messages::Ping;

/// Pings Redis through the queue actor.
pub async fn health(state: web::Data<IngressState>) -> HttpResponse {
    match state.queue.send(Ping).await {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({"status": "ok", "redis": "up"})),
        _ => HttpResponse::ServiceUnavailable()
            .json(json!({"status": "unavailable", "redis": "down"})),
    }
}
