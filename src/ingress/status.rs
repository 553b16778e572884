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
use crate::actors::recorder::RecordError;
use crate::domain::{check_plain, PhoneNumber};
use crate::errors::Chain;
use crate::outbound::delivery::DeliveryRecorded;
use crate::store::opt_outs::{Cause, Change};
use crate::twilio::client::UNSUBSCRIBED;

/// One status callback's fields, checked.
struct Callback {
    outbound_sid: String,
    status: String,
    error_code: Option<String>,
    to: Option<String>,
}

/// Handles one status callback.
pub(super) async fn status(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<IngressState>,
) -> Result<HttpResponse, IngressError> {
    let name = path.into_inner();
    let topic = state.topic(&name)?;
    let params = webhook::read(&request, payload, &topic, &state).await?;
    let callback = read_callback(&params)?;
    request_log::note_sid(&request, &callback.outbound_sid);
    log::debug!(
        "Delivery status. topic={name} sid={} status={}",
        callback.outbound_sid,
        callback.status
    );
    let unsubscribed =
        callback.error_code.as_deref().and_then(|c| c.parse().ok()) == Some(UNSUBSCRIBED);
    let (callback_to, sid) = (callback.to.clone(), callback.outbound_sid.clone());
    let (status, code) = (callback.status.clone(), callback.error_code.clone());
    let recorded = record(&state, &name, callback).await?;
    if !matches!(recorded, DeliveryRecorded::Unknown) {
        state
            .metrics
            .count_delivery(&name, &status, code.as_deref());
    }
    match recorded {
        // Answered 200 all the same, so that Twilio does not retry it.
        DeliveryRecorded::Unknown => {
            log::debug!(
                "Status callback for a message pyrowire did not send; nothing stored. topic={name}"
            );
        }
        // The recipient the send stored, else (a send of an earlier release, or a signed
        // callback that overtook the send's answer) the callback's own `To`.
        DeliveryRecorded::Recorded { to } if unsubscribed => {
            if let Some(number) = to.or(callback_to) {
                opt_out(&state, &name, &number, &sid).await?;
            }
        }
        DeliveryRecorded::Recorded { .. } => {}
    }
    Ok(HttpResponse::Ok().finish())
}

/// The callback's fields, bounded.
fn read_callback(params: &[(String, String)]) -> Result<Callback, IngressError> {
    let get = |key: &str| {
        params
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let required = |key: &str| {
        get(key)
            .ok_or_else(|| IngressError::BadRequest(format!("missing required parameter `{key}`")))
    };
    let callback = Callback {
        outbound_sid: required("MessageSid")?,
        status: required("MessageStatus")?,
        error_code: get("ErrorCode").filter(|c| c != "0"),
        to: get("To"),
    };
    check_fields(&callback)?;
    Ok(callback)
}

/// Records the status against the outbound message (only for a SID pyrowire stored, when
/// signatures are off); a failure is logged and answered 503, so that Twilio retries.
async fn record(
    state: &IngressState,
    topic: &str,
    callback: Callback,
) -> Result<DeliveryRecorded, IngressError> {
    let request = RecordDelivery {
        topic: topic.to_string(),
        outbound_sid: callback.outbound_sid,
        status: callback.status,
        error_code: callback.error_code,
        to: callback.to,
        known_only: !state.signatures,
    };
    let recorded = match state.recorder.send(request).await {
        Ok(recorded) => recorded,
        Err(gone) => Err(gone.into()),
    };
    recorded.map_err(|error: RecordError| {
        log::warn!(
            "Status callback not recorded; answered 503. topic={topic} error={}",
            Chain(&error)
        );
        unavailable()
    })
}

/// Error 21610 in the callback of the message `sid`: the recipient unsubscribed, recorded as a
/// STOP is.
async fn opt_out(
    state: &IngressState,
    topic: &str,
    number: &str,
    sid: &str,
) -> Result<(), IngressError> {
    let number =
        PhoneNumber::parse("To", number).map_err(|e| IngressError::BadRequest(e.to_string()))?;
    let request = SetOptOut {
        topic: topic.to_string(),
        number,
        change: Change::OptOut,
        cause: Cause::Unsubscribed {
            job: String::new(),
            twilio_sid: sid.to_string(),
        },
    };
    let recorded = match state.recorder.send(request).await {
        Ok(recorded) => recorded,
        Err(gone) => Err(gone.into()),
    };
    recorded.map(|_| ()).map_err(|error: RecordError| {
        log::warn!(
            "Opt-out of a status callback not recorded; answered 503. topic={topic} error={}",
            Chain(&error)
        );
        unavailable()
    })
}

fn unavailable() -> IngressError {
    IngressError::Unavailable {
        error_response: None,
    }
}

/// Bounds on what a status callback may carry: the SID becomes a Redis key and the status a
/// stored value, so neither may be arbitrarily long. Twilio's SIDs are 34 characters, its
/// statuses short lowercase words, its error codes five digits.
fn check_fields(callback: &Callback) -> Result<(), IngressError> {
    let bad = |e: crate::domain::InboundError| IngressError::BadRequest(e.to_string());
    let (status, error_code) = (&callback.status, callback.error_code.as_deref());
    check_plain("MessageSid", &callback.outbound_sid, 64).map_err(bad)?;
    if let Some(to) = &callback.to {
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
