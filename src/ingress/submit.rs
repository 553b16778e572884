//! `GET`/`POST /queue/{topic}`: Twilio's inbound webhook. Check the signature, parse the
//! parameters, answer opt-out, opt-in and help keywords, run the topic's validators, queue an
//! accepted message durably, and only then answer TwiML. Nothing is queued for a request that
//! fails any step.

use std::sync::Arc;
use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::IngressError;
use super::state::{IngressState, WebhookTopic};
use super::{request_log, webhook};
use crate::actors::messages::{Enqueue, Enqueued, SetOptOut, Validate};
use crate::actors::queue::QueueError;
use crate::domain::topic::Topic;
use crate::domain::{mask_number, InboundMessage, Job, JOB_VERSION};
use crate::store::opt_outs::Change;
use crate::twilio::keywords::{keyword, opt_out_type, Keyword};
use crate::twilio::twiml;
use crate::validators::Verdict;

/// Handles one inbound message webhook, timing it for `/metrics`.
pub async fn submit(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<IngressState>,
) -> Result<HttpResponse, IngressError> {
    let started = Instant::now();
    let Some(topic) = topic_of(&request, &state) else {
        let name = request.match_info().get("topic").unwrap_or_default();
        return Err(IngressError::unknown_topic(name));
    };
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
fn topic_of(request: &HttpRequest, state: &IngressState) -> Option<Arc<Topic>> {
    match request.app_data::<WebhookTopic>() {
        Some(WebhookTopic(topic)) => Some(topic.clone()),
        None => state
            .topics
            .get(request.match_info().get("topic")?)
            .cloned(),
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
    let unavailable = || IngressError::Unavailable {
        error_response: topic.settings.error_response.clone(),
    };
    if state.is_draining() {
        return Err(unavailable());
    }
    // Twilio's Advanced Opt-Out names the keyword it saw ("PARAR", "ARRÊT") in `OptOutType`.
    let word = message
        .extra
        .get("OptOutType")
        .and_then(|t| opt_out_type(t));
    if let Some(word) = word.or_else(|| keyword(&message.message)) {
        return answer_keyword(word, topic, &message, state)
            .await
            .map_err(|_| unavailable());
    }
    let validated = state
        .validator
        .send(Validate {
            message,
            topic: topic.clone(),
        })
        .await
        .map_err(|_| unavailable())?;
    let message = validated.message;
    if let Verdict::Reject {
        validator,
        response,
    } = validated.verdict
    {
        log::debug!(
            "Message rejected. topic={name} sid={} validator={validator}",
            message.sid
        );
        let labels = [name, validator.as_str()];
        state.metrics.rejected.with_label_values(&labels).inc();
        return Ok(twiml_response(Some(&response)));
    }
    let sid = message.sid.clone();
    // Masking allocates; only the debug line below uses it.
    let number = log::log_enabled!(log::Level::Debug).then(|| mask_number(&message.number));
    let job = job_for(topic, message);
    match state.queue.send(Enqueue { job }).await {
        Ok(Ok(Enqueued::Queued { id })) => {
            state.metrics.queued.with_label_values(&[name]).inc();
            log::debug!(
                "Message queued. topic={name} sid={sid} from={} job_id={id}",
                number.unwrap_or_default()
            )
        }
        Ok(Ok(Enqueued::Duplicate { id })) => {
            state.metrics.duplicates.with_label_values(&[name]).inc();
            log::info!("Duplicate MessageSid answered, not queued again. topic={name} sid={sid} job_id={id}")
        }
        Ok(Err(e @ QueueError::NotReplicated(_))) => {
            log::warn!("Message written but not confirmed by replicas; answered 503 (it may still be handled). topic={name} sid={sid} error={e}");
            return Err(unavailable());
        }
        Ok(Err(e)) => {
            log::warn!("Message not queued; answered 503. topic={name} sid={sid} error={e}");
            return Err(unavailable());
        }
        Err(e) => {
            log::warn!("Queue unavailable; answered 503. topic={name} sid={sid} error={e}");
            return Err(unavailable());
        }
    }
    Ok(twiml_response(accept_text(topic)))
}

/// STOP and friends record an opt-out, START and friends lift it; both answer nothing (Twilio
/// confirms them itself). HELP and INFO answer the topic's help text. The handler never runs.
async fn answer_keyword(
    word: Keyword,
    topic: &Topic,
    message: &InboundMessage,
    state: &IngressState,
) -> Result<HttpResponse, ()> {
    let change = match word {
        Keyword::Help => return Ok(twiml_response(topic.settings.help_response.as_deref())),
        Keyword::OptOut => Change::OptOut,
        Keyword::OptIn => Change::OptIn,
    };
    let opted_out = change == Change::OptOut;
    let request = SetOptOut {
        topic: topic.name.clone(),
        number: message.number.clone(),
        change,
        keyword_sid: Some(message.sid.clone()),
    };
    match state.recorder.send(request).await {
        Ok(Ok(applied)) => {
            let what = if applied {
                "Opt-out keyword recorded."
            } else {
                "Opt-out keyword seen before (a replay or Twilio's retry); nothing changed."
            };
            log::info!(
                "{what} topic={} sid={} from={} opted_out={opted_out}",
                topic.name,
                message.sid,
                mask_number(&message.number)
            );
            Ok(twiml_response(None))
        }
        _ => Err(()),
    }
}

/// The job to queue; with `send_on_accept` the accept text travels with it as an SMS to send.
fn job_for(topic: &Topic, message: InboundMessage) -> Job {
    let accept_sms = topic
        .settings
        .send_on_accept
        .then(|| topic.settings.accept_response.clone())
        .flatten();
    Job {
        v: JOB_VERSION,
        message,
        accept_sms,
        outbound: None,
    }
}

/// The TwiML text for an accepted message: the accept text, unless it is sent as an SMS.
fn accept_text(topic: &Topic) -> Option<&str> {
    if topic.settings.send_on_accept {
        None
    } else {
        topic.settings.accept_response.as_deref()
    }
}

fn twiml_response(text: Option<&str>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/xml")
        .body(twiml::respond(text))
}
