//! `POST /status/{topic}`: Twilio's delivery status callback for a reply pyrowire sent
//! (`StatusCallback` is `{public_url}/status/{topic}`). Signature-checked like webhooks; the
//! status is recorded against the outbound message, moving only forward; error 21610 (the
//! recipient unsubscribed) also records an opt-out. With signatures off, where anyone can post a
//! callback, one for a SID pyrowire has not stored changes nothing. Answers 200 with an empty
//! body.

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::IngressError;
use super::state::IngressState;
use super::{request_log, webhook};
use crate::actors::messages::{RecordDelivery, SetOptOut};
use crate::domain::{check_plain, PhoneNumber};
use crate::outbound::delivery::DeliveryRecorded;
use crate::store::opt_outs::Change;
use crate::twilio::client::UNSUBSCRIBED;

/// Handles one status callback.
pub async fn status(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<IngressState>,
) -> Result<HttpResponse, IngressError> {
    let name = path.into_inner();
    let topic = state
        .topics
        .get(&name)
        .cloned()
        .ok_or_else(|| IngressError::unknown_topic(&name))?;
    let params = webhook::read(&request, payload, &topic, &state).await?;
    let get = |key: &str| {
        params
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let outbound_sid = get("MessageSid").ok_or(IngressError::BadRequest(
        "missing required parameter `MessageSid`".into(),
    ))?;
    request_log::note_sid(&request, &outbound_sid);
    let status = get("MessageStatus").ok_or(IngressError::BadRequest(
        "missing required parameter `MessageStatus`".into(),
    ))?;
    let error_code = get("ErrorCode").filter(|c| c != "0");
    check_fields(
        &outbound_sid,
        &status,
        error_code.as_deref(),
        get("To").as_deref(),
    )?;
    let unavailable = || IngressError::Unavailable {
        error_response: None,
    };
    log::debug!("Delivery status. topic={name} sid={outbound_sid} status={status}");
    let record = RecordDelivery {
        topic: name.clone(),
        outbound_sid,
        status,
        error_code: error_code.clone(),
        known_only: !state.signatures,
    };
    let recorded = match state.recorder.send(record).await {
        Ok(Ok(recorded)) => recorded,
        Ok(Err(e)) => {
            log::warn!("Status callback not recorded; answered 503. topic={name} error={e}");
            return Err(unavailable());
        }
        Err(e) => {
            log::warn!("Status callback not recorded; answered 503. topic={name} error={e}");
            return Err(unavailable());
        }
    };
    let to = match recorded {
        // Answered 200 all the same, so that Twilio does not retry it.
        DeliveryRecorded::Unknown => {
            log::debug!(
                "Status callback for a message pyrowire did not send; nothing stored. topic={name}"
            );
            return Ok(HttpResponse::Ok().finish());
        }
        // The recipient the send stored, else (a send of an earlier release, or a signed
        // callback that overtook the send's answer) the callback's own `To`.
        DeliveryRecorded::Recorded { to } => to.or_else(|| get("To")),
    };
    if error_code.as_deref().and_then(|c| c.parse().ok()) == Some(UNSUBSCRIBED) {
        if let Some(number) = to {
            let number = PhoneNumber::parse("To", &number)
                .map_err(|e| IngressError::BadRequest(e.to_string()))?;
            let opt_out = SetOptOut {
                topic: name.clone(),
                number,
                change: Change::OptOut,
                keyword_sid: None,
            };
            match state.recorder.send(opt_out).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    log::warn!("Opt-out of a status callback not recorded; answered 503. topic={name} error={e}");
                    return Err(unavailable());
                }
                Err(e) => {
                    log::warn!("Opt-out of a status callback not recorded; answered 503. topic={name} error={e}");
                    return Err(unavailable());
                }
            }
        }
    }
    Ok(HttpResponse::Ok().finish())
}

/// Bounds on what a status callback may carry: the SID becomes a Redis key and the status a
/// stored value, so neither may be arbitrarily long. Twilio's SIDs are 34 characters, its
/// statuses short lowercase words, its error codes five digits.
fn check_fields(
    sid: &str,
    status: &str,
    error_code: Option<&str>,
    to: Option<&str>,
) -> Result<(), IngressError> {
    let bad = |e: crate::domain::InboundError| IngressError::BadRequest(e.to_string());
    check_plain("MessageSid", sid, 64).map_err(bad)?;
    if let Some(to) = to {
        check_plain("To", to, 64).map_err(bad)?;
    }
    let word = |v: &str, max: usize| {
        v.len() <= max
            && v.chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c == '-')
    };
    if !word(status, 32) {
        return Err(IngressError::BadRequest(
            "`MessageStatus` must be a word of at most 32 lowercase letters".into(),
        ));
    }
    if error_code.is_some_and(|c| c.len() > 10 || !c.chars().all(|c| c.is_ascii_digit())) {
        return Err(IngressError::BadRequest(
            "`ErrorCode` must be at most 10 digits".into(),
        ));
    }
    Ok(())
}
