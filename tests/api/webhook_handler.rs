//! The `webhook` handler against a local application, and extra sends from a handler's context.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse, HttpServer};
use pyrowire::app::RunOptions;
use pyrowire::domain::Reply;
use pyrowire::handlers::{from_fn, HandlerError, HandlerRegistry};
use serde_json::{json, Value};

use crate::common::new_sid;
use crate::helpers::{inbound, sent_kinds, spawn_app, spawn_app_with, twilio_table};

const WAIT: Duration = Duration::from_secs(10);

/// What the local application received: the secret header and the JSON body.
type Calls = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// A local application that answers according to the message text.
fn start_app() -> (String, Calls) {
    let calls: Calls = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    let shared = calls.clone();
    let server = HttpServer::new(move || {
        let calls = shared.clone();
        actix_web::App::new().route(
            "/sms",
            web::post().to(move |request: HttpRequest, body: web::Json<Value>| {
                let calls = calls.clone();
                async move {
                    let secret = request
                        .headers()
                        .get("X-Pyrowire-Secret")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let text = body["message"].as_str().unwrap_or_default().to_string();
                    calls.lock().unwrap().push((secret, body.into_inner()));
                    match text.as_str() {
                        "quiet" => HttpResponse::NoContent().finish(),
                        "broken" => HttpResponse::InternalServerError().finish(),
                        "slow" => {
                            actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
                            HttpResponse::Ok().json(json!({"reply": "too late"}))
                        }
                        _ => HttpResponse::Ok().json(json!({
                            "reply": format!("app says: {text}"),
                            "media_url": ["https://example.com/a.png", "https://example.com/b.png"],
                        })),
                    }
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (url, calls)
}

fn webhook_topic(url: &str) -> String {
    format!(
        r#"
[topics.sample]
handler = {{ kind = "webhook", url = "{url}", secret = "sh-secret", timeout_ms = 300 }}
accept_response = "ok"
[topics.sample.retry]
max_attempts = 2
backoff_initial_ms = 20
backoff_max_ms = 50
[topics.sample.properties]
greeting = "hello"
limit = 3
{}"#,
        twilio_table("sample")
    )
}

#[actix_web::test]
async fn the_webhook_gets_the_message_and_properties_and_its_answer_is_the_reply() {
    let (url, calls) = start_app();
    let app = spawn_app(&webhook_topic(&url)).await;
    let sid = new_sid();
    app.post("sample", &inbound(&sid, "ping")).await;
    let created = app.twilio.wait_for(1, WAIT).await;
    assert_eq!(created[0].field("Body"), Some("app says: ping"));
    assert_eq!(
        created[0].fields("MediaUrl"),
        vec!["https://example.com/a.png", "https://example.com/b.png"]
    );
    let (secret, body) = calls.lock().unwrap()[0].clone();
    assert_eq!(secret.as_deref(), Some("sh-secret"));
    assert_eq!(body["sid"], sid.as_str());
    assert_eq!(body["number"], crate::helpers::SENDER);
    assert_eq!(body["from_city"], "PORTLAND");
    assert_eq!(body["properties"], json!({"greeting": "hello", "limit": 3}));
}

#[actix_web::test]
async fn a_204_means_no_reply_and_failing_or_slow_webhooks_are_retried_then_dead_lettered() {
    let (url, calls) = start_app();
    let app = spawn_app(&webhook_topic(&url)).await;
    let (quiet, broken, slow) = (new_sid(), new_sid(), new_sid());
    app.post("sample", &inbound(&quiet, "quiet")).await;
    app.post("sample", &inbound(&broken, "broken")).await;
    app.post("sample", &inbound(&slow, "slow")).await;

    let quiet = app.wait_record("sample", &quiet, WAIT).await;
    assert_eq!(quiet["outcome"], "completed");
    assert_eq!(quiet["sent"], json!([]));
    let broken = app.wait_record("sample", &broken, WAIT).await;
    assert_eq!(broken["outcome"], "dead_lettered");
    assert!(
        broken["attempts"][1].as_str().unwrap().contains("500"),
        "{broken}"
    );
    let slow = app.wait_record("sample", &slow, WAIT).await;
    assert_eq!(slow["outcome"], "dead_lettered");
    assert!(
        slow["attempts"][0]
            .as_str()
            .unwrap()
            .contains("webhook call failed"),
        "{slow}"
    );
    assert!(app.twilio.creates().is_empty());
    let broken_calls = calls
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, b)| b["message"] == "broken")
        .count();
    assert_eq!(broken_calls, 2);
}

#[actix_web::test]
async fn a_handler_can_send_extra_messages_and_a_retry_does_not_send_them_twice() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let mut handlers = HandlerRegistry::default();
    let handler = from_fn(move |message, context| {
        let run = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            context.sms("first, a word").await?;
            context
                .mms(
                    vec!["https://example.com/c.gif".into()],
                    Some("then a picture".into()),
                )
                .await?;
            if run == 0 {
                return Err(HandlerError::new("fail once after the extras"));
            }
            Ok(Reply::text(format!("and the reply to {}", message.message)))
        }
    });
    handlers.register(
        "extras",
        Arc::new(move |_: &toml::Table| Ok(handler.clone())),
    );
    let topics = format!(
        "[topics.sample]\nhandler = \"extras\"\n[topics.sample.retry]\nbackoff_initial_ms = 20\n{}",
        twilio_table("sample")
    );
    let options = RunOptions {
        handlers,
        ..RunOptions::default()
    };
    let app = spawn_app_with(&topics, "", options).await;
    let sid = new_sid();
    app.post("sample", &inbound(&sid, "hi")).await;
    let record = app.wait_record("sample", &sid, WAIT).await;
    let bodies = app.twilio.created_bodies();
    assert_eq!(
        bodies,
        vec!["first, a word", "then a picture", "and the reply to hi"]
    );
    let kinds = sent_kinds(&record);
    assert_eq!(kinds, vec!["extra-1", "extra-2", "reply"]);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}
