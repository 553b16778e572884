//! HTTP ingress (actix-web): the routes, their shared state, and how errors become responses.
//! `submit` is Twilio's inbound webhook, `status` its delivery status callback (both through
//! `webhook`, which checks signatures); `health` tells whether Redis answers; `metrics` serves
//! Prometheus; `dashboard` the page and its JSON; `api` the outbound API (texts pyrowire sends
//! first); `request_log` logs one line per request; `bearer` reads the token the dashboard and the
//! API ask for.

mod api;
mod bearer;
mod body;
mod dashboard;
mod error;
pub(crate) mod form;
mod health;
mod metrics;
pub(crate) mod probe;
pub(crate) mod request_log;
mod state;
mod status;
mod submit;
pub(crate) mod webhook;

pub(crate) use state::WebhookTopic;
pub(crate) use state::{IngressShared, IngressState};

use actix_web::web;

use crate::topics::Topics;

/// Registers the routes on an actix-web app.
pub(crate) fn configure(cfg: &mut web::ServiceConfig, topics: &Topics) {
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
        .configure(dashboard::configure)
        .configure(api::configure);
}

fn webhook_resource(path: &str) -> actix_web::Resource {
    web::resource(path)
        .route(web::post().to(submit::submit))
        .route(web::get().to(submit::submit))
}
