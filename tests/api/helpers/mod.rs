//! `spawn_app`: the real app on a random port, its own Redis key prefix, and a `FakeTwilio`
//! (from `tests/common`); requests to it and waits on what it wrote to Redis.

mod api;
mod settings;
mod waits;

use std::cell::Cell;
use std::rc::Rc;

use actix_web::http::header::HeaderMap;
use pyrowire::app::{App, RunOptions, ShutdownHandle};
use pyrowire::settings::Settings;
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use serde_json::Value;

use crate::common::{redis_url, FakeTwilio, ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER};

pub use api::{api_profile, text_ids, API_TOKEN};
pub use settings::{default_topic, random_prefix, settings, settings_with, twilio_table};

/// The number every inbound text of these tests comes from.
pub const SENDER: &str = "+15551234567";

pub struct TestApp {
    pub address: String,
    pub prefix: String,
    pub twilio: FakeTwilio,
    pub redis: MultiplexedConnection,
    pub settings: Settings,
    pub shutdown: ShutdownHandle,
    /// Set when `App::run` returned: the shutdown is over.
    stopped: Rc<Cell<bool>>,
    pub http: awc::Client,
}

/// Starts the app with these topics (the TOML of `[topics.*]` tables).
pub async fn spawn_app(topics: &str) -> TestApp {
    spawn_app_with(topics, "", RunOptions::default()).await
}

/// Starts the app with extra profile keys and run options (custom handlers, roles).
pub async fn spawn_app_with(topics: &str, profile_extra: &str, options: RunOptions) -> TestApp {
    spawn_app_on(&random_prefix(), topics, profile_extra, options).await
}

/// [`spawn_app_with`] under a key prefix the test chose (to find data written before it).
pub async fn spawn_app_on(
    prefix: &str,
    topics: &str,
    profile_extra: &str,
    options: RunOptions,
) -> TestApp {
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let prefix = prefix.to_string();
    let settings = settings_with(topics, profile_extra, &prefix, &twilio.base)
        .expect("test settings are valid");
    let app = App::build(settings.clone(), options)
        .await
        .expect("app builds");
    let port = app.port().expect("web role has a port");
    let shutdown = app.shutdown_handle();
    let stopped = Rc::new(Cell::new(false));
    let stopped_flag = stopped.clone();
    actix_web::rt::spawn(async move {
        // An error here already failed the test's requests; what matters is that run returned.
        let _ = app.run().await;
        stopped_flag.set(true);
    });
    let client = redis::Client::open(redis_url()).unwrap();
    let redis = client.get_multiplexed_async_connection().await.unwrap();
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        prefix,
        twilio,
        redis,
        settings,
        shutdown,
        stopped,
        http: awc::Client::default(),
    }
}

