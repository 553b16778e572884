//! `RedisQueue`: puts accepted jobs on their topic's stream, once per MessageSid. Ingress answers
//! Twilio only after this succeeds.
//!
//! One Lua script does it all for a batch of jobs, atomically: for each job it checks the
//! de-duplication key and, unless the job is a duplicate or the queue is full, appends the job
//! to the stream, notes the entry at the end of its sender's list (for order per sender) and sets
//! the key. Jobs are batched by group commit: while fewer than [`MAX_IN_FLIGHT`] batches of a
//! topic are in flight, a job goes at once; otherwise the jobs that arrive wait and go together
//! when a batch returns. An idle server adds no delay, and under load one round trip and one
//! script call serve many webhooks.
//!
//! Each HTTP worker thread has its own queue actor, and each opens its own connection, so the
//! connection's reader and writer run on the same thread as the webhooks it serves. Until that
//! connection is open the process's shared one is used; at the switch, new batches wait until
//! those in flight on the shared one have returned, so that batches stay in order. The script and the handing out of its answers are in
//! `batch`.

mod batch;
pub(crate) mod error;

pub(crate) use error::QueueError;

use std::collections::HashMap;
use std::time::Duration;

use crate::store::connection::RedisConn;
use actix::{Actor, ActorFutureExt, AsyncContext, Context, Handler, ResponseFuture, WrapFuture};
use tokio::sync::oneshot;

use self::batch::{answer, Pending, ENQUEUE, ENQUEUE_LUA};
use crate::actors::messages::{Enqueue, EnqueueOutbound, Enqueued, Ping, Pong};
use crate::metrics::RedisEvents;
use crate::outbound::outbox::{self, Accepted, OutboxError};
use crate::store::breaker::Breaker;
use crate::store::connection::{connect, COMMAND_TIMEOUT};
use crate::store::keys::Keys;
use crate::store::limits::QueueLimits;
use crate::store::primary::is_primary;
use crate::store::target::RedisTarget;

/// Most jobs in one script call: bounds how long the script holds Redis (a few µs per job).
pub(crate) const MAX_BATCH: usize = 64;

/// Most batches of one topic in flight at once, per thread.
pub(crate) const MAX_IN_FLIGHT: usize = 2;

/// A topic's jobs waiting to go, and how many of its batches are in flight.
#[derive(Default)]
struct TopicBatches {
    waiting: Vec<Pending>,
    in_flight: usize,
}

/// Queues jobs; one instance per HTTP worker thread.
pub(crate) struct RedisQueue {
    conn: RedisConn,
    /// Where to open this actor's own connection (`None` once it is open, or without one).
    own_connection: Option<(RedisTarget, RedisEvents)>,
    /// This actor's own connection, opened and waiting for no batch to be in flight.
    opened: Option<RedisConn>,
    keys: Keys,
    limits: QueueLimits,
    breaker: Breaker,
    topics: HashMap<String, TopicBatches>,
}

impl RedisQueue {
    /// A queue writing through `conn`, or, once it is up, through its own connection to
    /// `own_connection` (opened when the actor starts, on the actor's thread).
    pub(crate) fn new(
        conn: RedisConn,
        own_connection: RedisTarget,
        events: RedisEvents,
        keys: Keys,
        limits: QueueLimits,
    ) -> Self {
        RedisQueue {
            conn,
            own_connection: Some((own_connection, events)),
            opened: None,
            keys,
            limits,
            breaker: Breaker::default(),
            topics: HashMap::new(),
        }
    }

    /// Sends the topic's waiting jobs (up to [`MAX_BATCH`]) unless a batch is in flight; when it
    /// returns, answers each job and sends what arrived meanwhile.
    fn flush(&mut self, topic: &str, ctx: &mut Context<Self>) {
        if self.opened.is_some() {
            // Batches on the old connection finish first, so that batches stay in order.
            if self.topics.values().any(|t| t.in_flight > 0) {
                return;
            }
            self.conn = self.opened.take().expect("checked above");
        }
        let Some(batches) = self.topics.get_mut(topic) else {
            return;
        };
        if batches.in_flight >= MAX_IN_FLIGHT || batches.waiting.is_empty() {
            return;
        }
        batches.in_flight += 1;
        let count = batches.waiting.len().min(MAX_BATCH);
        let mut jobs: Vec<Pending> = batches.waiting.drain(..count).collect();
        let stream = self.keys.queue(topic);
        let mut keys = Vec::with_capacity(1 + 2 * jobs.len());
        keys.push(stream.clone());
        let mut args = Vec::with_capacity(2 + jobs.len());
        args.extend([
            self.limits.dedup_ttl_s.to_string().into_bytes(),
            self.limits.max_queue_depth.to_string().into_bytes(),
        ]);
        // Moved, not copied: after the call a job needs only its answer's channel.
        for job in &mut jobs {
            keys.push(std::mem::take(&mut job.seen));
            keys.push(std::mem::take(&mut job.sender));
            args.push(std::mem::take(&mut job.payload).into_bytes());
        }
        let mut conn = self.conn.clone();
        let call = self.breaker.clone().call(async move {
            // With `min_replica_acks`, a webhook is answered 200 only once replicas hold its
            // job (and its MessageSid mark): a failover then cannot lose what Twilio was told
            // was taken. A batch that is not confirmed is answered 503 (its jobs may still be
            // handled: they were written).
            let answers: Vec<String> = conn.run_script(&ENQUEUE, ENQUEUE_LUA, &keys, &args).await?;
            Ok::<_, QueueError>(answers)
        });
        let topic = topic.to_string();
        ctx.spawn(call.into_actor(self).map(move |result, queue, ctx| {
            answer(jobs, result, &stream);
            if let Some(batches) = queue.topics.get_mut(&topic) {
                batches.in_flight -= 1;
            }
            if queue.opened.is_some() {
                // Other topics may be waiting for this batch before the switch.
                queue.flush_all(ctx);
            } else {
                queue.flush(&topic, ctx);
            }
        }));
    }

