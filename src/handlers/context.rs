//! What a handler gets besides the message: the topic's name and `properties`, and a way to send
//! extra SMS/MMS to the sender while it works (the original framework's `sms()` and `mms()`).
//! Extra sends go through the same sender as replies — at most once per message even when the
//! handler is retried, opt-outs respected, paced — and appear in the message's record.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use futures_util::future::LocalBoxFuture;

use super::error::HandlerError;
use crate::domain::record::SentSms;
use crate::domain::{Reply, SendKind};

/// Sends one extra message for the job being handled: `(kind, reply)` → what was sent.
pub type SendFn = Rc<dyn Fn(SendKind, Reply) -> LocalBoxFuture<'static, Result<SentSms, String>>>;

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
        }
    }

    /// A context whose extra sends go through `send`.
    pub fn with_sender(
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
    pub fn take_sent(&self) -> Vec<SentSms> {
        std::mem::take(&mut self.sent.borrow_mut())
    }
}
