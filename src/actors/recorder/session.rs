//! Sessions, for the `Recorder`: reading a sender's session before an attempt, and saving a
//! completed job's change to it inside the completion's `MULTI` (`save_session.lua`, sent as
//! `EVAL`), so a session moves on exactly when the job leaves the queue, and never for an attempt
//! that failed.

use actix::{Handler, ResponseFuture};
use redis::AsyncCommands;

use super::{RecordError, Recorder};
use crate::actors::messages::{LoadSession, SessionWrite};
use crate::domain::clock::now_ms;
use crate::domain::{Session, SessionSave};
use crate::store::keys::Keys;

/// See `save_session.lua`.
const SAVE_SESSION: &str = include_str!("save_session.lua");

/// Adds the script that applies `write` to a transaction.
pub(super) fn save(pipe: &mut redis::Pipeline, keys: &Keys, topic: &str, write: &SessionWrite) {
    let number = write.number.as_str();
    let (mode, json) = match &write.save {
        SessionSave::Keep => ("keep", ""),
        SessionSave::Replace(json) => ("replace", json.as_str()),
        SessionSave::End => ("end", ""),
    };
    pipe.cmd("EVAL")
        .arg(SAVE_SESSION)
        .arg(3)
        .arg(keys.session(topic, number))
        .arg(keys.sessions(topic))
        .arg(keys.opt_outs(topic))
        .arg(number)
        .arg(mode)
        .arg(json)
        .arg(write.ttl_s)
        .arg(now_ms());
}

impl Handler<LoadSession> for Recorder {
    type Result = ResponseFuture<Result<Session, RecordError>>;

    fn handle(&mut self, msg: LoadSession, _: &mut Self::Context) -> Self::Result {
        let key = self.keys.session(&msg.topic, msg.number.as_str());
        let mut conn = self.conn.clone();
        Box::pin(async move {
            let json: Option<String> = conn.get(&key).await?;
            Ok(json.as_deref().map(Session::from_json).unwrap_or_default())
        })
    }
}
