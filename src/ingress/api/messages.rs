//! The outbound API's routes: create (queue texts), show (one text's status), cancel (a
//! scheduled text).

use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::request::{parse, Refused};
use super::{error, refusal};
use crate::actors::messages::EnqueueOutbound;
use crate::domain::{is_outbound_id, now_ms, OutboundStatus};
use crate::ingress::body;
use crate::ingress::error::IngressError;
use crate::ingress::state::IngressState;
use crate::outbound::lookup::lookup;
use crate::outbound::outbox::{OutboxError, MAX_BATCH_TEXTS};
use crate::outbound::schedule::{cancel as cancel_text, Cancelled};

/// Largest request body (bytes); larger gets 413.
pub const MAX_API_BODY_BYTES: usize = 1024 * 1024;

/// `POST /api/topics/{topic}/messages`.
pub async fn create(
    request: HttpRequest,
    topic: web::Path<String>,
    payload: web::Payload,
    state: web::Data<IngressState>,
) -> HttpResponse {
    if let Some(refused) = refusal(&request, &state) {
        return refused;
    }
    let topic = topic.into_inner();
    if !state.topics.contains_key(&topic) {
        return unknown_topic();
    }
    if state.is_draining() {
        return unavailable("shutting down");
    }
    if !is_json(&request) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content type must be application/json",
        );
    }
    let body = match body::read(&request, payload, MAX_API_BODY_BYTES, state.request_timeout).await
    {
        Ok(body) => body,
        Err(IngressError::TooLarge(_)) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the body must be at most {MAX_API_BODY_BYTES} bytes"),
            )
        }
        Err(IngressError::Timeout) => {
            return error(
                StatusCode::REQUEST_TIMEOUT,
                "the body did not arrive in time",
            )
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let texts = match parse(&body, now_ms()) {
        Ok(texts) => texts,
        Err(Refused::TooMany(n)) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("at most {MAX_BATCH_TEXTS} messages per request, got {n}"),
            )
        }
        Err(Refused::Invalid(problems)) => return HttpResponse::BadRequest().json(problems),
    };
    let count = texts.len();
    let request = EnqueueOutbound {
        topic: topic.clone(),
        texts,
    };
    match state.queue.send(request).await {
        Ok(Ok(accepted)) => {
            for text in &accepted {
                let result = match text.status {
                    OutboundStatus::Queued | OutboundStatus::Scheduled => "queued",
                    OutboundStatus::OptedOut => "opted_out",
                    _ => continue,
                };
                state
                    .metrics
                    .outbound
                    .with_label_values(&[&topic, result])
                    .inc();
            }
            log::info!("Outbound texts accepted. topic={topic} count={count}");
            HttpResponse::Accepted().json(json!({ "messages": accepted }))
        }
        Ok(Err(OutboxError::KeyReused { index })) => {
            HttpResponse::UnprocessableEntity().json(json!({
                "error": "an idempotency key was used before with another message (another to, \
                          body, media or time); nothing was queued",
                "index": index,
            }))
        }
        Ok(Err(OutboxError::Full(_))) => {
            log::warn!("Outbound texts refused: the queue is full. topic={topic} count={count}");
            unavailable("the topic's queue is full; try again later")
        }
        Ok(Err(e @ OutboxError::NotReplicated(_))) => {
            log::warn!("Outbound texts written but not confirmed by replicas; answered 503. topic={topic} count={count} error={e}");
            unavailable(
                "the texts were written but not confirmed by enough replicas and may still be sent; \
                 send again with the same idempotency keys to be sure of one text each",
            )
        }
        Ok(Err(e)) => {
            log::warn!("Outbound texts not queued. topic={topic} count={count} error={e}");
            unavailable("the texts could not be queued; nothing was queued")
        }
        Err(e) => {
            log::warn!("Outbound texts not queued. topic={topic} count={count} error={e}");
            unavailable("the texts could not be queued; nothing was queued")
        }
    }
}

/// `GET /api/topics/{topic}/messages/{id}`.
pub async fn show(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<IngressState>,
) -> HttpResponse {
    let (topic, id) = match one_text(&request, path, &state) {
        Ok(found) => found,
        Err(refused) => return *refused,
    };
    let mut conn = state.redis.clone();
    match lookup(&mut conn, &state.keys, &topic, &id).await {
        Ok(Some(view)) => HttpResponse::Ok().json(view),
        Ok(None) => no_such_text(),
        Err(e) => {
            log::warn!("Outbound status not read. topic={topic} error={e}");
            unavailable("redis is unavailable")
        }
    }
}

/// `DELETE /api/topics/{topic}/messages/{id}`.
pub async fn cancel(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<IngressState>,
) -> HttpResponse {
    let (topic, id) = match one_text(&request, path, &state) {
        Ok(found) => found,
        Err(refused) => return *refused,
    };
    let mut conn = state.redis.clone();
    match cancel_text(&mut conn, &state.keys, &topic, &id).await {
        Ok(Cancelled::Cancelled) => {
            log::info!("Scheduled text cancelled. topic={topic} id={id}");
            HttpResponse::NoContent().finish()
        }
        Ok(Cancelled::Missing) => no_such_text(),
        Ok(Cancelled::TooLate(status)) => HttpResponse::Conflict().json(json!({
            "error": "only a scheduled text can be cancelled",
            "status": status,
        })),
        Err(e) => {
            log::warn!("Outbound text not cancelled. topic={topic} error={e}");
            unavailable("redis is unavailable")
        }
    }
}

/// The topic and id of a request about one text, unless it is refused (token, unknown topic, an
/// id that no text can have).
fn one_text(
    request: &HttpRequest,
    path: web::Path<(String, String)>,
    state: &IngressState,
) -> Result<(String, String), Box<HttpResponse>> {
    if let Some(refused) = refusal(request, state) {
        return Err(Box::new(refused));
    }
    let (topic, id) = path.into_inner();
    if !state.topics.contains_key(&topic) {
        return Err(Box::new(unknown_topic()));
    }
    if !is_outbound_id(&id) {
        return Err(Box::new(no_such_text()));
    }
    Ok((topic, id))
}

fn is_json(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

fn unknown_topic() -> HttpResponse {
    error(StatusCode::NOT_FOUND, "no such topic")
}

fn no_such_text() -> HttpResponse {
    error(StatusCode::NOT_FOUND, "no such message")
}

fn unavailable(message: &str) -> HttpResponse {
    let mut answer = error(StatusCode::SERVICE_UNAVAILABLE, message);
    answer.headers_mut().insert(
        RETRY_AFTER,
        actix_web::http::header::HeaderValue::from_static("1"),
    );
    answer
}
