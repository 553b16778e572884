//! `FakeTwilio`: a small actix-web server that answers the Messages API as Twilio's OpenAPI
//! description (shared/twilio) says: it checks the path, basic auth and required fields, records
//! every request, and answers 201 with a message resource, or a status the test scripts. It also
//! answers ListMessage (`GET .../Messages.json?To=&From=&DateSent>=`) from the messages it created,
//! newest first, as Twilio does.

use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use serde_json::{json, Value};

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub form: Vec<(String, String)>,
    /// When the request arrived.
    pub at: std::time::Instant,
}

impl Received {
    /// The first value of a form field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// Every value of a repeated form field.
    pub fn fields(&self, name: &str) -> Vec<&str> {
        self.form
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A scripted answer to the next create request: status, Twilio error code, optional
/// Retry-After seconds. A 201 status creates the message as usual; `delay_ms` holds the answer
/// back (after the message is created, as a slow network would).
#[derive(Debug, Clone, Default)]
pub struct Scripted {
    pub status: u16,
    pub code: Option<i64>,
    pub retry_after: Option<u64>,
    pub delay_ms: u64,
}

impl Scripted {
    /// An error answer.
    pub fn error(status: u16, code: Option<i64>) -> Scripted {
        Scripted {
            status,
            code,
            ..Scripted::default()
        }
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    script: VecDeque<Scripted>,
    created: Vec<Value>,
    default_delay_ms: u64,
}

/// The running stand-in.
pub struct FakeTwilio {
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl FakeTwilio {
    /// Starts on a random loopback port, for one account.
    pub fn start(account_sid: &str, auth_token: &str) -> FakeTwilio {
        let state = Arc::new(Mutex::new(State::default()));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let credentials = (account_sid.to_string(), auth_token.to_string());
        let shared = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new((shared.clone(), credentials.clone())))
                .default_service(web::to(answer))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        FakeTwilio {
            base: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    /// Answers the next requests with these, in order, before going back to 201.
    pub fn script(&self, answers: Vec<Scripted>) {
        self.state.lock().unwrap().script.extend(answers);
    }

    /// Holds back every answer by this long (0 to stop).
    pub fn set_delay(&self, delay: Duration) {
        self.state.lock().unwrap().default_delay_ms = delay.as_millis() as u64;
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Every create request (POST) so far.
    pub fn creates(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect()
    }

    /// The message resources created (one per 201), oldest first.
    pub fn created(&self) -> Vec<Value> {
        self.state.lock().unwrap().created.clone()
    }

    /// The bodies of the messages created, oldest first.
    pub fn created_bodies(&self) -> Vec<String> {
        self.created()
            .iter()
            .map(|m| m["body"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Waits until at least `n` messages were created, or panics after `timeout`.
    pub async fn wait_for_created(&self, n: usize, timeout: Duration) -> Vec<Value> {
        wait_for_count(|| self.created(), n, timeout, "messages created").await
    }

    /// Waits until at least `n` requests arrived, or panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        wait_for_count(|| self.received(), n, timeout, "requests").await
    }
}

/// Polls `read` until it holds at least `n` items, or panics after `timeout`.
async fn wait_for_count<T>(
    read: impl Fn() -> Vec<T>,
    n: usize,
    timeout: Duration,
    what: &str,
) -> Vec<T> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let items = read();
        if items.len() >= n {
            return items;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "stand-in: {} of {n} {what} within {timeout:?}",
            items.len()
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

type Shared = (Arc<Mutex<State>>, (String, String));

async fn answer(request: HttpRequest, body: web::Bytes, data: web::Data<Shared>) -> HttpResponse {
    let (state, (sid, token)) = data.get_ref();
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let received = Received {
        method: request.method().to_string(),
        path: request.path().to_string(),
        authorization: request
            .headers()
            .get("Authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        form,
        at: std::time::Instant::now(),
    };
    let (response, delay) = {
        let mut state = state.lock().unwrap();
        state.received.push(received.clone());
        let query = request.query_string().to_string();
        respond(&mut state, sid, token, &received, &query)
    };
    if delay > 0 {
        actix_web::rt::time::sleep(Duration::from_millis(delay)).await;
    }
    response
}

fn respond(
    state: &mut State,
    sid: &str,
    token: &str,
    received: &Received,
    query: &str,
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
        return (list(state, sid, query), state.default_delay_ms);
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

/// ListMessage: filters `To`, `From` and `DateSent>=` (a `YYYY-MM-DD` day, compared with the
/// day of `date_sent`), newest first, one page.
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
    } else if received.field("From").is_none() && received.field("MessagingServiceSid").is_none() {
        Some((400, 21603, "A 'From' phone number is required."))
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

fn resource(account: &str, received: &Received, n: usize) -> Value {
    let sid = format!("SM{:032x}", n as u128 + 0xabc0_0000);
    let now = httpdate::fmt_http_date(SystemTime::now()).replace(" GMT", " +0000");
    let body = received.field("Body").unwrap_or_default();
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
        "from": received.field("From"),
        "messaging_service_sid": null,
        "num_media": received.fields("MediaUrl").len().to_string(),
        "num_segments": "1",
        "price": null,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
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
