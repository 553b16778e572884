//! The outbound API: `POST /api/topics/{topic}/messages` queues texts pyrowire sends first,
//! `GET .../messages/{id}` tells where one stands, `DELETE .../messages/{id}` cancels a
//! scheduled one. Off (404) unless the profile sets `api_token`; every request carries
//! `Authorization: Bearer <token>`, compared in constant time, checked before the body is read.
//! `request` turns a JSON body into checked texts; `messages` holds the three routes.

mod messages;
mod request;
mod strict_json;

use actix_web::http::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::bearer;
use super::state::IngressState;

/// Registers the API's routes. Every answer under `/api` (errors and unknown paths too) carries
/// `Cache-Control: no-store`: they hold phone numbers, and no proxy or browser may keep them.
pub fn configure(cfg: &mut web::ServiceConfig) {
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
            .default_service(web::to(|| async {
                error(actix_web::http::StatusCode::NOT_FOUND, "no such route")
            })),
    );
}

/// An error answer: `{"error": message}`.
fn error(status: actix_web::http::StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": message }))
}

/// The answer refusing the request, unless the API is on and the request carries its token.
fn refusal(request: &HttpRequest, state: &IngressState) -> Option<HttpResponse> {
    let Some(token) = &state.api_token else {
        return Some(error(
            actix_web::http::StatusCode::NOT_FOUND,
            "the outbound API is off (set api_token)",
        ));
    };
    let given = bearer(request);
    // Digests are compared, so neither the length nor the content of the token leaks through
    // timing.
    let same = Sha256::digest(given.as_bytes()).ct_eq(&Sha256::digest(token.expose().as_bytes()));
    if bool::from(same) {
        return None;
    }
    let mut answer = error(
        actix_web::http::StatusCode::UNAUTHORIZED,
        "missing or wrong API token",
    );
    answer.headers_mut().insert(
        WWW_AUTHENTICATE,
        actix_web::http::header::HeaderValue::from_static("Bearer"),
    );
    Some(answer)
}
