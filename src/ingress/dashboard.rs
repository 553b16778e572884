//! The dashboard: `GET /dashboard` (one self-contained page, no build step) and the JSON behind
//! it, `GET /dashboard/api/overview` and `POST /dashboard/api/topics/{topic}/dead/{sid}/requeue`.
//! It shows message texts, so it is off (404) unless the profile sets `dashboard_token`, and
//! every API call needs `Authorization: Bearer <token>` (compared in constant time). Numbers are
//! masked in everything it returns.

use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, HttpRequest, HttpResponse};
use redis::AsyncCommands;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::IngressState;
use crate::domain::record::DeadLetter;
use crate::store::dead_letters::requeue;
use crate::store::overview::overview;

const PAGE: &str = include_str!("../../static/dashboard.html");

/// Registers the dashboard's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard", web::get().to(page))
        .route("/dashboard/api/overview", web::get().to(api_overview))
        .route(
            "/dashboard/api/topics/{topic}/dead/{sid}/requeue",
            web::post().to(api_requeue),
        );
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({"error": "the dashboard is off (set dashboard_token)"}))
}

/// The answer refusing the request, unless the dashboard is on and the request carries its
/// token (then `None`).
fn refusal(request: &HttpRequest, state: &IngressState) -> Option<HttpResponse> {
    let Some(token) = &state.dashboard_token else {
        return Some(not_found());
    };
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
        None
    } else {
        Some(
            HttpResponse::Unauthorized().json(json!({"error": "missing or wrong dashboard token"})),
        )
    }
}

async fn page(state: web::Data<IngressState>) -> HttpResponse {
    if state.dashboard_token.is_none() {
        return not_found();
    }
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(PAGE)
}

async fn api_overview(request: HttpRequest, state: web::Data<IngressState>) -> HttpResponse {
    if let Some(response) = refusal(&request, &state) {
        return response;
    }
    let topics: Vec<String> = state.topics.keys().cloned().collect();
    let mut conn = state.redis.clone();
    match overview(&mut conn, &state.keys, &topics).await {
        Ok(overview) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(overview),
        Err(e) => {
            log::warn!("Dashboard could not read Redis. error={e}");
            HttpResponse::ServiceUnavailable().json(json!({"error": "redis is unavailable"}))
        }
    }
}

async fn api_requeue(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<IngressState>,
) -> HttpResponse {
    if let Some(response) = refusal(&request, &state) {
        return response;
    }
    let (topic, sid) = path.into_inner();
    if !state.topics.contains_key(&topic) {
        return HttpResponse::NotFound().json(json!({"error": format!("unknown topic `{topic}`")}));
    }
    let mut conn = state.redis.clone();
    let raw: redis::RedisResult<Option<String>> =
        conn.get(state.keys.dead_entry(&topic, &sid)).await;
    let letter = match raw {
        Ok(raw) => raw.and_then(|r| serde_json::from_str::<DeadLetter>(&r).ok()),
        Err(e) => {
            log::warn!("Dashboard could not read Redis. error={e}");
            return HttpResponse::ServiceUnavailable()
                .json(json!({"error": "redis is unavailable"}));
        }
    };
    let Some(letter) = letter else {
        return HttpResponse::NotFound().json(json!({"error": format!("no dead letter `{sid}`")}));
    };
    let requeued: redis::RedisResult<Option<String>> = requeue(&state.keys, &topic, &sid, &letter)
        .invoke_async(&mut conn)
        .await;
    match requeued {
        Ok(Some(job_id)) => {
            log::info!(
                "Dead letter re-queued from the dashboard. topic={topic} sid={sid} job_id={job_id}"
            );
            HttpResponse::Ok().json(json!({"requeued": sid, "job_id": job_id}))
        }
        Ok(None) => {
            HttpResponse::NotFound().json(json!({"error": format!("no dead letter `{sid}`")}))
        }
        Err(e) => {
            log::warn!("Dashboard could not re-queue. error={e}");
            HttpResponse::ServiceUnavailable().json(json!({"error": "redis is unavailable"}))
        }
    }
}
