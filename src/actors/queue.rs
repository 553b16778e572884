//! `RedisQueue`: puts accepted jobs on their topic's stream, once per MessageSid. Ingress answers
//! Twilio only after this succeeds.
//!
//! One Lua script does it all for a batch of jobs, atomically: for each job it checks the
//! de-duplication key, appends the job to the stream unless the queue is full, notes the entry at
//! the end of its sender's list (for order per sender) and sets the key. Jobs are batched by
//! group commit: when nothing is in flight for a topic, a job goes at once, alone; while a batch
//! is in flight, the jobs that arrive wait and go together when it returns. An idle server adds
//! no delay, and under load one round trip and one script call serve many webhooks.
//!
//! Each HTTP worker thread has its own queue actor, and each opens its own connection, so the
//! connection's reader and writer run on the same thread as the webhooks it serves (until that
//! connection is up, the process's shared one is used).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use actix::{Actor, ActorFutureExt, AsyncContext, Context, Handler, ResponseFuture, WrapFuture};
use redis::aio::ConnectionManager;
use redis::Script;
use tokio::sync::oneshot;

use super::breaker::{is_outage, Breaker, Outage};
use crate::messages::{Enqueue, Enqueued, Ping};
use crate::redis_conn::{connect, COMMAND_TIMEOUT};
use crate::redis_keys::Keys;
use crate::settings::Secret;

/// Most jobs in one script call: bounds how long the script holds Redis (a few µs per job).
pub const MAX_BATCH: usize = 64;

/// Most batches of one topic in flight at once, per thread.
pub const MAX_IN_FLIGHT: usize = 2;

/// KEYS: the stream, then per job its seen key and its sender list. ARGV: dedup TTL (s), max
/// depth, then per job its payload. Answers per job `n<id>` (queued), `d<id>` (a duplicate of
/// the entry id) or `f` (the queue is full). A new job costs three commands: the entry is added
/// first, so that `SET NX` both claims the MessageSid and records the entry's id; a duplicate's
/// entry is removed again before anyone can see it (the script is atomic).
const ENQUEUE_LUA: &str = r#"
local stream = KEYS[1]
local ttl, max = tonumber(ARGV[1]), tonumber(ARGV[2])
local depth = redis.call('XLEN', stream)
local out = {}
for i = 1, #ARGV - 2 do
  local seen, sender = KEYS[2 * i], KEYS[2 * i + 1]
  if depth >= max then
    local prev = redis.call('GET', seen)
    out[i] = prev and ('d' .. prev) or 'f'
  else
    local id = redis.call('XADD', stream, '*', 'job', ARGV[i + 2])
    if redis.call('SET', seen, id, 'NX', 'EX', ttl) then
      redis.call('RPUSH', sender, id)
      depth = depth + 1
      out[i] = 'n' .. id
    else
      redis.call('XDEL', stream, id)
      out[i] = 'd' .. redis.call('GET', seen)
    end
  end
end
return out
"#;

fn script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| Script::new(ENQUEUE_LUA))
}

