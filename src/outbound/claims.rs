//! The claims before sends (`claim_send.lua`: the send marker, the opt-out check and the pace's
//! slot), batched per topic (see [`crate::store::batches`]): the sends of a topic that reach
//! their claim while a call is in flight go together in the next one, in the order they came,
//! so the pace is reserved in that order. It lives on the sender's thread, shared by the sends
//! in flight there.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, LazyLock};

use redis::Script;
use tokio::sync::oneshot;

use crate::domain::clock::now_ms;
use crate::outbound::send_error::SendError;
use crate::store::batches::{Batches, Item};
use crate::store::connection::{RedisConn, ReplicationError};
use crate::store::keys::Keys;

/// See `claim_send.lua` (after `pace_fn.lua`).
const CLAIM_LUA: &str = concat!(include_str!("pace_fn.lua"), include_str!("claim_send.lua"));
static CLAIM: LazyLock<Script> = LazyLock::new(|| Script::new(CLAIM_LUA));

/// Most sends one claim call carries (four or five commands each).
const MAX_SENDS: usize = 64;

/// One send to claim.
pub(crate) struct ClaimRequest {
    /// Its at-most-once marker.
    pub mark: String,
    /// The recipient.
    pub to: String,
    /// Its segments, for the pace.
    pub segments: u32,
    /// The topic's pace: µs per segment (0: not paced).
    pub interval_us: u64,
    /// A bulk send: it takes the pace only when the pace is free now.
    pub bulk: bool,
}

struct Waiting {
    request: ClaimRequest,
    reply: oneshot::Sender<Result<Vec<redis::Value>, SendError>>,
}

/// The sender's claims, batched per topic.
#[derive(Clone)]
pub(crate) struct Claims {
    conn: RedisConn,
    keys: Keys,
    /// How long markers are kept (seconds).
    ttl_s: u64,
    batches: Rc<RefCell<Batches<Waiting>>>,
}

impl Claims {
    /// Claims through `conn`, marking sends for `ttl_s`.
    pub(crate) fn new(conn: RedisConn, keys: Keys, ttl_s: u64) -> Self {
        Claims {
            conn,
            keys,
            ttl_s,
            batches: Rc::new(RefCell::new(Batches::new(MAX_SENDS))),
        }
    }

    /// Claims a send of `topic`: the script's answer for it, {opted_out, wait, field, value, ...}.
    pub(crate) async fn claim(
        &self,
        topic: &str,
        request: ClaimRequest,
    ) -> Result<Vec<redis::Value>, SendError> {
        let (reply, answer) = oneshot::channel();
        self.batches
            .borrow_mut()
            .push(topic, Waiting { request, reply });
        self.flush(topic);
        answer
            .await
            .unwrap_or(Err(SendError::SenderGone(actix::MailboxError::Closed)))
    }

    /// Sends `topic`'s next batch of claims, unless one is in flight.
    fn flush(&self, topic: &str) {
        let Some(batch) = self.batches.borrow_mut().next_batch(topic) else {
            return;
        };
        let claims = self.clone();
        let topic = topic.to_string();
        actix_rt::spawn(async move {
            let result = claims.call(&topic, &batch).await;
            let error = match &result {
                Err(ReplicationError::Redis(error)) => Some(error),
                _ => None,
            };
            let handed_back = claims.batches.borrow_mut().finished(&topic, batch, error);
            if let Some(batch) = handed_back {
                answer(batch, result);
            }
            claims.flush(&topic);
        });
    }

    /// One call of the claim script for `batch`.
    async fn call(
        &self,
        topic: &str,
        batch: &[Item<Waiting>],
    ) -> Result<Vec<redis::Value>, ReplicationError> {
        let interval = batch
            .first()
            .map_or(0, |item| item.value.request.interval_us);
        let mut keys = vec![self.keys.opt_outs(topic), self.keys.rate(topic)];
        let mut args = vec![
            now_ms().to_string().into_bytes(),
            self.ttl_s.to_string().into_bytes(),
            interval.to_string().into_bytes(),
        ];
        for Item { value, .. } in batch {
            keys.push(value.request.mark.clone());
            args.push(value.request.to.clone().into_bytes());
            args.push(value.request.segments.max(1).to_string().into_bytes());
            let bulk = value.request.bulk && value.request.segments > 0;
            args.push(if bulk { b"1".to_vec() } else { b"0".to_vec() });
        }
        let mut conn = self.conn.clone();
        conn.run_script(&CLAIM, CLAIM_LUA, &keys, &args).await
    }
}

/// Hands each send of a claim call its answer.
fn answer(batch: Vec<Waiting>, result: Result<Vec<redis::Value>, ReplicationError>) {
    let error = match result {
        Ok(answers) if answers.len() == batch.len() => {
            for (waiting, answer) in batch.into_iter().zip(answers) {
                let fields = match answer {
                    redis::Value::Array(fields) => fields,
                    _ => Vec::new(),
                };
                let _ = waiting.reply.send(Ok(fields));
            }
            return;
        }
        Ok(answers) => SendError::of_redis(redis::RedisError::from((
            redis::ErrorKind::TypeError,
            "the claim script answered the wrong number of sends",
            format!("{} answers for {} sends", answers.len(), batch.len()),
        ))),
        Err(error) => SendError::from(error),
    };
    if batch.len() == 1 {
        if let Some(waiting) = batch.into_iter().next() {
            let _ = waiting.reply.send(Err(error));
        }
        return;
    }
    let shared = Arc::new(error);
    for waiting in batch {
        let _ = waiting.reply.send(Err(SendError::Shared(shared.clone())));
    }
}
