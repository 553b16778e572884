//! What a handler gets besides the message: the topic's name and `properties`, the sender's
//! conversation so far (its session), and a way to send extra SMS/MMS to the sender while it
//! works (the original framework's `sms()` and `mms()`).
//!
//! Extra sends go through the same sender as replies — at most once per message even when the
//! handler is retried, opt-outs respected, paced — and appear in the message's record.
//!
//! The session is the JSON object the sender's previous message left. [`HandlerContext::get`]
//! and [`HandlerContext::set`] read and write one value with serde; [`HandlerContext::end_session`]
//! ends the conversation. A change is saved only when the job completes, in the same Redis
//! transaction that records it: a failed attempt's changes are dropped, and the retry sees the
//! session as it was.
//!
//! ```
//! # use pyrowire::handlers::{from_fn, HandlerError};
//! # use pyrowire::domain::Reply;
//! let counter = from_fn(|_message, context| async move {
//!     let count = context.get::<u32>("count")?.unwrap_or(0) + 1;
//!     context.set("count", count)?;
//!     Ok::<_, HandlerError>(Reply::text(format!("message {count}")))
//! });
//! ```

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::LocalBoxFuture;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::HandlerError;
use crate::domain::record::SentSms;
use crate::domain::{Reply, SendKind, Session, SessionChange, SessionError};

/// Sends one extra message for the job being handled: `(kind, reply)` → what was sent.
pub(crate) type SendFn =
    Rc<dyn Fn(SendKind, Reply) -> LocalBoxFuture<'static, Result<SentSms, String>>>;

/// The handler's view of its topic and job. Cloning is cheap and clones share the job's sends.
#[derive(Clone)]
pub struct HandlerContext {
    /// The topic's name.
    pub topic: String,
    /// The topic's `properties` table from settings.
    pub properties: Arc<toml::Table>,
    send: Option<SendFn>,
    extras: Rc<Cell<u32>>,
    sent: Rc<RefCell<Vec<SentSms>>>,
    session: Rc<RefCell<SessionState>>,
    expect_reply: Rc<Cell<Option<Duration>>>,
}

/// Shortest wait for a reply a handler may ask for.
pub const MIN_REPLY_WAIT: Duration = Duration::from_secs(1);
/// Longest wait for a reply a handler may ask for: 30 days.
pub const MAX_REPLY_WAIT: Duration = Duration::from_secs(30 * 24 * 3600);

/// The session as the handler sees it now, and whether it changed or ended it.
#[derive(Debug, Default)]
struct SessionState {
    current: Session,
    changed: bool,
    ended: bool,
}

impl SessionState {
    /// Marks `current` as the session to save.
    fn changed(&mut self) {
        self.changed = true;
        self.ended = false;
    }
}

impl From<SessionError> for HandlerError {
    fn from(error: SessionError) -> Self {
        HandlerError::new(error.to_string())
    }
}

impl std::fmt::Debug for HandlerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerContext")
            .field("topic", &self.topic)
            .field("properties", &self.properties)
            .finish_non_exhaustive()
    }
}

impl HandlerContext {
    /// A context without a sender (for tests of a handler alone): `sms` and `mms` fail.
    pub fn new(topic: impl Into<String>, properties: Arc<toml::Table>) -> Self {
        HandlerContext {
            topic: topic.into(),
            properties,
            send: None,
            extras: Rc::new(Cell::new(0)),
            sent: Rc::new(RefCell::new(Vec::new())),
            session: Rc::default(),
            expect_reply: Rc::default(),
        }
    }

    /// Asks to hear back: if the sender sends nothing within `wait` (1 s to 30 days) of this
    /// message's completion, the handler is called once more with the event `reply_timeout`
    /// (no text, the session as it stands). The sender's next message, or an opt-out, cancels
    /// it; so does a later completion that does not ask again. Durable in Redis, once across
    /// processes.
    pub fn expect_reply_within(&self, wait: Duration) -> Result<(), HandlerError> {
        if !(MIN_REPLY_WAIT..=MAX_REPLY_WAIT).contains(&wait) {
            return Err(HandlerError::new(format!(
                "expect_reply_within must be 1 s to 30 days, got {} s",
                wait.as_secs_f64()
            )));
        }
        self.expect_reply.set(Some(wait));
        Ok(())
    }

