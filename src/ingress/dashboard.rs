//! The dashboard: `GET /dashboard` (a static page, no build step, with its style and script
//! under `GET /dashboard/static/`) and the JSON behind it, `GET /dashboard/api/overview` and
//! `POST /dashboard/api/topics/{topic}/dead/{sid}/requeue`. It shows message texts, so it is off
//! (404) unless the profile sets `dashboard_token`, and every API call needs
//! `Authorization: Bearer <token>` (compared in constant time). Numbers are masked in everything
//! it returns.

use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, RETRY_AFTER, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use actix_web::{web, HttpRequest, HttpResponse};
use redis::AsyncCommands;
use serde_json::json;

use super::bearer::carries;
use super::state::IngressState;
use crate::domain::record::DeadLetter;
use crate::store::dead_letters::{requeue, Requeued};
use crate::store::overview::overview;

const PAGE: &str = include_str!("../../static/dashboard.html");
const STYLE: &str = include_str!("../../static/dashboard.css");
const SCRIPT: &str = include_str!("../../static/dashboard.js");

/// The dashboard's Content-Security-Policy. The page holds a token and shows message texts, so
/// a text that slipped into the markup must not run or restyle anything: only the app's own
/// script and style files load (nothing inline), requests go only back to this server, nothing
/// may frame the page and its form submits nowhere.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// Registers the dashboard's routes.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard", web::get().to(page))
        .route("/dashboard/static/dashboard.css", web::get().to(style))
        .route("/dashboard/static/dashboard.js", web::get().to(script))
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
    if carries(request, token) {
        None
    } else {
        Some(
            HttpResponse::Unauthorized().json(json!({"error": "missing or wrong dashboard token"})),
        )
    }
}

async fn page(state: web::Data<IngressState>) -> HttpResponse {
    hardened(&state, "text/html; charset=utf-8", PAGE)
}

async fn style(state: web::Data<IngressState>) -> HttpResponse {
    hardened(&state, "text/css; charset=utf-8", STYLE)
}

async fn script(state: web::Data<IngressState>) -> HttpResponse {
    hardened(&state, "text/javascript; charset=utf-8", SCRIPT)
}

/// One of the dashboard's files with the hardening headers (404 while the dashboard is off).
fn hardened(state: &IngressState, content_type: &str, body: &'static str) -> HttpResponse {
    if state.dashboard_token.is_none() {
        return not_found();
    }
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((CONTENT_SECURITY_POLICY, POLICY))
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((X_FRAME_OPTIONS, "DENY"))
        .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((REFERRER_POLICY, "no-referrer"))
        .body(body)
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
    let max = state.limits.max_queue_depth;
    let requeued = requeue(&state.keys, &topic, &sid, &letter, max)
        .invoke_async(&mut conn)
        .await;
    requeue_answer(requeued, &topic, &sid, max)
}

/// The dashboard's answer to a re-queue the script answered (or Redis failed).
fn requeue_answer(
    requeued: redis::RedisResult<Requeued>,
    topic: &str,
    sid: &str,
    max: u64,
) -> HttpResponse {
    match requeued {
        Ok(Requeued::Queued(job_id)) => {
            log::info!(
                "Dead letter re-queued from the dashboard. topic={topic} sid={sid} job_id={job_id}"
            );
            HttpResponse::Ok().json(json!({"requeued": sid, "job_id": job_id}))
        }
        Ok(Requeued::Full) => {
            log::info!("Dead letter not re-queued: the queue is full. topic={topic} sid={sid}");
            // 503 like a webhook refused for the same reason: nothing is wrong with the request,
            // it can succeed once the workers have drained the queue.
            HttpResponse::ServiceUnavailable()
                .insert_header((RETRY_AFTER, "10"))
                .json(json!({"error": format!(
                    "the queue of `{topic}` holds max_queue_depth ({max}) jobs or more; \
                     `{sid}` stays a dead letter, try again when the queue has drained"
                )}))
        }
        Ok(Requeued::Gone) => {
            HttpResponse::NotFound().json(json!({"error": format!("no dead letter `{sid}`")}))
        }
        Err(e) => {
            log::warn!("Dashboard could not re-queue. error={e}");
            HttpResponse::ServiceUnavailable().json(json!({"error": "redis is unavailable"}))
        }
    }
}
