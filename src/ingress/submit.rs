//! `GET`/`POST /queue/{topic}`: Twilio's inbound webhook. Parse the parameters, run the topic's
//! validators, queue an accepted message durably, and only then answer TwiML. Nothing is queued
//! for a request that fails any step.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{form, IngressError, IngressState};
use crate::domain::{mask_number, InboundMessage, Job, JOB_VERSION};
use crate::messages::{Enqueue, Enqueued, Validate};
use crate::topics::Topic;
use crate::twiml;
use crate::validators::Verdict;

/// Handles one inbound message webhook.
pub async fn submit(
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<IngressState>,
) -> Result<HttpResponse, IngressError> {
    let name = path.into_inner();
    let topic = state
        .topics
        .get(&name)
        .cloned()
        .ok_or_else(|| IngressError::UnknownTopic(name.clone()))?;
    let params = read_params(&request, &body)?;
    let message = InboundMessage::from_params(&name, &params)
        .map_err(|e| IngressError::BadRequest(e.to_string()))?;
    let unavailable = || IngressError::Unavailable {
        error_response: topic.settings.error_response.clone(),
    };
    if state.is_draining() {
        return Err(unavailable());
    }
    let validated = state
        .validator
        .send(Validate { message })
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
        return Ok(twiml_response(Some(&response)));
    }
    let (sid, number) = (message.sid.clone(), mask_number(&message.number));
    let job = job_for(&topic, message);
    match state.queue.send(Enqueue { job }).await {
        Ok(Ok(Enqueued::Queued { id })) => {
            log::debug!("Message queued. topic={name} sid={sid} from={number} job_id={id}")
        }
        Ok(Ok(Enqueued::Duplicate { id })) => {
            log::info!("Duplicate MessageSid answered, not queued again. topic={name} sid={sid} job_id={id}")
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
    Ok(twiml_response(accept_text(&topic)))
}

fn read_params(
    request: &HttpRequest,
    body: &web::Bytes,
) -> Result<Vec<(String, String)>, IngressError> {
    let raw: &[u8] = if request.method() == Method::GET {
        request.query_string().as_bytes()
    } else {
        check_content_type(request)?;
        body
    };
    form::parse(raw).map_err(|e| IngressError::BadRequest(format!("malformed parameters: {e}")))
}

fn check_content_type(request: &HttpRequest) -> Result<(), IngressError> {
    let Some(value) = request.headers().get(CONTENT_TYPE) else {
        return Ok(());
    };
    let value = value
        .to_str()
        .map_err(|_| IngressError::UnsupportedMediaType)?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(())
    } else {
        Err(IngressError::UnsupportedMediaType)
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
