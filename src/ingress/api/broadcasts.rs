//! The broadcast routes: create (texts under one broadcast id), show (counts by status), cancel
//! (every text not yet sent). A broadcast's texts are queued as `POST .../messages` queues
//! texts, each keeping its own id and status.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::error::ApiError;
use super::messages::{accept, read_request};
use super::request::parse_broadcast;
use super::{addressed, unavailable, REDIS_UNAVAILABLE};
use crate::domain::now_ms;
use crate::domain::window::{TopicWindow, WindowSpec};
use crate::ingress::state::IngressState;
use crate::outbound::broadcast::{self, is_broadcast_id};

/// `POST /api/topics/{topic}/broadcasts`.
pub(super) async fn create(
    request: HttpRequest,
    topic: web::Path<String>,
    payload: web::Payload,
    state: web::Data<IngressState>,
) -> Result<HttpResponse, ApiError> {
    let (topic, body) = read_request(&request, &topic, payload, &state).await?;
    let now = now_ms();
    let parsed = parse_broadcast(&body, now)?;
    let id = parsed.id.unwrap_or_else(broadcast::new_id);
    let mut texts = parsed.texts;
    for text in &mut texts {
        text.broadcast = Some(id.clone());
        text.window.clone_from(&parsed.window);
    }
    let own = match &parsed.window {
        Some(spec) => Some(own_window(&state, &topic, spec)?),
        None => None,
    };
    let accepted = accept(&state, &topic, texts, now, own).await?;
    log::info!(
        "Broadcast accepted. topic={topic} broadcast={id} count={}",
        accepted.len()
    );
    Ok(HttpResponse::Accepted().json(json!({ "id": id, "messages": accepted })))
}

/// `GET /api/topics/{topic}/broadcasts/{id}`.
pub(super) async fn show(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<IngressState>,
) -> Result<HttpResponse, ApiError> {
    let (topic, id) = one_broadcast(&request, path, &state)?;
    let mut conn = state.redis.clone();
    match broadcast::view(&mut conn, &state.keys, &topic, &id).await {
        Ok(Some(view)) => Ok(HttpResponse::Ok().json(view)),
        Ok(None) => Err(ApiError::NoSuchBroadcast),
        Err(e) => Err(unavailable(
            "Broadcast not read",
            &topic,
            &e,
            REDIS_UNAVAILABLE,
        )),
    }
}

/// `DELETE /api/topics/{topic}/broadcasts/{id}`.
pub(super) async fn cancel(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<IngressState>,
) -> Result<HttpResponse, ApiError> {
    let (topic, id) = one_broadcast(&request, path, &state)?;
    let mut conn = state.redis.clone();
    let ttl = state.limits.record_ttl_s;
    match broadcast::cancel(&mut conn, &state.keys, &topic, &id, ttl).await {
        Ok(Some(cancelled)) => {
            log::info!("Broadcast cancelled. topic={topic} broadcast={id} cancelled={cancelled}");
            Ok(HttpResponse::NoContent().finish())
        }
        Ok(None) => Err(ApiError::NoSuchBroadcast),
        Err(e) => Err(unavailable(
            "Broadcast not cancelled (or in part): send the DELETE again",
            &topic,
            &e,
            "redis is unavailable; part of the broadcast may be cancelled: send the DELETE again",
        )),
    }
}

/// A broadcast's own `send_window`, in the zone of its topic's `default_timezone` for numbers
/// whose zone is unknown.
fn own_window(
    state: &IngressState,
    topic: &str,
    spec: &WindowSpec,
) -> Result<TopicWindow, ApiError> {
    let window = spec
        .parse()
        .map_err(|problem| ApiError::BadBody(format!("`send_window`: {problem}")))?;
    let default_zone = state.topic(topic)?.default_zone.clone();
    Ok(TopicWindow {
        window,
        default_zone,
    })
}

fn one_broadcast(
    request: &HttpRequest,
    path: web::Path<(String, String)>,
    state: &IngressState,
) -> Result<(String, String), ApiError> {
    addressed(
        request,
        path,
        state,
        is_broadcast_id,
        ApiError::NoSuchBroadcast,
    )
}
