//! `Recorder`: writes each job's outcome record and acknowledges the job in one MULTI/EXEC, so a
//! job leaves the queue only together with its record. If this fails the job stays pending and is
//! claimed again later.

use actix::{Actor, Context, Handler, ResponseFuture};
use redis::aio::ConnectionManager;

use crate::messages::RecordOutcome;
use crate::record::Outcome;
use crate::redis_keys::{Keys, GROUP};

/// Why a record could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Redis did not answer or refused the transaction.
    #[error("failed to write record to redis")]
    Redis(#[from] redis::RedisError),
    /// The record could not be serialized.
    #[error("failed to encode record")]
    Encode(#[from] serde_json::Error),
    /// The actor is gone (shutting down).
    #[error("recorder is unavailable")]
    Mailbox(#[from] actix::MailboxError),
}

/// Writes records through the shared connection.
pub struct Recorder {
    conn: ConnectionManager,
    keys: Keys,
    record_ttl_s: u64,
    recent: usize,
}

impl Recorder {
    /// A recorder keeping records `record_ttl_s` and listing the `recent` newest per outcome.
    pub fn new(conn: ConnectionManager, keys: Keys, record_ttl_s: u64, recent: usize) -> Self {
        Recorder {
            conn,
            keys,
            record_ttl_s,
            recent,
        }
    }

    fn transaction(&self, msg: &RecordOutcome) -> Result<redis::Pipeline, serde_json::Error> {
        let record = &msg.record;
        let topic = &record.message.topic;
        let sid = &record.message.sid;
        let list = match record.outcome {
            Outcome::Completed => self.keys.completed(topic),
            Outcome::Error => self.keys.errors(topic),
        };
        let queue = self.keys.queue(topic);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .set_ex(
                self.keys.record(topic, sid),
                serde_json::to_string(record)?,
                self.record_ttl_s,
            )
            .ignore()
            .lpush(&list, sid)
            .ignore()
            .ltrim(&list, 0, self.recent.saturating_sub(1) as isize)
            .ignore()
            .xack(&queue, GROUP, &[&msg.entry_id])
            .ignore()
            .xdel(&queue, &[&msg.entry_id])
            .ignore();
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