    /// The wait asked for with [`HandlerContext::expect_reply_within`], if any.
    pub fn expected_reply(&self) -> Option<Duration> {
        self.expect_reply.get()
    }

    /// The same context, seeing `session` as the sender's conversation so far.
    pub(crate) fn with_session(self, session: Session) -> Self {
        *self.session.borrow_mut() = SessionState {
            current: session,
            ..SessionState::default()
        };
        self
    }

    /// The sender's session as it stands (with this run's changes); empty when there is none.
    pub fn session(&self) -> Session {
        self.session.borrow().current.clone()
    }

    /// The session's value under `key` as a `T`: `None` when absent, an error when it is not a
    /// `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, HandlerError> {
        Ok(self.session.borrow().current.get(key)?)
    }

    /// Stores `value` under `key` in the session (saved when the job completes).
    pub fn set<T: Serialize>(&self, key: &str, value: T) -> Result<(), HandlerError> {
        let mut state = self.session.borrow_mut();
        state.current.set(key, value)?;
        state.changed();
        Ok(())
    }

    /// Removes `key` from the session (saved when the job completes).
    pub fn remove(&self, key: &str) {
        let mut state = self.session.borrow_mut();
        state.current.remove(key);
        state.changed();
    }

    /// Replaces the whole session (saved when the job completes).
    pub fn replace_session(&self, session: Session) {
        let mut state = self.session.borrow_mut();
        state.current = session;
        state.changed();
    }

    /// Ends the conversation: the session is deleted when the job completes, and the sender's
    /// next message starts with an empty one.
    pub fn end_session(&self) {
        let mut state = self.session.borrow_mut();
        state.current = Session::new();
        state.ended = true;
    }

    /// What this run did to the session: kept, replaced or ended.
    pub(crate) fn session_change(&self) -> SessionChange {
        let state = self.session.borrow();
        if state.ended {
            SessionChange::End
        } else if state.changed {
            SessionChange::Replace(state.current.clone())
        } else {
            SessionChange::Keep
        }
    }

    /// A context whose extra sends go through `send`.
    pub(crate) fn with_sender(
        topic: impl Into<String>,
        properties: Arc<toml::Table>,
        send: SendFn,
    ) -> Self {
        let mut context = HandlerContext::new(topic, properties);
        context.send = Some(send);
        context
    }

    /// Sends `text` to the message's sender now, before the reply.
    pub async fn sms(&self, text: impl Into<String>) -> Result<SentSms, HandlerError> {
        self.send(Reply::text(text)).await
    }

    /// Sends media (and, with `include_text`, a text) to the message's sender now.
    pub async fn mms(
        &self,
        media_urls: Vec<String>,
        include_text: Option<String>,
    ) -> Result<SentSms, HandlerError> {
        self.send(Reply {
            text: include_text,
            media_urls,
        })
        .await
    }

    /// Sends any reply to the message's sender now. Each extra send of a job has its own name
    /// (`extra-1`, `extra-2`, ...), so a retried handler that sends the same way does not send
    /// twice.
    pub async fn send(&self, reply: Reply) -> Result<SentSms, HandlerError> {
        let send = self
            .send
            .clone()
            .ok_or_else(|| HandlerError::new("this context cannot send"))?;
        let n = self.extras.get() + 1;
        self.extras.set(n);
        let sent = send(SendKind::Extra(n), reply)
            .await
            .map_err(HandlerError::new)?;
        self.sent.borrow_mut().push(sent.clone());
        Ok(sent)
    }

    /// The extra messages sent so far.
    pub(crate) fn take_sent(&self) -> Vec<SentSms> {
        std::mem::take(&mut self.sent.borrow_mut())
    }
}
