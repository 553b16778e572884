//! One attempt at a job, for `TopicWorker`: read the sender's session, send the accept text when
//! the topic asks for it, run the handler (its extra sends going through the sender too), then
//! send the reply — split into several messages when it is over 1600 characters. Sends already
//! made are not made again (see [`crate::outbound::send_once`]), so an attempt can be repeated
//! safely; the session it changed is saved only with the job's completion, so a repeated attempt
//! sees it as it was. The Twilio SIDs of the attempt's sends are stored with the job's
//! completion (one call with its record); when the attempt fails after some of them, on their
//! own, before the failure is recorded.

use futures_util::FutureExt;
use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;

use super::deps::WorkerDeps;
use super::failure::AttemptError;
use crate::actors::messages::{LoadSession, SendSms, StoreSent};
use crate::actors::recorder::RecordError;
use crate::domain::record::SentSms;
use crate::domain::{
    now_ms, InboundMessage, Job, Lane, MessageSid, PhoneNumber, Reply, SendKind, Session,
    SessionSave,
};
use crate::handlers::{HandlerContext, SendFn};
use crate::outbound::delivery::SidStore;
use crate::outbound::send_once::{SendError, CANCELLED, EXPIRED};
use crate::twilio::client::OutboundSms;
use crate::twilio::segments::{split, MAX_BODY_CHARS};

/// What a successful attempt produced.
pub(super) struct Handled {
    pub(super) reply: Reply,
    pub(super) sent: Vec<SentSms>,
    pub(super) handled_at: u64,
    /// What the handler did to the sender's session, to save with the completion (`None` when
    /// there is nothing to write: an outbound text, or no session kept as none).
    pub(super) session: Option<SessionSave>,
    /// How long the handler waits to hear back from the sender (`expect_reply_within`).
    pub(super) expect_reply: Option<std::time::Duration>,
    /// The Twilio SIDs of the sends Twilio took in this attempt, to store with the completion.
    pub(super) stores: Vec<SidStore>,
}

/// The SIDs to store of an attempt's sends, the handler's extra sends included.
type Stores = Rc<RefCell<Vec<SidStore>>>;

/// Whom a send answers: the inbound message's MessageSid (which names the send) and its sender;
/// and, for a re-queued job whose markers may have expired, since when Twilio's list is asked
/// before a send that finds no marker (see [`Job::markers_unsure_since`]).
type To<'a> = (&'a MessageSid, &'a PhoneNumber, Option<u64>);

fn to(message: &InboundMessage, unsure_since: Option<u64>) -> To<'_> {
    (&message.sid, &message.number, unsure_since)
}

/// One try: session, accept text (if any), handler, reply. Sends already made are not made
/// again.
pub(super) async fn attempt(
    deps: &Rc<WorkerDeps>,
    job: &Job,
    lane: Lane,
) -> Result<Handled, AttemptError> {
    let stores = Stores::default();
    let tried = run(deps, job, lane, &stores).await;
    let stores = std::mem::take(&mut *stores.borrow_mut());
    match tried {
        Ok(handled) => Ok(Handled { stores, ..handled }),
        Err(error) => {
            store_now(deps, stores).await;
            Err(error)
        }
    }
}

/// The attempt's steps; each send's SID to store goes to `stores`.
async fn run(
    deps: &Rc<WorkerDeps>,
    job: &Job,
    lane: Lane,
    stores: &Stores,
) -> Result<Handled, AttemptError> {
    let topic = &deps.topic;
    let message = &job.message;
    let unsure = job.markers_unsure_since(now_ms(), deps.record_ttl_s);
    if let Some(content) = &job.outbound {
        // A text sent first: no handler; the sender checks the opt-outs once more. The session
        // it opens becomes the recipient's with its completion (none for an opted-out number).
        let outbound = Outbound {
            text: content,
            expires_at: job.expires_at,
            lane,
        };
        let sent = send_outbound(deps, to(message, unsure), outbound, stores).await?;
        // A text that expired unsent, or was cancelled, opens no session.
        let went = !matches!(sent.status.as_deref(), Some(EXPIRED | CANCELLED));
        return Ok(Handled {
            reply: content.clone(),
            handled_at: now_ms(),
            session: job
                .session
                .clone()
                .filter(|_| went)
                .map(SessionSave::Replace),
            sent: vec![sent],
            stores: Vec::new(),
            expect_reply: None,
        });
    }
    let session = load_session(deps, message).await?;
    let had_session = !session.is_empty();
    let mut sent = Vec::new();
    if let Some(text) = job.accept_sms.as_deref().filter(|t| !t.is_empty()) {
        let accept = Reply::text(text);
        sent.push(send(deps, SendKind::Accept, to(message, unsure), &accept, stores).await?);
    }
    let context = handler_context(deps, to(message, unsure), stores).with_session(session);
    let started = std::time::Instant::now();
    let handled = AssertUnwindSafe(topic.handler.handle(message, &context))
        .catch_unwind()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    deps.metrics
        .handler_seconds
        .with_label_values(&[&topic.name])
        .observe(seconds);
    sent.extend(context.take_sent());
    let reply = match handled {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => return Err(AttemptError::Handler(e)),
        Err(_) => return Err(AttemptError::Panicked),
    };
    let handled_at = now_ms();
    // Before the reply goes out: the sender hears nothing of a step that was not saved.
    let session = context.session_change().into_save()?;
    if !reply.is_empty() {
        for (kind, part) in reply_parts(&reply) {
            sent.push(send(deps, kind, to(message, unsure), &part, stores).await?);
        }
    }
    Ok(Handled {
        reply,
        sent,
        handled_at,
        // A sender without a session whose handler kept it so: nothing to write.
        session: (had_session || session != SessionSave::Keep).then_some(session),
        stores: Vec::new(),
        expect_reply: context.expected_reply(),
    })
}

