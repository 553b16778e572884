//! `FakeTwilio`: a small actix-web server that answers the Messages API as Twilio's OpenAPI
//! description of its REST API (v2010) says: it checks the path, basic auth and required fields, records
//! every request, and answers 201 with a message resource, or a status the test scripts. It also
//! answers ListMessage (`GET .../Messages.json?To=&From=&DateSent>=&PageSize=`) from the
//! messages it created, newest first and paged through `next_page_uri`, as Twilio does. A
//! message stays `queued` (`accepted` through a messaging service) with `date_sent: null` for as
//! long as the test says ([`FakeTwilio::hold_queued`]; at once `sent` by default), and a
//! `DateSent` filter does not match it meanwhile, as on Twilio. A create may name a
//! `MessagingServiceSid` instead of a `From`; the stand-in then sends from [`POOL_NUMBER`].

mod messages;

use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::Value;

/// The number the stand-in picks from any messaging service's sender pool, for a create with a
/// `MessagingServiceSid` and no `From`.
pub const POOL_NUMBER: &str = "+15017122661";

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub form: Vec<(String, String)>,
    /// The query string, undecoded (ListMessage's filters).
    pub query: String,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The `Accept-Encoding` header.
    pub accept_encoding: Option<String>,
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

/// One message the stand-in created: its resource as the create answered it, and when.
struct Created {
    resource: Value,
    at: std::time::SystemTime,
    /// How long it stays queued at "Twilio" before it is sent.
    held_for: Duration,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    script: VecDeque<Scripted>,
    created: Vec<Created>,
    default_delay_ms: u64,
    hold_queued: Duration,
}

/// The running stand-in.
pub struct FakeTwilio {
    pub base: String,
    account: String,
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
            account: account_sid.to_string(),
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

    /// Messages created from now on stay `queued` (or `accepted`), with `date_sent: null`, for
    /// this long before they count as sent.
    pub fn hold_queued(&self, hold: Duration) {
        self.state.lock().unwrap().hold_queued = hold;
    }

    /// Creates `n` messages to `to` from `from` saying `body` as a create request would (held
    /// queued as [`FakeTwilio::hold_queued`] says), without a request: other traffic of the
    /// account.
    pub fn seed(&self, n: usize, to: &str, from: &str, body: &str) {
        let mut state = self.state.lock().unwrap();
        for _ in 0..n {
            messages::seed(&mut state, &self.account, to, from, body);
        }
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

    /// The message resources created (one per 201), oldest first, as they stand now.
    pub fn created(&self) -> Vec<Value> {
        let state = self.state.lock().unwrap();
        let now = std::time::SystemTime::now();
        state
            .created
            .iter()
            .map(|c| messages::as_of(c, now))
            .collect()
    }

    /// Every list request (GET) so far.
    pub fn lists(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.method == "GET")
            .collect()
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

    /// Waits until at least `n` requests (creates and lookups) arrived, or panics after
    /// `timeout`.
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
        authorization: header(&request, "Authorization"),
        form,
        query: request.query_string().to_string(),
        user_agent: header(&request, "User-Agent"),
        accept_encoding: header(&request, "Accept-Encoding"),
        at: std::time::Instant::now(),
    };
    let (response, delay) = {
        let mut state = state.lock().unwrap();
        state.received.push(received.clone());
        messages::respond(&mut state, sid, token, &received)
    };
    if delay > 0 {
        actix_web::rt::time::sleep(Duration::from_millis(delay)).await;
    }
    response
}

fn header(request: &HttpRequest, name: &str) -> Option<String> {
    let value = request.headers().get(name)?;
    value.to_str().ok().map(str::to_string)
}
