//! How the stand-in answers the Messages API: the path and basic auth, CreateMessage's fields
//! and errors, scripted answers, and ListMessage over the messages created.

use std::time::SystemTime;

use actix_web::HttpResponse;
use base64::Engine;
use serde_json::{json, Value};

use super::{Created, Received, Scripted, State, POOL_NUMBER};

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
    let answer = HttpResponse::Created().json(create(state, sid, received));
    (answer, scripted.delay_ms)
}

/// Creates the message a valid create request asks for; answers its resource.
fn create<'a>(state: &'a mut State, account: &str, received: &Received) -> &'a Value {
    let created = Created {
        resource: resource(account, received, state.created.len() + 1),
        at: SystemTime::now(),
        held_for: state.hold_queued,
    };
    state.created.push(created);
    &state.created.last().unwrap().resource
}

/// Creates a message as if a create request had asked for it.
pub(super) fn seed(state: &mut State, account: &str, to: &str, from: &str, body: &str) {
    let form = [("To", to), ("From", from), ("Body", body)];
    let received = Received {
        method: "POST".into(),
        path: String::new(),
        authorization: None,
        form: form
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        query: String::new(),
        user_agent: None,
        accept_encoding: None,
        at: std::time::Instant::now(),
    };
    create(state, account, &received);
}

/// A created message as Twilio shows it at `now`: `queued` (or `accepted`) with `date_sent: null`
/// while it is held, then `sent`, with `date_sent` the moment it left the queue.
pub(super) fn as_of(created: &Created, now: SystemTime) -> Value {
    let mut resource = created.resource.clone();
    let sent_at = created.at + created.held_for;
    if now >= sent_at {
        resource["status"] = json!("sent");
        resource["date_sent"] = json!(rfc2822(sent_at));
        resource["date_updated"] = json!(rfc2822(sent_at));
    }
    resource
}

/// ListMessage: filters `To`, `From` (when given; a messaging service's message matches the
/// number picked for it) and `DateSent` / `DateSent>` / `DateSent<` (a `YYYY-MM-DD` day,
/// compared with the day of `date_sent`: a message still queued, whose `date_sent` is null,
/// matches none of them), newest first, `PageSize` (default 50, at most 1000) a page. The next
/// page's URI carries a `PageToken` naming the last message of this one, so a page read later
/// starts right after it even when newer messages arrived meanwhile.
fn list(state: &State, account: &str, query: &str) -> HttpResponse {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let page_size: usize = get("PageSize")
        .and_then(|p| p.parse().ok())
        .unwrap_or(50)
        .clamp(1, 1000);
    let page: usize = get("Page").and_then(|p| p.parse().ok()).unwrap_or(0);
    let now = SystemTime::now();
    let matching: Vec<Value> = state
        .created
        .iter()
        .rev()
        .map(|c| as_of(c, now))
        .filter(|m| get("To").is_none_or(|to| m["to"] == to.as_str()))
        .filter(|m| get("From").is_none_or(|from| m["from"] == from.as_str()))
        .filter(|m| date_sent_matches(m, &get))
        .collect();
    let start = match get("PageToken") {
        Some(token) => {
            let last = token.trim_start_matches("PA");
            matching
                .iter()
                .position(|m| m["sid"] == last)
                .map_or(matching.len(), |i| i + 1)
        }
        None => 0,
    };
    let messages: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(page_size)
        .cloned()
        .collect();
    let base = format!("/2010-04-01/Accounts/{account}/Messages.json");
    let mut filters: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| !["Page", "PageSize", "PageToken"].contains(&k.as_str()))
        .cloned()
        .collect();
    filters.push(("PageSize".into(), page_size.to_string()));
    let uri_with = |extra: &[(String, String)]| {
        let mut query = filters.clone();
        query.extend_from_slice(extra);
        format!("{base}?{}", serde_urlencoded::to_string(&query).unwrap())
    };
    let next_page_uri = (start + messages.len() < matching.len()).then(|| {
        let last = messages.last().unwrap()["sid"]
            .as_str()
            .unwrap()
            .to_string();
        uri_with(&[
            ("Page".into(), (page + 1).to_string()),
            ("PageToken".into(), format!("PA{last}")),
        ])
    });
    HttpResponse::Ok().json(json!({
        "messages": messages,
        "end": (start + messages.len()).saturating_sub(1),
        "first_page_uri": uri_with(&[("Page".into(), "0".into())]),
        "next_page_uri": next_page_uri,
        "page": page,
        "page_size": page_size,
        "previous_page_uri": null,
        "start": start,
        "uri": uri_with(&[("Page".into(), page.to_string())]),
    }))
}

/// Whether a message passes the list's `DateSent` filters (none given: every message does).
fn date_sent_matches(message: &Value, get: &impl Fn(&str) -> Option<String>) -> bool {
    let filters = [
        (
            "DateSent",
            std::cmp::Ordering::is_eq as fn(std::cmp::Ordering) -> bool,
        ),
        ("DateSent>", std::cmp::Ordering::is_ge),
        ("DateSent<", std::cmp::Ordering::is_le),
    ];
    let given: Vec<_> = filters
        .iter()
        .filter_map(|(name, test)| Some((get(name)?, test)))
        .collect();
    if given.is_empty() {
        return true;
    }
    // `DateSent>=DAY` arrives as the parameter `DateSent>` with the value `=DAY`.
    let Some(sent) = message["date_sent"].as_str() else {
        return false;
    };
    let Ok(sent) = httpdate::parse_http_date(&sent.replace("+0000", "GMT")) else {
        return false;
    };
    let day = ymd(sent);
    given
        .iter()
        .all(|(value, test)| test(day.as_str().cmp(value.trim_start_matches('='))))
}

/// `YYYY-MM-DD` of a time, in UTC.
fn ymd(time: SystemTime) -> String {
    let ms = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    pyrowire::domain::clock::utc_day(ms)
}

/// RFC 2822 as Twilio writes it: `Mon, 01 Jan 2024 00:00:00 +0000`.
fn rfc2822(time: SystemTime) -> String {
    httpdate::fmt_http_date(time).replace(" GMT", " +0000")
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
    // CreateMessage: "Accepted values are integers from `1` to `36000`". (Twilio's code for a bad
    // one is not in the description; 99998 is the stand-in's.)
    if let Some(validity) = received.field("ValidityPeriod") {
        if !validity
            .parse::<u32>()
            .is_ok_and(|v| (1..=36_000).contains(&v))
        {
            return Some((
                400,
                99998,
                "ValidityPeriod must be an integer from 1 to 36000",
            ));
        }
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
    let now = rfc2822(SystemTime::now());
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
        "date_sent": null,
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
