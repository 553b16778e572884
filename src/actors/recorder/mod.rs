//! `Recorder`: writes each job's outcome and acknowledges the job in one MULTI/EXEC, so a job
//! leaves the queue only together with its record (and, when it failed for good, its dead
//! letter, and the sender's changed session). It also keeps each job's durable list of failed
//! attempts and reads sessions for the workers. If a write fails the job stays pending and is
//! retried or claimed again later.

pub(crate) mod error;
mod session;

pub(crate) use error::RecordError;

use crate::store::connection::RedisConn;
use actix::{Actor, Context, Handler, ResponseFuture};
use redis::AsyncCommands;

use crate::actors::messages::{
    LoadAttempts, RecordAttempt, RecordDelivery, RecordOutcome, SetOptOut,
};
use crate::domain::clock::now_ms;
use crate::outbound::delivery::{record_status, DeliveryRecorded};
use crate::store::keys::{Keys, GROUP};
use crate::store::opt_outs::{self, Cause};

/// Per-minute counts are kept this long (the dashboard shows the last hour).
const MINUTE_STATS_TTL_S: i64 = 2 * 3600;

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

    fn transaction(&self, msg: &RecordOutcome) -> Result<redis::Pipeline, serde_json::Error> {
        let record = &msg.record;
        let topic = &record.message.topic;
        let sid = record.message.sid.as_str();
        let queue = self.keys.queue(topic);
        let keep = &self.retention;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .set_ex(
                self.keys.record(topic, sid),
                serde_json::to_string(record)?,
                keep.record_ttl_s,
            )
            .xack(&queue, GROUP, &[&msg.entry_id])
            .xdel(&queue, &[&msg.entry_id])
            .lrem(
                self.keys.sender(topic, &record.message.number),
                1,
                &msg.entry_id,
            )
            .del(self.keys.attempts(topic, sid));
        let outcome = record.outcome.as_str();
        let minute = self.keys.minute_stats(topic, now_ms() / 60_000 * 60_000);
        pipe.hincr(self.keys.stats(topic), outcome, 1)
            .hincr(&minute, outcome, 1)
            .expire(&minute, MINUTE_STATS_TTL_S);
        if let Some(write) = &msg.session {
            session::save(&mut pipe, &self.keys, topic, write);
        }
        match &msg.dead {
            Some(dead) => {
                let list = self.keys.dead(topic);
                let now = now_ms();
                let oldest = now.saturating_sub(keep.dead_letter_ttl_s * 1000);
                pipe.set_ex(
                    self.keys.dead_entry(topic, sid),
                    serde_json::to_string(dead)?,
                    keep.dead_letter_ttl_s,
                )
                .zadd(&list, sid, now)
                .zrembyscore(&list, "-inf", format!("({oldest}"))
                .zremrangebyrank(&list, 0, -(keep.max_dead_letters as isize) - 1);
            }
            None => {
                let list = self.keys.completed(topic);
                pipe.lpush(&list, sid)
                    .ltrim(&list, 0, keep.recent.saturating_sub(1) as isize);
            }
        }
        Ok(pipe)
    }
}

impl Actor for Recorder {
    type Context = Context<Self>;
}

impl Handler<RecordOutcome> for Recorder {
    type Result = ResponseFuture<Result<(), RecordError>>;

    fn handle(&mut self, msg: RecordOutcome, _: &mut Self::Context) -> Self::Result {
        let pipe = self.transaction(&msg);
        let mut conn = self.conn.clone();
        Box::pin(async move {
            pipe?.query_async::<()>(&mut conn).await?;
            Ok(())
        })
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
