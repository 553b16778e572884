//! What a worker's steps share: the worker's dependencies and how a job's processing ended.
//! Kept apart so that the attempt and the ending import it, not the actor that calls them.

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;

use crate::actors::recorder::Recorder;
use crate::actors::sender::TwilioSender;
use crate::metrics::Metrics;
use crate::topics::Topic;

/// What a worker needs besides its job; cloned into each job's future.
#[derive(Clone)]
pub(crate) struct WorkerDeps {
    /// The topic worked.
    pub topic: Arc<Topic>,
    /// Sends replies.
    pub sender: Addr<TwilioSender>,
    /// Records outcomes and acknowledges jobs.
    pub recorder: Addr<Recorder>,
    /// This process's consumer name in the topic's group.
    pub consumer: String,
    /// How long to keep trying to record an outcome while Redis is away.
    pub record_patience: Duration,
    /// How long records (and a held text's status) are kept (seconds).
    pub record_ttl_s: u64,
    /// `StatusCallback` of every send (`{public_url}/status/{topic}`), when `public_url` is set.
    pub status_callback: Option<String>,
    /// This process's metrics.
    pub metrics: Metrics,
}

/// How a job's processing ended.
pub(crate) enum End {
    /// Recorded (completed or dead-lettered), or left pending for a later claim.
    Done,
    /// The handler panicked; the attempt is recorded and the job must be handed out again.
    Panicked,
}
