//! `Recorder`: writes each job's outcome and acknowledges the job in one call, so a job leaves
//! the queue only together with its record (and its sends' Twilio SIDs and the sender's changed
//! session, or, when it failed for good, its dead letter): see `complete`. It also keeps each
//! job's durable list of failed attempts, the SIDs of a failed attempt's sends, and reads
//! sessions for the workers. If a write fails the job stays pending and is retried or claimed
//! again later.

mod complete;
pub(crate) mod error;
mod session;

pub(crate) use error::RecordError;

use crate::store::connection::RedisConn;
use actix::{Actor, ActorFutureExt, AsyncContext, Context, Handler, ResponseFuture, WrapFuture};
use redis::AsyncCommands;

use crate::actors::messages::{
    HoldText, LoadAttempts, RecordAttempt, RecordDelivery, RecordOutcome, SetOptOut, StoreSent,
};
use crate::outbound::delivery::{record_status, store_sent, DeliveryRecorded, StatusUpdate};
use crate::outbound::window::put_back;
use crate::store::batches::Batches;
use crate::store::keys::Keys;
use crate::store::opt_outs::{self, Ledger};
use complete::Piece;

/// How long and how many records are kept.
#[derive(Debug, Clone)]
pub(crate) struct Retention {
    /// TTL of records, attempt lists (seconds).
    pub record_ttl_s: u64,
    /// How many completed MessageSids each topic lists.
    pub recent: usize,
    /// TTL of dead letters (seconds).
    pub dead_letter_ttl_s: u64,
    /// How many dead letters each topic keeps.
    pub max_dead_letters: usize,
}

/// Writes records through the shared connection.
pub(crate) struct Recorder {
    conn: RedisConn,
    keys: Keys,
    retention: Retention,
    ledger: Ledger,
    completions: Batches<Piece>,
}

impl Recorder {
    /// A recorder with these retention limits, writing opt-outs through `ledger` (which also
    /// says which topics send events).
    pub(crate) fn new(conn: RedisConn, keys: Keys, retention: Retention, ledger: Ledger) -> Self {
        Recorder {
            conn,
            keys,
            retention,
            ledger,
            completions: Batches::new(complete::MAX_JOBS),
        }
    }

    /// Sends `topic`'s next batch of completions, unless one is in flight.
    fn flush(&mut self, topic: &str, ctx: &mut Context<Self>) {
        let Some(batch) = self.completions.next_batch(topic) else {
            return;
        };
        let call = complete::completion(&self.keys, &self.retention, topic, &batch);
        let mut conn = self.conn.clone();
        let topic = topic.to_string();
        let completing = async move { call.invoke_async::<i64>(&mut conn).await.map(|_| ()) };
        ctx.spawn(
            completing
                .into_actor(self)
                .map(move |result, recorder, ctx| {
                    let error = result.as_ref().err();
                    if let Some(pieces) = recorder.completions.finished(&topic, batch, error) {
                        answer(pieces, result);
                    }
                    recorder.flush(&topic, ctx);
                }),
        );
    }
}

/// Hands each job of a completion call its outcome.
fn answer(pieces: Vec<Piece>, result: Result<(), redis::RedisError>) {
    match result {
        Ok(()) => {
            for piece in pieces {
                let _ = piece.reply.send(Ok(()));
            }
        }
        Err(error) if pieces.len() == 1 => {
            if let Some(piece) = pieces.into_iter().next() {
                let _ = piece.reply.send(Err(RecordError::Redis(error)));
            }
        }
        Err(error) => {
            let shared = std::sync::Arc::new(error);
            for piece in pieces {
                let _ = piece.reply.send(Err(RecordError::Batch(shared.clone())));
            }
        }
    }
}

impl Actor for Recorder {
    type Context = Context<Self>;
}

impl Handler<RecordOutcome> for Recorder {
    type Result = ResponseFuture<Result<(), RecordError>>;

