//! What every request handler can reach: the state all HTTP worker threads share, and each
//! thread's own validator and queue actors.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix::{Actor, Addr};

use super::error::UnknownTopic;
use crate::actors::queue::RedisQueue;
use crate::actors::recorder::Recorder;
use crate::actors::validator::Validator;
use crate::metrics::Metrics;
use crate::settings::Secret;
use crate::store::keys::Keys;
use crate::store::limits::QueueLimits;
use crate::store::target::RedisTarget;
use crate::topics::{Topic, Topics};

/// What all HTTP worker threads share.
pub(crate) struct IngressShared {
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
    pub redis: crate::store::connection::RedisConn,
    /// Where each queue actor opens its own connection.
    pub redis_target: RedisTarget,
    /// Key builder.
    pub keys: Keys,
    /// What the queue actors write under: de-duplication, depth, how long statuses are kept.
    pub limits: QueueLimits,
    /// The outbound API's token; the `/api` routes answer 404 without one.
    pub api_token: Option<Secret>,
}

/// What every request handler can reach: the shared parts (through `Deref`) and this HTTP
/// worker thread's own validator and queue actors, so a webhook never leaves its thread.
pub(crate) struct IngressState {
    /// Runs validators, on this thread.
    pub validator: Addr<Validator>,
    /// Queues accepted messages, on this thread.
    pub queue: Addr<RedisQueue>,
    shared: Arc<IngressShared>,
}

impl IngressState {
    /// This thread's state: starts its validator and queue actors. Call on the worker thread.
    pub(crate) fn start(shared: Arc<IngressShared>) -> Self {
        let queue = RedisQueue::new(
            shared.redis.clone(),
            shared.redis_target.clone(),
            shared.metrics.redis.clone(),
            shared.keys.clone(),
            shared.limits,
        )
        .start();
        IngressState {
            validator: Validator.start(),
            queue,
            shared,
        }
    }

    /// The topic called `name`: one lookup, one answer (404) for every route.
    pub(crate) fn topic(&self, name: &str) -> Result<Arc<Topic>, UnknownTopic> {
        self.topics
            .get(name)
            .cloned()
            .ok_or_else(|| UnknownTopic::named(name))
    }

    /// Whether the process is shutting down.
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}

impl std::ops::Deref for IngressState {
    type Target = IngressShared;

    fn deref(&self) -> &IngressShared {
        &self.shared
    }
}

/// The topic a static webhook path belongs to.
pub(crate) struct WebhookTopic(pub(crate) Arc<Topic>);
