//! What every request handler can reach: the state all HTTP worker threads share, and each
//! thread's own validator and queue actors.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix::{Actor, Addr};

use crate::actors::queue::RedisQueue;
use crate::actors::recorder::Recorder;
use crate::actors::validator::Validator;
use crate::domain::topic::{Topic, Topics};
use crate::metrics::Metrics;
use crate::settings::Secret;
use crate::store::keys::Keys;
use crate::store::target::RedisTarget;

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
    pub redis: crate::store::connection::RedisConn,
    /// Where each queue actor opens its own connection.
    pub redis_target: RedisTarget,
    /// Key builder.
    pub keys: Keys,
    /// A MessageSid is not queued again within this window (seconds).
    pub dedup_ttl_s: u64,
    /// Ingress answers 503 when this many jobs or more are queued.
    pub max_queue_depth: u64,
    /// How long an outbound text's status is kept after its time (seconds).
    pub record_ttl_s: u64,
    /// The outbound API's token; the `/api` routes answer 404 without one.
    pub api_token: Option<Secret>,
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
            shared.redis_target.clone(),
            shared.metrics.redis.clone(),
            shared.keys.clone(),
            shared.dedup_ttl_s,
            shared.max_queue_depth,
            shared.record_ttl_s,
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

/// The topic a static webhook path belongs to.
pub(crate) struct WebhookTopic(pub(crate) Arc<Topic>);
