//! `GET`/`POST /queue/{topic}`: Twilio's inbound webhook. Check the signature, parse the
//! parameters, answer opt-out, opt-in and help keywords, run the topic's validators, queue an
//! accepted message durably, and only then answer TwiML. Nothing is queued for a request that
//! fails any step.

use std::sync::Arc;
use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::{IngressError, UnknownTopic};
use super::state::{IngressState, WebhookTopic};
use super::{request_log, webhook};
use crate::actors::messages::{Enqueue, Enqueued, SetOptOut, Validate};
use crate::actors::queue::QueueError;
use crate::actors::recorder::RecordError;
use crate::domain::{mask_number, InboundMessage, Job};
use crate::errors::Chain;
use crate::store::opt_outs::{Cause, Change};
use crate::topics::Topic;
use crate::twilio::keywords::{opt_out_type, Keyword};
use crate::twilio::twiml;
use crate::validators::Verdict;

/// Handles one inbound message webhook, timing it for `/metrics`.
pub(super) async fn submit(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<IngressState>,
) -> Result<HttpResponse, IngressError> {
    let started = Instant::now();
    let topic = topic_of(&request, &state)?;
    let answer = answer(&request, &topic, payload, &state).await;
    let (metrics, name) = (&state.metrics, topic.name.as_str());
    if matches!(answer, Err(IngressError::Unavailable { .. })) {
        metrics.unavailable.with_label_values(&[name]).inc();
    }
    let seconds = started.elapsed().as_secs_f64();
    metrics
        .ingress_seconds
        .with_label_values(&[name])
        .observe(seconds);
    answer
}

/// The topic named in the path: a topic's static path carries its topic; otherwise the
/// `{topic}` segment names it.
fn topic_of(request: &HttpRequest, state: &IngressState) -> Result<Arc<Topic>, UnknownTopic> {
    match request.app_data::<WebhookTopic>() {
        Some(WebhookTopic(topic)) => Ok(topic.clone()),
        None => state.topic(request.match_info().get("topic").unwrap_or_default()),
    }
}

async fn answer(
    request: &HttpRequest,
    topic: &Arc<Topic>,
    payload: web::Payload,
    state: &IngressState,
) -> Result<HttpResponse, IngressError> {
    let name = topic.name.as_str();
    let params = webhook::read(request, payload, topic, state).await?;
    let message = InboundMessage::from_params(name, &params)
        .map_err(|e| IngressError::BadRequest(e.to_string()))?;
    request_log::note_sid(request, &message.sid);
    state.metrics.received.with_label_values(&[name]).inc();
    if state.is_draining() {
        return Err(unavailable(topic));
    }
    if let Some(word) = keyword_of(&message, topic) {
        // Boxed: the rare path's state stays out of every webhook's future.
        return Box::pin(answer_keyword(word, topic, message, state)).await;
    }
    let message = match validate(topic, message, state).await? {
        Ok(message) => message,
        Err(rejected) => return Ok(rejected),
    };
    enqueue(topic, job_for(topic, message), state).await?;
    Ok(accepted(topic))
}

/// The keyword a message is: Twilio's Advanced Opt-Out names the one it saw ("PARAR", "ARRÊT")
/// in `OptOutType`, whatever the body; else the body itself, against Twilio's keywords and the
/// topic's own.
fn keyword_of(message: &InboundMessage, topic: &Topic) -> Option<Keyword> {
    let advanced = message
        .extra
        .get("OptOutType")
        .and_then(|t| opt_out_type(t));
    advanced.or_else(|| topic.keywords.keyword(&message.message))
}

/// Runs the topic's validators on this thread's validator actor: the message back when it
/// passes, the TwiML answer of the first that fails otherwise.
async fn validate(
    topic: &Arc<Topic>,
    message: InboundMessage,
    state: &IngressState,
) -> Result<Result<InboundMessage, HttpResponse>, IngressError> {
    let name = topic.name.as_str();
    let request = Validate {
        message,
        topic: topic.clone(),
    };
    let validated = state.validator.send(request).await.map_err(|gone| {
        log::warn!("Validator unavailable; answered 503. topic={name} error={gone}");
        unavailable(topic)
    })?;
    let message = validated.message;
    let Verdict::Reject {
        validator,
        response,
    } = validated.verdict
    else {
        return Ok(Ok(message));
    };
    log::debug!(
        "Message rejected. topic={name} sid={} validator={validator}",
        message.sid
    );
    let labels = [name, validator.as_str()];
    state.metrics.rejected.with_label_values(&labels).inc();
    Ok(Err(twiml_response(Some(&response))))
}

