//! The outbound API: `POST /api/topics/{topic}/messages` queues texts pyrowire sends first,
//! `GET .../messages/{id}` tells where one stands, `DELETE .../messages/{id}` cancels a
//! scheduled one; `POST .../broadcasts` queues texts under one broadcast id, `GET
//! .../broadcasts/{id}` counts them by status, `DELETE .../broadcasts/{id}` cancels what is not
//! sent yet. Off (404) unless the profile sets `api_token`; every request carries
//! `Authorization: Bearer <token>`, compared in constant time, checked before the body is read.
//! `request` turns a JSON body into checked texts (strictly: `strict_json`), `messages` and
//! `broadcasts` hold the routes, `error` what each refusal answers.

mod broadcasts;
mod error;
mod messages;
mod request;
mod strict_json;

use actix_web::http::header::CACHE_CONTROL;
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpRequest};

use super::bearer::carries;
use super::state::IngressState;
use error::ApiError;

/// Registers the API's routes. Every answer under `/api` (errors and unknown paths too) carries
/// `Cache-Control: no-store`: they hold phone numbers, and no proxy or browser may keep them.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    let no_store = DefaultHeaders::new().add((CACHE_CONTROL, "no-store"));
    cfg.service(
        web::scope("/api")
            .wrap(no_store)
            .route("/topics/{topic}/messages", web::post().to(messages::create))
            .route(
                "/topics/{topic}/messages/{id}",
                web::get().to(messages::show),
            )
            .route(
                "/topics/{topic}/messages/{id}",
                web::delete().to(messages::cancel),
            )
            .route(
                "/topics/{topic}/broadcasts",
                web::post().to(broadcasts::create),
            )
            .route(
                "/topics/{topic}/broadcasts/{id}",
                web::get().to(broadcasts::show),
            )
            .route(
                "/topics/{topic}/broadcasts/{id}",
                web::delete().to(broadcasts::cancel),
            )
            .default_service(web::to(|| async {
                actix_web::HttpResponse::NotFound()
                    .json(serde_json::json!({"error": "no such route"}))
            })),
    );
}

/// The topic and id of a request about one text or broadcast, unless it is refused (token,
/// unknown topic, an id that `valid` says no such thing can have: then `missing`).
fn addressed(
    request: &HttpRequest,
    path: web::Path<(String, String)>,
    state: &IngressState,
    valid: fn(&str) -> bool,
    missing: ApiError,
) -> Result<(String, String), ApiError> {
    authorize(request, state)?;
    let (topic, id) = path.into_inner();
    let topic = state.topic(&topic)?.name.clone();
    if !valid(&id) {
        return Err(missing);
    }
    Ok((topic, id))
}

/// The 503 of a request Redis failed, logged with what was not done (`what`) and the cause.
fn unavailable(
    what: &str,
    topic: &str,
    error: &dyn std::error::Error,
    answer: &'static str,
) -> ApiError {
    log::warn!(
        "{what}; answered 503. topic={topic} error={}",
        crate::errors::Chain(error)
    );
    ApiError::Unavailable(answer)
}

/// The answer of a read or cancel that Redis failed.
const REDIS_UNAVAILABLE: &str = "redis is unavailable";

/// Refuses the request unless the API is on and the request carries its token.
fn authorize(request: &HttpRequest, state: &IngressState) -> Result<(), ApiError> {
    let token = state.api_token.as_ref().ok_or(ApiError::Off)?;
    if carries(request, token) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}