    fn handle(&mut self, msg: RecordOutcome, ctx: &mut Self::Context) -> Self::Result {
        if let Some(dead) = &msg.dead {
            let events = self.ledger.events.contains(&msg.record.message.topic);
            let pipe = complete::dead_lettered(&self.keys, &self.retention, &msg, dead, events);
            let mut conn = self.conn.clone();
            return Box::pin(async move {
                pipe?.query_async::<()>(&mut conn).await?;
                Ok(())
            });
        }
        let (piece, outcome) = match complete::piece(&self.keys, &msg) {
            Ok(piece) => piece,
            Err(e) => return Box::pin(std::future::ready(Err(e.into()))),
        };
        let topic = &msg.record.message.topic;
        self.completions.push(topic, piece);
        self.flush(topic, ctx);
        Box::pin(async move {
            outcome
                .await
                .unwrap_or(Err(RecordError::Mailbox(actix::MailboxError::Closed)))
        })
    }
}

impl Handler<StoreSent> for Recorder {
    type Result = ResponseFuture<Result<(), RecordError>>;

    fn handle(&mut self, msg: StoreSent, _: &mut Self::Context) -> Self::Result {
        let ttl = self.retention.record_ttl_s;
        let mut conn = self.conn.clone();
        Box::pin(async move { Ok(store_sent(&mut conn, &msg.stores, ttl).await?) })
    }
}

impl Handler<HoldText> for Recorder {
    type Result = ResponseFuture<Result<(), RecordError>>;

    fn handle(&mut self, msg: HoldText, _: &mut Self::Context) -> Self::Result {
        let (mut conn, keys) = (self.conn.clone(), self.keys.clone());
        Box::pin(async move { Ok(put_back(&mut conn, &keys, &msg.held).await?) })
    }
}

impl Handler<RecordAttempt> for Recorder {
    type Result = ResponseFuture<Result<(), RecordError>>;

    fn handle(&mut self, msg: RecordAttempt, _: &mut Self::Context) -> Self::Result {
        let key = self.keys.attempts(&msg.topic, &msg.sid);
        let ttl = self.retention.record_ttl_s as i64;
        let mut conn = self.conn.clone();
        Box::pin(async move {
            redis::pipe()
                .rpush(&key, &msg.reason)
                .expire(&key, ttl)
                .query_async::<()>(&mut conn)
                .await?;
            Ok(())
        })
    }
}

impl Handler<LoadAttempts> for Recorder {
    type Result = ResponseFuture<Result<Vec<String>, RecordError>>;

    fn handle(&mut self, msg: LoadAttempts, _: &mut Self::Context) -> Self::Result {
        let key = self.keys.attempts(&msg.topic, &msg.sid);
        let mut conn = self.conn.clone();
        Box::pin(async move { Ok(conn.lrange(&key, 0, -1).await?) })
    }
}

impl Handler<SetOptOut> for Recorder {
    type Result = ResponseFuture<Result<bool, RecordError>>;

    fn handle(&mut self, msg: SetOptOut, _: &mut Self::Context) -> Self::Result {
        let ledger = self.ledger.clone();
        let mut conn = self.conn.clone();
        Box::pin(async move {
            let (topic, number) = (&msg.topic, &msg.number);
            let applied =
                opt_outs::apply(&mut conn, &ledger, topic, number, msg.change, &msg.cause).await?;
            Ok(applied)
        })
    }
}

impl Handler<RecordDelivery> for Recorder {
    type Result = ResponseFuture<Result<DeliveryRecorded, RecordError>>;

    fn handle(&mut self, msg: RecordDelivery, _: &mut Self::Context) -> Self::Result {
        let topic = &msg.topic;
        let update = StatusUpdate {
            delivery: self.keys.delivery(topic, &msg.outbound_sid),
            events: [self.keys.events(topic), self.keys.stats(topic)],
            sid: &msg.outbound_sid,
            status: &msg.status,
            error_code: msg.error_code.as_deref(),
            to: msg.to.as_deref(),
            emit: self.ledger.events.contains(topic),
        };
        let invocation = record_status(&update, self.retention.record_ttl_s, msg.known_only);
        let mut conn = self.conn.clone();
        Box::pin(async move {
            let reply = invocation.invoke_async(&mut conn).await?;
            Ok(DeliveryRecorded::from_reply(reply, &msg.topic))
        })
    }
}