/// Queues the accepted message durably; every failure is logged, with its cause, and answered
/// 503.
async fn enqueue(topic: &Topic, job: Job, state: &IngressState) -> Result<(), IngressError> {
    let name = topic.name.as_str();
    let sid = job.message.sid.clone();
    // Masking allocates; only the debug line below uses it.
    let number = log::log_enabled!(log::Level::Debug).then(|| mask_number(&job.message.number));
    let error = match state.queue.send(Enqueue { job }).await {
        Ok(Ok(Enqueued::Queued { id })) => {
            state.metrics.queued.with_label_values(&[name]).inc();
            let from = number.unwrap_or_default();
            log::debug!("Message queued. topic={name} sid={sid} from={from} job_id={id}");
            return Ok(());
        }
        Ok(Ok(Enqueued::Duplicate { id })) => {
            state.metrics.duplicates.with_label_values(&[name]).inc();
            log::info!("Duplicate MessageSid answered, not queued again. topic={name} sid={sid} job_id={id}");
            return Ok(());
        }
        Ok(Err(error)) => error,
        Err(gone) => {
            log::warn!("Queue unavailable; answered 503. topic={name} sid={sid} error={gone}");
            return Err(unavailable(topic));
        }
    };
    let what = match error {
        QueueError::NotReplicated(_) => {
            "Message written but not confirmed by replicas; answered 503 (it may still be handled)."
        }
        _ => "Message not queued; answered 503.",
    };
    log::warn!("{what} topic={name} sid={sid} error={}", Chain(&error));
    Err(unavailable(topic))
}

/// The 503 a message that could not be taken is answered with.
fn unavailable(topic: &Topic) -> IngressError {
    IngressError::Unavailable {
        error_response: topic.settings.error_response.clone(),
    }
}

/// STOP and friends record an opt-out, START and friends lift it; both answer nothing (Twilio
/// confirms them itself). HELP and INFO answer the topic's help text. A change that cannot be
/// recorded is logged and answered 503, so that Twilio retries it. An opt-out never reaches the
/// handler; an opt-in or help keyword from a sender with a live session does too, after its
/// effect, as a message whose `keyword` is set (a conversation that asked "reply YES" hears it).
async fn answer_keyword(
    word: Keyword,
    topic: &Topic,
    mut message: InboundMessage,
    state: &IngressState,
) -> Result<HttpResponse, IngressError> {
    let to_handler = word != Keyword::OptOut && has_live_session(topic, &message, state).await?;
    let change = match word {
        Keyword::Help => None,
        Keyword::OptOut => Some(Change::OptOut),
        Keyword::OptIn => Some(Change::OptIn),
    };
    if let Some(change) = change {
        // A keyword for the handler is marked by its job's de-duplication instead, so that
        // Twilio's retry records the opt-in again (which changes nothing) and queues nothing.
        let cause = Cause::Keyword {
            sid: message.sid.clone(),
            once: !to_handler,
        };
        record_keyword(change, topic, &message, cause, state).await?;
    }
    if to_handler {
        message.keyword = Some(word.as_str().to_string());
        enqueue(topic, Job::inbound(message, None), state).await?;
    }
    let answer = match word {
        Keyword::Help => topic.settings.help_response.as_deref(),
        _ => None,
    };
    Ok(twiml_response(answer))
}

/// Records an opt-out or opt-in keyword (acted on once per MessageSid when `cause` says so, so
/// that a replay changes nothing).
async fn record_keyword(
    change: Change,
    topic: &Topic,
    message: &InboundMessage,
    cause: Cause,
    state: &IngressState,
) -> Result<(), IngressError> {
    let request = SetOptOut {
        topic: topic.name.clone(),
        number: message.number.clone(),
        change,
        cause,
    };
    let recorded = match state.recorder.send(request).await {
        Ok(recorded) => recorded,
        Err(gone) => Err(gone.into()),
    };
    let (name, sid, opted_out) = (&topic.name, &message.sid, change == Change::OptOut);
    match recorded {
        Ok(applied) => {
            let what = if applied {
                "Opt-out keyword recorded."
            } else {
                "Opt-out keyword seen before (a replay or Twilio's retry); nothing changed."
            };
            let from = mask_number(&message.number);
            log::info!("{what} topic={name} sid={sid} from={from} opted_out={opted_out}");
            Ok(())
        }
        Err(error) => {
            let error: RecordError = error;
            log::warn!("Opt-out keyword not recorded; answered 503. topic={name} sid={sid} opted_out={opted_out} error={}", Chain(&error));
            Err(unavailable(topic))
        }
    }
}

/// Whether the sender has a session that has not expired (one Redis call, made only for opt-in
/// and help keywords); Redis away is answered 503.
async fn has_live_session(
    topic: &Topic,
    message: &InboundMessage,
    state: &IngressState,
) -> Result<bool, IngressError> {
    let key = state.keys.session(&topic.name, message.number.as_str());
    let mut conn = state.redis.clone();
    let exists: redis::RedisResult<bool> = redis::AsyncCommands::exists(&mut conn, key).await;
    exists.map_err(|e| {
        let (name, sid) = (&topic.name, &message.sid);
        log::warn!(
            "Session of a keyword's sender not read; answered 503. topic={name} sid={sid} error={}",
            crate::store::connection::loggable(&e)
        );
        unavailable(topic)
    })
}

/// The job to queue; with `send_on_accept` the accept text travels with it as an SMS to send.
fn job_for(topic: &Topic, message: InboundMessage) -> Job {
    let accept_sms = topic
        .settings
        .send_on_accept
        .then(|| topic.settings.accept_response.clone())
        .flatten();
    Job::inbound(message, accept_sms)
}

/// The answer to an accepted message: the topic's accept TwiML, made once when the topic was
/// built (a shared buffer, not a string escaped anew for every webhook).
fn accepted(topic: &Topic) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/xml")
        .body(topic.accepted_twiml.clone())
}

fn twiml_response(text: Option<&str>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/xml")
        .body(twiml::respond(text))
}
