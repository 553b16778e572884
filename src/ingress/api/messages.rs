//! The outbound API's routes: create (queue texts), show (one text's status), cancel (a
//! scheduled text). Each refusal is an [`ApiError`]; each 503 is logged, with its cause, here.

use crate::domain::window::TopicWindow;
use crate::outbound::window::hold;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::error::ApiError;
use super::request::parse;
use super::{addressed, authorize, unavailable, REDIS_UNAVAILABLE};
use crate::actors::messages::EnqueueOutbound;
use crate::domain::{is_outbound_id, now_ms, NewText, OutboundStatus};
use crate::errors::Chain;
use crate::ingress::body;
use crate::ingress::error::IngressError;
use crate::ingress::state::IngressState;
use crate::outbound::lookup::lookup;
use crate::outbound::outbox::{Accepted, OutboxError};
use crate::outbound::schedule::{cancel as cancel_text, Cancelled};

/// Largest request body (bytes); larger gets 413.
pub(super) const MAX_API_BODY_BYTES: usize = 1024 * 1024;

/// `POST /api/topics/{topic}/messages`.
pub(super) async fn create(
    request: HttpRequest,
    topic: web::Path<String>,
    payload: web::Payload,
    state: web::Data<IngressState>,
) -> Result<HttpResponse, ApiError> {
    let (topic, body) = read_request(&request, &topic, payload, &state).await?;
    let now = now_ms();
    let texts = parse(&body, now)?;
    let accepted = accept(&state, &topic, texts, now, None).await?;
    Ok(HttpResponse::Accepted().json(json!({ "messages": accepted })))
}

/// The topic and JSON body of a request that queues texts, unless it is refused (token,
/// unknown topic, shutting down, not JSON, too large or too slow).
pub(super) async fn read_request(
    request: &HttpRequest,
    topic: &str,
    payload: web::Payload,
    state: &IngressState,
) -> Result<(String, web::Bytes), ApiError> {
    authorize(request, state)?;
    let topic = state.topic(topic)?.name.clone();
    if state.is_draining() {
        return Err(ApiError::Unavailable("shutting down"));
    }
    if !is_json(request) {
        return Err(ApiError::NotJson);
    }
    let body = body::read(request, payload, MAX_API_BODY_BYTES, state.request_timeout)
        .await
        .map_err(|e| match e {
            IngressError::TooLarge(_) => ApiError::TooLarge(MAX_API_BODY_BYTES),
            IngressError::Timeout => ApiError::Timeout,
            other => ApiError::BadBody(other.to_string()),
        })?;
    Ok((topic, body))
}

/// Holds `texts` to their quiet hours (`own`, else the topic's `send_window`), queues them (all
/// or none) and counts what was done with each.
pub(super) async fn accept(
    state: &IngressState,
    topic: &str,
    mut texts: Vec<NewText>,
    now: u64,
    own: Option<TopicWindow>,
) -> Result<Vec<Accepted>, ApiError> {
    let window = match &own {
        Some(own) => Some(own),
        None => state.topics.get(topic).and_then(|t| t.window.as_ref()),
    };
    hold(&mut texts, window, now);
    let count = texts.len();
    let accepted = queue(state, topic, texts).await?;
    for text in &accepted {
        let result = match text.status {
            _ if text.repeated => "duplicate",
            OutboundStatus::Queued => "queued",
            OutboundStatus::Scheduled => "scheduled",
            OutboundStatus::OptedOut => "opted_out",
            // The enqueue script answers nothing else for a new text.
            _ => "duplicate",
        };
        let labels = [topic, result];
        state
            .metrics
            .outbound_accepted
            .with_label_values(&labels)
            .inc();
    }
    log::info!("Outbound texts accepted. topic={topic} count={count}");
    Ok(accepted)
}

/// Queues `texts` through this thread's queue actor: all of them or none.
async fn queue(
    state: &IngressState,
    topic: &str,
    texts: Vec<NewText>,
) -> Result<Vec<Accepted>, ApiError> {
    let count = texts.len();
    let request = EnqueueOutbound {
        topic: topic.to_string(),
        texts,
    };
    let queued = match state.queue.send(request).await {
        Ok(queued) => queued,
        Err(gone) => {
            log::warn!("Outbound texts not queued: the queue actor is gone; answered 503. topic={topic} count={count} error={gone}");
            return Err(ApiError::Unavailable(
                "the texts could not be queued; nothing was queued",
            ));
        }
    };
    queued.map_err(|error| refused(topic, count, error))
}

/// The answer to a batch the outbox did not take, logged when it is a 503.
fn refused(topic: &str, count: usize, error: OutboxError) -> ApiError {
    let error = match error {
        OutboxError::KeyReused { index } => return ApiError::KeyReused { index },
        OutboxError::Partial { queued, source } => {
            log::warn!(
                "Outbound texts queued in part; answered 503 with the ids queued. topic={topic} count={count} queued={} error={}",
                queued.len(),
                Chain(&*source)
            );
            return ApiError::Partial(queued);
        }
        other => other,
    };
    let answer = match &error {
        OutboxError::Full(_) => "the topic's queue is full; try again later",
        OutboxError::BulkFull(_) => {
            "the topic's bulk queue holds max_bulk_depth texts; try again once it drains"
        }
        OutboxError::NotReplicated(_) => {
            "the texts were written but not confirmed by enough replicas and may still be sent; \
             send again with the same idempotency keys to be sure of one text each"
        }
        _ => "the texts could not be queued; nothing was queued",
    };
    log::warn!(
        "Outbound texts not queued; answered 503. topic={topic} count={count} error={}",
        Chain(&error)
    );
    ApiError::Unavailable(answer)
}

/// `GET /api/topics/{topic}/messages/{id}`.
pub(super) async fn show(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<IngressState>,
) -> Result<HttpResponse, ApiError> {
    let (topic, id) = one_text(&request, path, &state)?;
    let mut conn = state.redis.clone();
    match lookup(&mut conn, &state.keys, &topic, &id).await {
        Ok(Some(view)) => Ok(HttpResponse::Ok().json(view)),
        Ok(None) => Err(ApiError::NoSuchText),
        Err(e) => {
            let what = "Outbound status not read";
            Err(unavailable(what, &topic, &e, REDIS_UNAVAILABLE))
        }
    }
}

/// `DELETE /api/topics/{topic}/messages/{id}`.
pub(super) async fn cancel(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<IngressState>,
) -> Result<HttpResponse, ApiError> {
    let (topic, id) = one_text(&request, path, &state)?;
    let mut conn = state.redis.clone();
    match cancel_text(&mut conn, &state.keys, &topic, &id).await {
        Ok(Cancelled::Cancelled) => {
            log::info!("Scheduled text cancelled. topic={topic} id={id}");
            Ok(HttpResponse::NoContent().finish())
        }
        Ok(Cancelled::Missing) => Err(ApiError::NoSuchText),
        Ok(Cancelled::TooLate(status)) => Err(ApiError::TooLate(status)),
        Err(e) => {
            let what = "Outbound text not cancelled";
            Err(unavailable(what, &topic, &e, REDIS_UNAVAILABLE))
        }
    }
}

/// The topic and id of a request about one text, unless it is refused.
fn one_text(
    request: &HttpRequest,
    path: web::Path<(String, String)>,
    state: &IngressState,
) -> Result<(String, String), ApiError> {
    addressed(request, path, state, is_outbound_id, ApiError::NoSuchText)
}

fn is_json(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}
