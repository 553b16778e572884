//! HTTP ingress (actix-web): the routes, their shared state, and how errors become responses.
//! `submit` is Twilio's inbound webhook, `status` its delivery status callback (both through
//! `webhook`, which checks signatures); `health` tells whether Redis answers; `metrics` serves
//! Prometheus; `dashboard` the page and its JSON; `request_log` logs one line per request.

mod body;
mod dashboard;
pub mod form;
mod health;
mod metrics;
pub mod request_log;
mod status;
mod submit;
pub mod webhook;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix::{Actor, Addr};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};

use crate::actors::queue::RedisQueue;
use crate::actors::recorder::Recorder;
use crate::actors::validator::Validator;
use crate::domain::topic::{Topic, Topics};
use crate::metrics::Metrics;
use crate::settings::Secret;
use crate::store::keys::Keys;
use crate::twilio::twiml;

/// Largest webhook body accepted (bytes); larger gets 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What all HTTP worker threads share.
pub struct IngressShared {
    /// Every topic, by name.
    pub topics: Arc<Topics>,
    /// Records opt-outs and delivery statuses.
    pub recorder: Addr<Recorder>,
    /// Set on shutdown: webhooks are answered 503 from then on.
    pub draining: Arc<AtomicBool>,
    /// Whether webhooks must carry a valid `X-Twilio-Signature`.
    pub signatures: bool,
    /// The base URL Twilio calls, when set (signatures are checked against it).
    pub public_url: String,
    /// How long a client may take to send a request's body.
    pub request_timeout: std::time::Duration,
    /// This process's metrics.
    pub metrics: Metrics,
    /// The dashboard's token; the dashboard is off without one.
    pub dashboard_token: Option<Secret>,
    /// The shared Redis connection, for the dashboard and the queue gauges (and the queue
    /// actors until their own connections are up).
    pub redis: redis::aio::ConnectionManager,
    /// Where each queue actor opens its own connection.
    pub redis_url: Secret,
    /// Key builder.
    pub keys: Keys,
    /// A MessageSid is not queued again within this window (seconds).
    pub dedup_ttl_s: u64,
    /// Ingress answers 503 above this many queued jobs.
    pub max_queue_depth: u64,
}

/// What every request handler can reach: the shared parts (through `Deref`) and this HTTP
/// worker thread's own validator and queue actors, so a webhook never leaves its thread.
pub struct IngressState {
    /// Runs validators, on this thread.
    pub validator: Addr<Validator>,
    /// Queues accepted messages, on this thread.
    pub queue: Addr<RedisQueue>,
    shared: Arc<IngressShared>,
}

impl IngressState {
    /// This thread's state: starts its validator and queue actors. Call on the worker thread.
    pub fn start(shared: Arc<IngressShared>) -> Self {
        let queue = RedisQueue::new(
            shared.redis.clone(),
            shared.redis_url.clone(),
            shared.keys.clone(),
            shared.dedup_ttl_s,
            shared.max_queue_depth,
        )
        .start();
        IngressState {
            validator: Validator.start(),
            queue,
            shared,
        }
    }

    /// Whether the process is shutting down.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}

impl std::ops::Deref for IngressState {
    type Target = IngressShared;

    fn deref(&self) -> &IngressShared {
        &self.shared
    }
}

/// Registers the routes on an actix-web app.
pub fn configure(cfg: &mut web::ServiceConfig, topics: &Topics) {
    // The webhooks first: each topic's path is static, matched by comparing strings (a pattern
    // costs a regex match per request) and carrying its topic; `/queue/{topic}` answers
    // any other name.
    for (name, topic) in topics {
        let resource = webhook_resource(&format!("/queue/{name}"));
        cfg.service(resource.app_data(WebhookTopic(topic.clone())));
    }
    cfg.service(webhook_resource("/queue/{topic}"))
        .route("/status/{topic}", web::post().to(status::status))
        .route("/health", web::get().to(health::health))
        .route("/health/live", web::get().to(health::live))
        .route("/metrics", web::get().to(metrics::metrics))
        .configure(dashboard::configure);
}

/// The topic a static webhook path belongs to.
pub(crate) struct WebhookTopic(pub(crate) Arc<Topic>);

fn webhook_resource(path: &str) -> actix_web::Resource {
    web::resource(path)
        .route(web::post().to(submit::submit))
        .route(web::get().to(submit::submit))
}

/// Why a webhook was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    /// No topic of that name.
    #[error("unknown topic `{0}`")]
    UnknownTopic(String),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The body is not a form.
    #[error("content type must be application/x-www-form-urlencoded")]
    UnsupportedMediaType,
    /// The signature is missing or wrong.
    #[error("missing or invalid X-Twilio-Signature")]
    Forbidden,
    /// The body is larger than allowed.
    #[error("body is larger than {0} bytes")]
    TooLarge(usize),
    /// The body did not arrive in time.
    #[error("body did not arrive in time")]
    Timeout,
    /// The message could not be queued (Redis down, queue full, shutting down).
    #[error("message could not be queued")]
    Unavailable {
        /// The topic's `error_response`, if any.
        error_response: Option<String>,
    },
}

impl IngressError {
    /// 404 for a topic name from a request path, cut to a topic name's longest (64 characters)
    /// so a stranger's 30 KB path is not echoed back or logged whole.
    pub(crate) fn unknown_topic(name: &str) -> Self {
        let cut = name.char_indices().nth(64).map_or(name.len(), |(i, _)| i);
        let suffix = if cut < name.len() { "..." } else { "" };
        IngressError::UnknownTopic(format!("{}{suffix}", &name[..cut]))
    }
}

impl ResponseError for IngressError {
    fn status_code(&self) -> StatusCode {
        match self {
            IngressError::UnknownTopic(_) => StatusCode::NOT_FOUND,
            IngressError::BadRequest(_) => StatusCode::BAD_REQUEST,
            IngressError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IngressError::Forbidden => StatusCode::FORBIDDEN,
            IngressError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            IngressError::Timeout => StatusCode::REQUEST_TIMEOUT,
            IngressError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            IngressError::Unavailable { error_response } => response
                .content_type("text/xml")
                .insert_header(("Retry-After", "1"))
                .body(twiml::respond(error_response.as_deref())),
            other => response
                .content_type("text/plain; charset=utf-8")
                .body(other.to_string()),
        }
    }
}