/// Why a job could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Redis did not answer or refused the command (shared by every job of the batch).
    #[error("failed to reach redis")]
    Redis(#[source] Arc<redis::RedisError>),
    /// The topic's queue holds `max_queue_depth` jobs already.
    #[error("queue `{0}` is full")]
    Full(String),
    /// The job could not be serialized.
    #[error("failed to encode job")]
    Encode(#[from] serde_json::Error),
    /// The script answered something it never answers.
    #[error("unexpected answer from the enqueue script: {0}")]
    Unexpected(String),
    /// The actor is gone (shutting down).
    #[error("queue actor is unavailable")]
    Mailbox(#[from] actix::MailboxError),
    /// Redis failed moments ago; the request was not tried (see [`Breaker`]).
    #[error("redis is unavailable (failing fast until the next probe)")]
    Down,
}

impl From<redis::RedisError> for QueueError {
    fn from(error: redis::RedisError) -> Self {
        QueueError::Redis(Arc::new(error))
    }
}

impl Outage for QueueError {
    fn down() -> Self {
        QueueError::Down
    }

    fn is_outage(&self) -> bool {
        matches!(self, QueueError::Redis(e) if is_outage(e))
    }
}

/// One job waiting for its batch, its keys built and its payload encoded.
struct Pending {
    seen: String,
    sender: String,
    payload: String,
    reply: oneshot::Sender<Result<Enqueued, QueueError>>,
}

/// A topic's jobs waiting to go, and whether a batch of the topic is in flight.
#[derive(Default)]
struct TopicBatches {
    waiting: Vec<Pending>,
    in_flight: usize,
}

/// Queues jobs; one instance per HTTP worker thread.
pub struct RedisQueue {
    conn: ConnectionManager,
    /// Where to open this actor's own connection once started (taken when started).
    own_connection: Option<Secret>,
    keys: Keys,
    dedup_ttl_s: u64,
    max_depth: u64,
    breaker: Breaker,
    topics: HashMap<String, TopicBatches>,
}

impl RedisQueue {
    /// A queue writing through `conn`, or, once it is up, through its own connection to
    /// `own_connection` (opened when the actor starts, on the actor's thread).
    pub fn new(
        conn: ConnectionManager,
        own_connection: Option<Secret>,
        keys: Keys,
        dedup_ttl_s: u64,
        max_depth: u64,
    ) -> Self {
        RedisQueue {
            conn,
            own_connection,
            keys,
            dedup_ttl_s,
            max_depth,
            breaker: Breaker::default(),
            topics: HashMap::new(),
        }
    }

    /// Sends the topic's waiting jobs (up to [`MAX_BATCH`]) unless a batch is in flight; when it
    /// returns, answers each job and sends what arrived meanwhile.
    fn flush(&mut self, topic: &str, ctx: &mut Context<Self>) {
        let Some(batches) = self.topics.get_mut(topic) else {
            return;
        };
        if batches.in_flight >= MAX_IN_FLIGHT || batches.waiting.is_empty() {
            return;
        }
        batches.in_flight += 1;
        let count = batches.waiting.len().min(MAX_BATCH);
        let jobs: Vec<Pending> = batches.waiting.drain(..count).collect();
        let stream = self.keys.queue(topic);
        let mut invocation = script().prepare_invoke();
        invocation
            .key(&stream)
            .arg(self.dedup_ttl_s)
            .arg(self.max_depth);
        for job in &jobs {
            invocation.key(&job.seen).key(&job.sender).arg(&job.payload);
        }
        let mut conn = self.conn.clone();
        let call = self.breaker.clone().call(async move {
            let answers: Vec<String> = invocation.invoke_async(&mut conn).await?;
            Ok::<_, QueueError>(answers)
        });
        let topic = topic.to_string();
        ctx.spawn(call.into_actor(self).map(move |result, queue, ctx| {
            answer(jobs, result, &stream);
            if let Some(batches) = queue.topics.get_mut(&topic) {
                batches.in_flight -= 1;
            }
            queue.flush(&topic, ctx);
        }));
    }
}

/// Hands each job of a batch its outcome.
fn answer(jobs: Vec<Pending>, result: Result<Vec<String>, QueueError>, stream: &str) {
    match result {
        Ok(answers) if answers.len() == jobs.len() => {
            for (job, answer) in jobs.into_iter().zip(answers) {
                let _ = job.reply.send(outcome(answer, stream));
            }
        }
        Ok(answers) => {
            let summary = format!("{} answers for {} jobs", answers.len(), jobs.len());
            for job in jobs {
                let _ = job.reply.send(Err(QueueError::Unexpected(summary.clone())));
            }
        }
        Err(QueueError::Redis(e)) => {
            for job in jobs {
                let _ = job.reply.send(Err(QueueError::Redis(e.clone())));
            }
        }
        Err(e) => {
            let down = matches!(e, QueueError::Down);
            let text = e.to_string();
            for job in jobs {
                let error = if down {
                    QueueError::Down
                } else {
                    QueueError::Unexpected(text.clone())
                };
                let _ = job.reply.send(Err(error));
            }
        }
    }
}

/// One job's answer from the script.
fn outcome(mut answer: String, stream: &str) -> Result<Enqueued, QueueError> {
    match answer.as_bytes().first() {
        Some(b'n') => Ok(Enqueued::Queued {
            id: answer.split_off(1),
        }),
        Some(b'd') => Ok(Enqueued::Duplicate {
            id: answer.split_off(1),
        }),
        Some(b'f') => Err(QueueError::Full(stream.to_string())),
        _ => Err(QueueError::Unexpected(answer)),
    }
}

impl Actor for RedisQueue {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let Some(url) = self.own_connection.take() else {
            return;
        };
        // Until (and unless) it is up, the shared connection serves.
        let opening = async move { connect(&url, COMMAND_TIMEOUT).await };
        ctx.spawn(
            opening
                .into_actor(self)
                .map(|result, queue, _| match result {
                    Ok(conn) => queue.conn = conn,
                    Err(e) => log::debug!("Queue keeps the shared Redis connection. error={e}"),
                }),
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> (Pending, oneshot::Receiver<Result<Enqueued, QueueError>>) {
        let (reply, answered) = oneshot::channel();
        let job = Pending {
            seen: "seen".into(),
            sender: "sender".into(),
            payload: "{}".into(),
            reply,
        };
        (job, answered)
    }

    #[test]
    fn reads_each_jobs_answer_from_the_script() {
        let queued = outcome("n1700000000000-0".into(), "q");
        assert_eq!(
            queued.unwrap(),
            Enqueued::Queued {
                id: "1700000000000-0".into()
            }
        );
        let duplicate = outcome("d1700000000000-1".into(), "q");
        assert_eq!(
            duplicate.unwrap(),
            Enqueued::Duplicate {
                id: "1700000000000-1".into()
            }
        );
        assert!(matches!(outcome("f".into(), "q"), Err(QueueError::Full(s)) if s == "q"));
        assert!(matches!(
            outcome("?".into(), "q"),
            Err(QueueError::Unexpected(_))
        ));
    }

    #[test]
    fn every_job_of_a_batch_gets_its_own_answer_or_the_batchs_error() {
        let (a, a_answer) = pending();
        let (b, b_answer) = pending();
        answer(vec![a, b], Ok(vec!["n1-0".into(), "f".into()]), "q");
        assert!(matches!(
            a_answer.blocking_recv().unwrap(),
            Ok(Enqueued::Queued { .. })
        ));
        assert!(matches!(
            b_answer.blocking_recv().unwrap(),
            Err(QueueError::Full(_))
        ));

        let (a, a_answer) = pending();
        let (b, b_answer) = pending();
        answer(vec![a, b], Ok(vec!["n1-0".into()]), "q");
        for answered in [a_answer, b_answer] {
            assert!(matches!(
                answered.blocking_recv().unwrap(),
                Err(QueueError::Unexpected(_))
            ));
        }

        let (a, a_answer) = pending();
        answer(vec![a], Err(QueueError::Down), "q");
        assert!(matches!(
            a_answer.blocking_recv().unwrap(),
            Err(QueueError::Down)
        ));
    }
}