/// Stores the SIDs of a failed attempt's sends before its failure is recorded, so a retry finds
/// them on their markers; should that fail, a retry asks Twilio's list instead.
async fn store_now(deps: &WorkerDeps, stores: Vec<SidStore>) {
    if stores.is_empty() {
        return;
    }
    let stored = match deps.recorder.send(StoreSent { stores }).await {
        Ok(stored) => stored,
        Err(gone) => Err(gone.into()),
    };
    if let Err(e) = stored {
        let error: RecordError = e;
        log::warn!(
            "Failed to store the Twilio SIDs of a failed attempt's sends; a retry asks Twilio's list. topic={} error={}",
            deps.topic.name,
            crate::errors::Chain(&error)
        );
    }
}

/// The sender's session as their previous completed message left it. Redis being away fails
/// the attempt without counting it, as for a send that could not be marked.
async fn load_session(
    deps: &WorkerDeps,
    message: &InboundMessage,
) -> Result<Session, AttemptError> {
    let request = LoadSession {
        topic: deps.topic.name.clone(),
        number: message.number.clone(),
    };
    match deps.recorder.send(request).await {
        Ok(loaded) => loaded.map_err(AttemptError::Session),
        Err(gone) => Err(AttemptError::Session(gone.into())),
    }
}

/// The handler's context for one attempt: its extra sends (`sms`, `mms`) go through the sender
/// like replies do.
fn handler_context(deps: &Rc<WorkerDeps>, to: To<'_>, stores: &Stores) -> HandlerContext {
    let topic = deps.topic.name.clone();
    let properties = deps.topic.properties.clone();
    // Shared, not copied: the worker's dependencies, and of the message only whom it answers.
    let (sid, number, unsure_since) = to;
    let answers = Rc::new((sid.clone(), number.clone()));
    let (deps, stores) = (Rc::clone(deps), stores.clone());
    let send: SendFn = Rc::new(move |kind: SendKind, reply: Reply| {
        let (deps, answers, stores) = (deps.clone(), answers.clone(), stores.clone());
        async move {
            let to = (&answers.0, &answers.1, unsure_since);
            send(&deps, kind, to, &reply, &stores)
                .await
                .map_err(|error| crate::errors::chain(&error))
        }
        .boxed_local()
    });
    HandlerContext::with_sender(topic, properties, send)
}

/// A reply over Twilio's 1600 characters goes out as several messages split at word boundaries,
/// named `reply`, `reply-2`, ...; media rides with the first.
fn reply_parts(reply: &Reply) -> Vec<(SendKind, Reply)> {
    let text = reply.text.as_deref().unwrap_or_default();
    if text.chars().count() <= MAX_BODY_CHARS {
        return vec![(SendKind::Reply(1), reply.clone())];
    }
    split(text, MAX_BODY_CHARS)
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let kind = SendKind::Reply(i as u32 + 1);
            let media_urls = if i == 0 {
                reply.media_urls.clone()
            } else {
                Vec::new()
            };
            (
                kind,
                Reply {
                    text: Some(part),
                    media_urls,
                },
            )
        })
        .collect()
}

async fn send(
    deps: &WorkerDeps,
    kind: SendKind,
    to: To<'_>,
    reply: &Reply,
    stores: &Stores,
) -> Result<SentSms, AttemptError> {
    let outbound = Outbound {
        text: reply,
        expires_at: None,
        lane: Lane::Interactive,
    };
    send_until(deps, kind, to, outbound, stores).await
}

/// A text sent first, as its job says.
struct Outbound<'a> {
    text: &'a Reply,
    /// Not sent after this (see `send_once`).
    expires_at: Option<u64>,
    /// A bulk text takes the pace only when no other send waits for it.
    lane: Lane,
}

async fn send_outbound(
    deps: &WorkerDeps,
    to: To<'_>,
    outbound: Outbound<'_>,
    stores: &Stores,
) -> Result<SentSms, AttemptError> {
    send_until(deps, SendKind::Outbound, to, outbound, stores).await
}

async fn send_until(
    deps: &WorkerDeps,
    kind: SendKind,
    (sid, number, unsure_since): To<'_>,
    outbound: Outbound<'_>,
    stores: &Stores,
) -> Result<SentSms, AttemptError> {
    let Outbound {
        text: reply,
        expires_at,
        lane,
    } = outbound;
    let twilio = &deps.topic.settings.twilio;
    let request = SendSms {
        topic: deps.topic.name.clone(),
        inbound_sid: sid.clone(),
        kind,
        sms: OutboundSms {
            to: number.to_string(),
            sender: twilio.into(),
            body: reply.text.clone(),
            media_urls: reply.media_urls.clone(),
            status_callback: deps.status_callback.clone(),
            smart_encoded: twilio.smart_encoded,
            expires_at,
        },
        lane,
        unsure_since,
    };
    let sent = match deps.sender.send(request).await {
        Ok(sent) => sent,
        Err(gone) => Err(SendError::SenderGone(gone)),
    };
    let sent = sent.map_err(|source| AttemptError::Send { kind, source })?;
    stores.borrow_mut().extend(sent.store);
    Ok(sent.sms)
}
