//! How the stand-in answers the Messages API: the path and basic auth, CreateMessage's fields
//! and errors, scripted answers, and ListMessage over the messages created.

use std::time::SystemTime;

use actix_web::HttpResponse;
use base64::Engine;
use serde_json::{json, Value};

use super::{Received, Scripted, State, POOL_NUMBER};

/// The answer to one request, and how long to hold it back (ms).
pub(super) fn respond(
    state: &mut State,
    sid: &str,
    token: &str,
    received: &Received,
) -> (HttpResponse, u64) {
    let expected_path = format!("/2010-04-01/Accounts/{sid}/Messages.json");
    if received.path != expected_path || !["GET", "POST"].contains(&received.method.as_str()) {
        return (error(404, 20404, "The requested resource was not found"), 0);
    }
    let expected_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{sid}:{token}"))
    );
    if received.authorization.as_deref() != Some(expected_auth.as_str()) {
        return (error(401, 20003, "Authenticate"), 0);
    }
    if received.method == "GET" {
        return (list(state, sid, &received.query), state.default_delay_ms);
    }
    let scripted = state.script.pop_front().unwrap_or(Scripted {
        status: 201,
        delay_ms: state.default_delay_ms,
        ..Scripted::default()
    });
    if scripted.status != 201 {
        let mut response = error(
            scripted.status,
            scripted.code.unwrap_or(0),
            "Scripted error",
        );
        if let Some(seconds) = scripted.retry_after {
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                seconds.to_string().parse().unwrap(),
            );
        }
        return (response, scripted.delay_ms);
    }
    if let Some((status, code, message)) = check_fields(received) {
        return (error(status, code, message), scripted.delay_ms);
    }
    let created = resource(sid, received, state.created.len() + 1);
    state.created.push(created.clone());
    (HttpResponse::Created().json(created), scripted.delay_ms)
}

/// ListMessage: filters `To`, `From` (when given; a messaging service's message matches the
/// number picked for it) and `DateSent>=` (a `YYYY-MM-DD` day, compared with the day of
/// `date_sent`), newest first, one page.
fn list(state: &State, account: &str, query: &str) -> HttpResponse {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let page_size: usize = get("PageSize").and_then(|p| p.parse().ok()).unwrap_or(50);
    let since = get("DateSent>");
    let messages: Vec<Value> = state
        .created
        .iter()
        .rev()
        .filter(|m| get("To").is_none_or(|to| m["to"] == to.as_str()))
        .filter(|m| get("From").is_none_or(|from| m["from"] == from.as_str()))
        .filter(|m| {
            since.as_ref().is_none_or(|day| {
                let sent = httpdate::parse_http_date(
                    &m["date_sent"]
                        .as_str()
                        .unwrap_or_default()
                        .replace("+0000", "GMT"),
                );
                sent.is_ok_and(|t| ymd(t).as_str() >= day.trim_start_matches('='))
            })
        })
        .take(page_size)
        .cloned()
        .collect();
    let uri = format!("/2010-04-01/Accounts/{account}/Messages.json?PageSize={page_size}&Page=0");
    HttpResponse::Ok().json(json!({
        "messages": messages,
        "end": messages.len().saturating_sub(1),
        "first_page_uri": uri,
        "next_page_uri": null,
        "page": 0,
        "page_size": page_size,
        "previous_page_uri": null,
        "start": 0,
        "uri": uri,
    }))
}

/// `YYYY-MM-DD` of a time, in UTC.
fn ymd(time: SystemTime) -> String {
    let ms = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    pyrowire::domain::clock::utc_day(ms)
}

/// The create request's form fields, as the OpenAPI description (CreateMessage) lists them.
const CREATE_FIELDS: &[&str] = &[
    "To",
    "StatusCallback",
    "ApplicationSid",
    "MaxPrice",
    "ProvideFeedback",
    "Attempt",
    "ValidityPeriod",
    "ForceDelivery",
    "ContentRetention",
    "AddressRetention",
    "SmartEncoded",
    "PersistentAction",
    "TrafficType",
    "ShortenUrls",
    "ScheduleType",
    "SendAt",
    "SendAsMms",
    "ContentVariables",
    "RiskCheck",
    "From",
    "FallbackFrom",
    "MessagingServiceSid",
    "Body",
    "MediaUrl",
    "ContentSid",
];

/// The Twilio error a create request earns: (status, code, message), or None when it is valid.
fn check_fields(received: &Received) -> Option<(u16, i64, &'static str)> {
    let body = received.field("Body").unwrap_or_default();
    let media = received.fields("MediaUrl").len();
    if received
        .form
        .iter()
        .any(|(k, _)| !CREATE_FIELDS.contains(&k.as_str()))
    {
        // Not a real Twilio code: a parameter the Messages API does not describe is a sender bug.
        return Some((
            400,
            99999,
            "Unknown parameter (not in the Messages API description)",
        ));
    }
    let callback = received.field("StatusCallback").unwrap_or("https://x");
    if !(callback.starts_with("https://") || callback.starts_with("http://")) {
        return Some((400, 21609, "Invalid StatusCallback"));
    }
    if received.field("To").is_none_or(str::is_empty) {
        Some((400, 21604, "A 'To' phone number is required."))
    } else if received.field("From").is_none_or(str::is_empty)
        && received
            .field("MessagingServiceSid")
            .is_none_or(str::is_empty)
    {
        Some((
            400,
            21603,
            "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
        ))
    } else if body.is_empty() && media == 0 {
        Some((400, 21602, "Message body is required."))
    } else if body.chars().count() > 1600 {
        Some((
            400,
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        ))
    } else if media > 10 {
        Some((400, 21623, "Number of media files exceeds allowed limit."))
    } else {
        None
    }
}

/// The Message resource Twilio answers a valid create with. Through a messaging service without
/// a `From`, Twilio picks the sender from the service's pool (here always [`POOL_NUMBER`]) and
/// the message starts `accepted` rather than `queued`.
fn resource(account: &str, received: &Received, n: usize) -> Value {
    let sid = format!("SM{:032x}", n as u128 + 0xabc0_0000);
    let now = httpdate::fmt_http_date(SystemTime::now()).replace(" GMT", " +0000");
    let body = received.field("Body").unwrap_or_default();
    let service = received
        .field("MessagingServiceSid")
        .filter(|s| !s.is_empty());
    let from = received
        .field("From")
        .or(service.map(|_| POOL_NUMBER))
        .unwrap_or_default();
    let status = if service.is_some() {
        "accepted"
    } else {
        "queued"
    };
    json!({
        "account_sid": account,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": now,
        "date_sent": now,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": from,
        "messaging_service_sid": service,
        "num_media": received.fields("MediaUrl").len().to_string(),
        "num_segments": "1",
        "price": null,
        "price_unit": "USD",
        "sid": sid,
        "status": status,
        "subresource_uris": {
            "media": format!("/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json")
        },
        "to": received.field("To"),
        "uri": format!("/2010-04-01/Accounts/{account}/Messages/{sid}.json"),
    })
}

fn error(status: u16, code: i64, message: &str) -> HttpResponse {
    let status_code = actix_web::http::StatusCode::from_u16(status).unwrap();
    HttpResponse::build(status_code).json(json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    }))
}
