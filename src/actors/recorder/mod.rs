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
use actix::{Actor, Context, Handler, ResponseFuture};
use redis::AsyncCommands;

use crate::actors::messages::{
    LoadAttempts, RecordAttempt, RecordDelivery, RecordOutcome, SetOptOut, StoreSent,
};
use crate::outbound::delivery::{record_status, store_sent, DeliveryRecorded};
use crate::store::keys::Keys;
use crate::store::opt_outs::{self, Cause};

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
    /// How long a MessageSid is remembered (seconds): a keyword is acted on once within it.
    pub dedup_ttl_s: u64,
}

/// Writes records through the shared connection.
pub(crate) struct Recorder {
    conn: RedisConn,
    keys: Keys,
    retention: Retention,
}

impl Recorder {
    /// A recorder with these retention limits.
    pub(crate) fn new(conn: RedisConn, keys: Keys, retention: Retention) -> Self {
        Recorder {
            conn,
            keys,
            retention,
        }
    }
}

impl Actor for Recorder {
    type Context = Context<Self>;
}

impl Handler<RecordOutcome> for Recorder {
    type Result = ResponseFuture<Result<(), RecordError>>;

    fn handle(&mut self, msg: RecordOutcome, _: &mut Self::Context) -> Self::Result {
        let (keys, keep) = (&self.keys, &self.retention);
        let mut conn = self.conn.clone();
        match &msg.dead {
            Some(dead) => {
                let pipe = complete::dead_lettered(keys, keep, &msg, dead);
                Box::pin(async move {
                    pipe?.query_async::<()>(&mut conn).await?;
                    Ok(())
                })
            }
            None => {
                let call = complete::completion(keys, keep, &msg);
                Box::pin(async move {
                    call?.invoke_async::<i64>(&mut conn).await?;
                    Ok(())
                })
            }
        }
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
        let (keys, dedup_ttl_s) = (self.keys.clone(), self.retention.dedup_ttl_s);
        let mut conn = self.conn.clone();
        Box::pin(async move {
            let cause = match &msg.keyword_sid {
                Some(sid) => Cause::Keyword { sid, dedup_ttl_s },
                None => Cause::Unsubscribed,
            };
            let number = &msg.number;
            let applied =
                opt_outs::apply(&mut conn, &keys, &msg.topic, number, msg.change, cause).await?;
            Ok(applied)
        })
    }
}

impl Handler<RecordDelivery> for Recorder {
    type Result = ResponseFuture<Result<DeliveryRecorded, RecordError>>;

    fn handle(&mut self, msg: RecordDelivery, _: &mut Self::Context) -> Self::Result {
        let key = self.keys.delivery(&msg.topic, &msg.outbound_sid);
        let ttl = self.retention.record_ttl_s;
        let mut conn = self.conn.clone();
        Box::pin(async move {
            let invocation = record_status(
                &key,
                &msg.status,
                msg.error_code.as_deref(),
                ttl,
                msg.known_only,
            );
            let reply = invocation.invoke_async(&mut conn).await?;
            Ok(DeliveryRecorded::from_reply(reply))
        })
    }
}
