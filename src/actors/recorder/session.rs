//! Sessions, for the `Recorder`: reading a sender's session before an attempt. A completed job's
//! change to it is saved inside the completion's script (`session_fn.lua`, see `complete`), so a
//! session moves on exactly when the job leaves the queue, and never for an attempt that failed.
//!
//! Reads are batched per topic as completions are (see [`crate::store::batches`]): the reads
//! that arrive while one `MGET` is in flight go together in the next, so a burst of jobs costs
//! one round trip per batch rather than one per job. A topic's keys share its hash slot, so one
//! `MGET` serves a cluster too.

use actix::{ActorFutureExt, AsyncContext, Context, Handler, ResponseFuture, WrapFuture};
use tokio::sync::oneshot;

use super::{RecordError, Recorder};
use crate::actors::messages::LoadSession;
use crate::domain::Session;
use crate::store::batches::Item;

/// Most sessions one `MGET` reads.
pub(super) const MAX_READS: usize = 64;

/// A session read waiting for its batch: the key and who waits for the session.
pub(super) struct SessionRead {
    key: String,
    reply: oneshot::Sender<Result<Session, RecordError>>,
}

impl Handler<LoadSession> for Recorder {
    type Result = ResponseFuture<Result<Session, RecordError>>;

    fn handle(&mut self, msg: LoadSession, ctx: &mut Self::Context) -> Self::Result {
        let key = self.keys.session(&msg.topic, msg.number.as_str());
        let (reply, answer) = oneshot::channel();
        self.sessions.push(&msg.topic, SessionRead { key, reply });
        self.flush_sessions(&msg.topic, ctx);
        Box::pin(async move {
            answer
                .await
                .unwrap_or(Err(RecordError::Mailbox(actix::MailboxError::Closed)))
        })
    }
}

impl Recorder {
    /// Sends `topic`'s next batch of session reads, unless one is in flight.
    fn flush_sessions(&mut self, topic: &str, ctx: &mut Context<Self>) {
        let Some(batch) = self.sessions.next_batch(topic) else {
            return;
        };
        let mut mget = redis::cmd("MGET");
        for Item { value, .. } in &batch {
            mget.arg(&value.key);
        }
        let mut conn = self.conn.clone();
        let topic = topic.to_string();
        let reading = async move { mget.query_async::<Vec<Option<String>>>(&mut conn).await };
        ctx.spawn(reading.into_actor(self).map(move |result, recorder, ctx| {
            let error = result.as_ref().err();
            if let Some(reads) = recorder.sessions.finished(&topic, batch, error) {
                answer(reads, result);
            }
            recorder.flush_sessions(&topic, ctx);
        }));
    }
}

/// Hands each read of an `MGET` its session (none stored: an empty one).
fn answer(reads: Vec<SessionRead>, result: redis::RedisResult<Vec<Option<String>>>) {
    let error = match result {
        Ok(values) if values.len() == reads.len() => {
            for (read, json) in reads.into_iter().zip(values) {
                let session = json.as_deref().map(Session::from_json).unwrap_or_default();
                let _ = read.reply.send(Ok(session));
            }
            return;
        }
        Ok(values) => redis::RedisError::from((
            redis::ErrorKind::TypeError,
            "MGET answered the wrong number of sessions",
            format!("{} values for {} keys", values.len(), reads.len()),
        )),
        Err(error) => error,
    };
    if reads.len() == 1 {
        if let Some(read) = reads.into_iter().next() {
            let _ = read.reply.send(Err(RecordError::Redis(error)));
        }
        return;
    }
    let shared = std::sync::Arc::new(error);
    for read in reads {
        let _ = read.reply.send(Err(RecordError::Batch(shared.clone())));
    }
}
