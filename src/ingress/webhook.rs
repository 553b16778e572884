//! What every Twilio webhook (inbound message or status callback) goes through first: read the
//! parameters from the query string (GET) or the form body (POST), check `X-Twilio-Signature`
//! against the URL Twilio called (`public_url` + path when set, else the request's own scheme,
//! host and path) under the topic's auth tokens, and check that the parameters name one message
//! of the topic's account.
//!
//! The signature covers the URL and every parameter as its name and value joined with nothing
//! between them, so moving a boundary keeps it valid: `MessageSid=SM…` and `NumMedia=0` sent as
//! one parameter `MessageSid=SM…NumMedia0` sign to the same string. Only the identity check stops
//! such a re-split replay from passing as a new message.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::Method;
use actix_web::{web, HttpRequest};

use super::body::{self, MAX_BODY_BYTES};
use super::error::IngressError;
use super::form;
use super::request_log::loggable_path;
use super::state::IngressState;
use crate::topics::Topic;
use crate::twilio::signature::{is_valid, SignedRequest};

/// The header Twilio signs webhooks with.
pub(crate) const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// The webhook's parameters, after its body arrived and its signature was checked (when
/// signatures are on).
pub(crate) async fn read(
    request: &HttpRequest,
    payload: web::Payload,
    topic: &Topic,
    state: &IngressState,
) -> Result<Vec<(String, String)>, IngressError> {
    // Refused before its body is read: a request that cannot pass the signature check should not
    // hold a connection and a buffer while its body trickles in.
    if state.signatures && !request.headers().contains_key(SIGNATURE_HEADER) {
        return Err(IngressError::Forbidden);
    }
    let body = body::read(request, payload, MAX_BODY_BYTES, state.request_timeout).await?;
    let is_get = request.method() == Method::GET;
    let raw: &[u8] = if is_get {
        request.query_string().as_bytes()
    } else {
        check_content_type(request)?;
        &body
    };
    let params = form::parse(raw)
        .map_err(|e| IngressError::BadRequest(format!("malformed parameters: {e}")))?;
    if state.signatures {
        // For GET the parameters are in the URL already; only POST form fields are appended.
        let signed_params: &[(String, String)] = if is_get { &[] } else { &params };
        check_signature(request, signed_params, topic, &state.public_url)?;
    }
    check_identity(&params, topic)?;
    Ok(params)
}

/// Whether `sid` has the shape of a Twilio message SID: `SM` or `MM` and 32 hex digits (the
/// pattern of the Message resource's `sid` in Twilio's OpenAPI description).
pub(crate) fn is_message_sid(sid: &str) -> bool {
    let hex = sid.strip_prefix("SM").or_else(|| sid.strip_prefix("MM"));
    hex.is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Refuses parameters that do not name one message of the topic's account: a `MessageSid` not of
/// Twilio's shape, an `SmsMessageSid` or `SmsSid` (when present) that differs from it, or an
/// `AccountSid` (when present) that is not the topic's. A missing `MessageSid` is left to the
/// caller, which names it. Values are not echoed: a stranger chose them.
pub(crate) fn check_identity(
    params: &[(String, String)],
    topic: &Topic,
) -> Result<(), IngressError> {
    let mut sid: Option<&str> = None;
    let mut alias_differs: Option<&str> = None;
    let mut other_account = false;
    let account = topic.settings.twilio.account_sid.as_str();
    // Two passes at most over the parameters (a webhook carries about twenty): the SID, then
    // what must agree with it.
    for (name, value) in params {
        if name == "MessageSid" {
            sid = Some(value);
            break;
        }
    }
    let Some(sid) = sid.filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    for (name, value) in params {
        match name.as_str() {
            "SmsMessageSid" | "SmsSid" if value != sid => alias_differs = Some(name),
            "AccountSid" if value != account => other_account = true,
            _ => {}
        }
    }
    let bad = |problem: String| Err(IngressError::BadRequest(problem));
    if !is_message_sid(sid) {
        return bad("`MessageSid` must be a Twilio message SID: SM or MM and 32 hex digits".into());
    }
    if let Some(alias) = alias_differs {
        return bad(format!("`{alias}` differs from `MessageSid`"));
    }
    if other_account {
        return bad("`AccountSid` is not this topic's Twilio account".into());
    }
    Ok(())
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

fn check_signature(
    request: &HttpRequest,
    params: &[(String, String)],
    topic: &Topic,
    public_url: &str,
) -> Result<(), IngressError> {
    let signature = request
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or(IngressError::Forbidden)?;
    let url = called_url(request, public_url);
    let twilio = &topic.settings.twilio;
    let mut tokens = vec![twilio.auth_token.expose()];
    if let Some(secondary) = &twilio.secondary_auth_token {
        tokens.push(secondary.expose());
    }
    let signed = SignedRequest {
        url: &url,
        params,
        body: None,
    };
    if is_valid(&tokens, signature, &signed) {
        Ok(())
    } else {
        // The URL's query may hold the sender's number and text: only the path is logged.
        log::warn!(
            "Webhook refused: bad X-Twilio-Signature. topic={} path={}",
            topic.name,
            loggable_path(request.path())
        );
        Err(IngressError::Forbidden)
    }
}

/// The URL Twilio called: `public_url` with this request's path and query, or, without one, the
/// scheme and host this request arrived with (honouring `Forwarded` / `X-Forwarded-*`).
pub(crate) fn called_url(request: &HttpRequest, public_url: &str) -> String {
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    if public_url.is_empty() {
        let info = request.connection_info();
        format!("{}://{}{path}", info.scheme(), info.host())
    } else {
        format!("{}{path}", public_url.trim_end_matches('/'))
    }
}