    /// Flushes every topic with jobs waiting.
    fn flush_all(&mut self, ctx: &mut Context<Self>) {
        let waiting: Vec<String> = self
            .topics
            .iter()
            .filter(|(_, batches)| !batches.waiting.is_empty())
            .map(|(topic, _)| topic.clone())
            .collect();
        for topic in waiting {
            self.flush(&topic, ctx);
        }
    }
}

impl RedisQueue {
    /// Opens this actor's own connection; tries again every [`REOPEN_EVERY`] while it fails.
    fn open_own_connection(&mut self, ctx: &mut Context<Self>) {
        let Some((target, events)) = self.own_connection.clone() else {
            return;
        };
        let opening = async move { connect(&target, COMMAND_TIMEOUT, events).await };
        ctx.spawn(
            opening
                .into_actor(self)
                .map(|result, queue, ctx| match result {
                    Ok(conn) => {
                        queue.own_connection = None;
                        queue.opened = Some(conn);
                        queue.flush_all(ctx);
                    }
                    Err(e) => {
                        log::debug!(
                            "Queue connection not open yet; the shared one serves. error={e}"
                        );
                        ctx.run_later(REOPEN_EVERY, |queue, ctx| queue.open_own_connection(ctx));
                    }
                }),
        );
    }
}

/// How often a queue actor tries again to open its own connection.
const REOPEN_EVERY: Duration = Duration::from_secs(5);

impl Actor for RedisQueue {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Until (and unless) it is open, the shared connection serves.
        self.open_own_connection(ctx);
    }
}

impl Handler<Enqueue> for RedisQueue {
    type Result = ResponseFuture<Result<Enqueued, QueueError>>;

    fn handle(&mut self, msg: Enqueue, ctx: &mut Self::Context) -> Self::Result {
        let message = &msg.job.message;
        let payload = match serde_json::to_string(&msg.job) {
            Ok(payload) => payload,
            Err(e) => return Box::pin(std::future::ready(Err(e.into()))),
        };
        let (reply, answered) = oneshot::channel();
        let pending = Pending {
            seen: self.keys.seen(&message.topic, &message.sid),
            sender: self.keys.sender(&message.topic, &message.number),
            payload,
            reply,
        };
        let topic = &message.topic;
        match self.topics.get_mut(topic) {
            Some(batches) => batches.waiting.push(pending),
            None => {
                let batches = TopicBatches {
                    waiting: vec![pending],
                    in_flight: 0,
                };
                self.topics.insert(topic.clone(), batches);
            }
        }
        self.flush(topic, ctx);
        Box::pin(async move {
            answered
                .await
                .unwrap_or(Err(QueueError::Unexpected("batch dropped".into())))
        })
    }
}

impl Handler<Ping> for RedisQueue {
    type Result = ResponseFuture<Result<Pong, QueueError>>;

    fn handle(&mut self, _: Ping, _: &mut Self::Context) -> Self::Result {
        let mut conn = self.conn.clone();
        let breaker = self.breaker.clone();
        Box::pin(async move {
            breaker
                .call(async move {
                    let primary = is_primary(&mut conn).await?;
                    Ok(Pong {
                        form: conn.form().name(),
                        address: conn.address(),
                        primary,
                    })
                })
                .await
        })
    }
}

impl Handler<EnqueueOutbound> for RedisQueue {
    type Result = ResponseFuture<Result<Vec<Accepted>, OutboxError>>;

    /// Outbound texts go in one script call per request (up to 1000 texts), not group-committed:
    /// a request is already a batch.
    fn handle(&mut self, msg: EnqueueOutbound, _: &mut Self::Context) -> Self::Result {
        let (mut conn, keys) = (self.conn.clone(), self.keys.clone());
        let limits = self.limits;
        Box::pin(
            async move { outbox::queue(&mut conn, &keys, &msg.topic, &msg.texts, limits).await },
        )
    }
}