/// Twilio's inbound parameters for a text from `SENDER`.
pub fn inbound(sid: &str, body: &str) -> Vec<(String, String)> {
    [
        ("ToCountry", "US"),
        ("ToState", "OR"),
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("ToCity", "PORTLAND"),
        ("FromZip", "97201"),
        ("SmsSid", sid),
        ("FromState", "OR"),
        ("SmsStatus", "received"),
        ("FromCity", "PORTLAND"),
        ("Body", body),
        ("FromCountry", "US"),
        ("To", FROM_NUMBER),
        ("ToZip", "97201"),
        ("NumSegments", "1"),
        ("MessageSid", sid),
        ("AccountSid", ACCOUNT_SID),
        ("From", SENDER),
        ("ApiVersion", "2010-04-01"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Twilio's inbound parameters for a text from `from`.
pub fn inbound_from(sid: &str, body: &str, from: &str) -> Vec<(String, String)> {
    let mut params = inbound(sid, body);
    for (name, value) in params.iter_mut() {
        if name == "From" {
            *value = from.to_string();
        }
    }
    params
}

/// The `kind` of each send in a message record, in order.
pub fn sent_kinds(record: &Value) -> Vec<&str> {
    record["sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect()
}

/// An HTTP answer: status, content type, body.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl TestApp {
    /// POSTs a form to `/queue/{topic}`.
    pub async fn post(&self, topic: &str, params: &[(String, String)]) -> Answer {
        let body = serde_urlencoded::to_string(params).unwrap();
        self.post_raw(
            topic,
            Some("application/x-www-form-urlencoded"),
            body.into_bytes(),
        )
        .await
    }

    /// POSTs raw bytes with an optional content type.
    pub async fn post_raw(&self, topic: &str, content_type: Option<&str>, body: Vec<u8>) -> Answer {
        let mut request = self.http.post(format!("{}/queue/{topic}", self.address));
        if let Some(content_type) = content_type {
            request = request.insert_header(("Content-Type", content_type));
        }
        let response = request
            .send_body(body)
            .await
            .expect("request reaches the app");
        read(response).await
    }

    /// GETs `/queue/{topic}` with the parameters in the query string.
    pub async fn get(&self, topic: &str, params: &[(String, String)]) -> Answer {
        let query = serde_urlencoded::to_string(params).unwrap();
        self.get_path(&format!("/queue/{topic}?{query}")).await
    }

    /// GETs a path.
    pub async fn get_path(&self, path: &str) -> Answer {
        let response = self
            .http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request reaches the app");
        read(response).await
    }

    /// A dashboard request (GET or POST) with `Authorization: Bearer TOKEN` when a token is
    /// given: status, headers, body.
    pub async fn dashboard(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
    ) -> (u16, HeaderMap, String) {
        let url = format!("{}{path}", self.address);
        let mut request = if method == "POST" {
            self.http.post(url)
        } else {
            self.http.get(url)
        };
        if let Some(token) = token {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let mut response = request.send().await.expect("request reaches the app");
        let body = response.body().await.unwrap();
        let mut headers = HeaderMap::new();
        for (name, value) in response.headers() {
            headers.append(name.clone(), value.clone());
        }
        let body = String::from_utf8_lossy(&body).to_string();
        (response.status().as_u16(), headers, body)
    }

    /// POSTs a form body to any path of the app.
    pub async fn post_raw_path(&self, path: &str, body: Vec<u8>) -> Answer {
        let response = self
            .http
            .post(format!("{}{path}", self.address))
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .send_body(body)
            .await
            .expect("request reaches the app");
        read(response).await
    }

    pub fn key(&self, topic: &str, rest: &str) -> String {
        format!("{}:{{{topic}}}:{rest}", self.prefix)
    }

    /// Number of entries on a topic's queue stream.
    pub async fn queue_len(&self, topic: &str) -> usize {
        let mut redis = self.redis.clone();
        redis.xlen(self.key(topic, "queue")).await.unwrap()
    }

    /// Every key of this app's prefix for the topic, sorted.
    pub async fn keys(&self, topic: &str) -> Vec<String> {
        let mut redis = self.redis.clone();
        let mut keys: Vec<String> = redis.keys(self.key(topic, "*")).await.unwrap();
        // KEYS answers in the hash table's order, which a rehash changes: sorted, two lists
        // of the same keys compare equal.
        keys.sort_unstable();
        keys
    }

    /// Asserts that nothing was accepted for the topic: its queue is empty and no MessageSid was
    /// marked as seen.
    pub async fn assert_nothing_queued(&self, topic: &str) {
        assert_eq!(self.queue_len(topic).await, 0, "queue of topic {topic}");
        assert!(
            self.keys(topic).await.iter().all(|k| !k.contains(":seen:")),
            "a :seen: key of topic {topic}"
        );
    }
}

async fn read(mut response: awc::ClientResponse) -> Answer {
    let body = response.body().await.unwrap();
    Answer {
        status: response.status().as_u16(),
        content_type: response
            .headers()
            .get("Content-Type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        body: String::from_utf8_lossy(&body).to_string(),
    }
}
