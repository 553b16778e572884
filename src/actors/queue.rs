//! `RedisQueue`: puts accepted jobs on their topic's stream, once per MessageSid, in one round
//! trip (a Lua script checks the de-duplication key and the queue depth, appends the job, notes
//! it at the end of its sender's list for ordering, and sets the key). Ingress answers Twilio only
//! after this succeeds.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix::{Actor, Context, Handler, ResponseFuture};
use redis::aio::ConnectionManager;
use redis::Script;

use crate::messages::{Enqueue, Enqueued, Ping};
use crate::redis_keys::Keys;

/// KEYS: seen key, stream, sender list. ARGV: dedup TTL (s), payload, max depth.
const ENQUEUE_LUA: &str = r#"
local prev = redis.call('GET', KEYS[1])
if prev then return {'dup', prev} end
if redis.call('XLEN', KEYS[2]) >= tonumber(ARGV[3]) then return {'full', ''} end
local id = redis.call('XADD', KEYS[2], '*', 'job', ARGV[2])
redis.call('RPUSH', KEYS[3], id)
redis.call('SET', KEYS[1], id, 'EX', tonumber(ARGV[1]))
return {'new', id}
"#;

/// Why a job could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Redis did not answer or refused the command.
    #[error("failed to reach redis")]
    Redis(#[from] redis::RedisError),
    /// The topic's queue holds `max_queue_depth` jobs already.
    #[error("queue `{0}` is full")]
    Full(String),
    /// The job could not be serialized.
    #[error("failed to encode job")]
    Encode(#[from] serde_json::Error),
    /// The actor is gone (shutting down).
    #[error("queue actor is unavailable")]
    Mailbox(#[from] actix::MailboxError),
    /// Redis failed moments ago; the request was not tried (see [`Breaker`]).
    #[error("redis is unavailable (failing fast until the next probe)")]
    Down,
}

/// While Redis is failing, only one request per [`Breaker::PROBE_EVERY`] tries it (and may wait
/// for the connection's timeout); the others fail at once, so Twilio gets its 503 without delay
/// and a health probe with a short timeout sees 503, not a timeout.
#[derive(Clone, Default)]
pub struct Breaker {
    failed_at: Rc<Cell<Option<Instant>>>,
}

impl Breaker {
    /// How often a request may probe a failing Redis.
    pub const PROBE_EVERY: Duration = Duration::from_millis(250);

    /// Runs `op` unless Redis failed within the last probe interval; remembers the outcome.
    pub async fn call<T>(
        self,
        op: impl Future<Output = Result<T, QueueError>>,
    ) -> Result<T, QueueError> {
        if let Some(failed_at) = self.failed_at.get() {
            if failed_at.elapsed() < Self::PROBE_EVERY {
                return Err(QueueError::Down);
            }
            // This request is the probe; the others keep failing fast meanwhile.
            self.failed_at.set(Some(Instant::now()));
        }
        let result = op.await;
        match &result {
            Err(QueueError::Redis(e)) if is_outage(e) => self.failed_at.set(Some(Instant::now())),
            _ => self.failed_at.set(None),
        }
        result
    }
}

fn is_outage(error: &redis::RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_unrecoverable_error()
}

/// Queues jobs on the shared connection.
pub struct RedisQueue {
    conn: ConnectionManager,
    keys: Keys,
    script: Script,
    dedup_ttl_s: u64,
    max_depth: u64,
    breaker: Breaker,
}

impl RedisQueue {
    /// A queue writing through `conn`.
    pub fn new(conn: ConnectionManager, keys: Keys, dedup_ttl_s: u64, max_depth: u64) -> Self {
        RedisQueue {
            conn,
            keys,
            script: Script::new(ENQUEUE_LUA),
            dedup_ttl_s,
            max_depth,
            breaker: Breaker::default(),
        }
    }
}

impl Actor for RedisQueue {
    type Context = Context<Self>;
}

impl Handler<Enqueue> for RedisQueue {
    type Result = ResponseFuture<Result<Enqueued, QueueError>>;

    fn handle(&mut self, msg: Enqueue, _: &mut Self::Context) -> Self::Result {
        let topic = msg.job.message.topic.clone();
        let seen = self.keys.seen(&topic, &msg.job.message.sid);
        let stream = self.keys.queue(&topic);
        let sender = self.keys.sender(&topic, &msg.job.message.number);
        let script = self.script.clone();
        let payload = serde_json::to_string(&msg.job);
        let (ttl, max_depth) = (self.dedup_ttl_s, self.max_depth);
        let mut conn = self.conn.clone();
        let breaker = self.breaker.clone();
        let enqueue = async move {
            let mut invocation = script.prepare_invoke();
            invocation
                .key(seen)
                .key(&stream)
                .key(sender)
                .arg(ttl)
                .arg(payload?)
                .arg(max_depth);
            let (state, id): (String, String) = invocation.invoke_async(&mut conn).await?;
            match state.as_str() {
                "dup" => Ok(Enqueued::Duplicate { id }),
                "full" => Err(QueueError::Full(stream)),
                _ => Ok(Enqueued::Queued { id }),
            }
        };
        Box::pin(async move { breaker.call(enqueue).await })
    }
}

impl Handler<Ping> for RedisQueue {
    type Result = ResponseFuture<Result<(), QueueError>>;

    fn handle(&mut self, _: Ping, _: &mut Self::Context) -> Self::Result {
        let mut conn = self.conn.clone();
        let breaker = self.breaker.clone();
        Box::pin(async move {
            breaker
                .call(async move {
                    redis::cmd("PING").query_async::<String>(&mut conn).await?;
                    Ok(())
                })
                .await
        })
    }
}
