//! Sessions, for the `Recorder`: reading a sender's session before an attempt. A completed job's
//! change to it is saved inside the completion's script (`session_fn.lua`, see `complete`), so a
//! session moves on exactly when the job leaves the queue, and never for an attempt that failed.

use actix::{Handler, ResponseFuture};
use redis::AsyncCommands;

use super::{RecordError, Recorder};
use crate::actors::messages::LoadSession;
use crate::domain::Session;

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
