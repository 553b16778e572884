//! Conversations: a session per topic and sender, seen by the handler as the sender's previous
//! message left it, saved only with the job's completion. A local webhook application counts
//! each sender's texts in its session; the replies at the Twilio stand-in say the count.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse, HttpServer};
use futures_util::future::join_all;
use pyrowire::app::RunOptions;
use pyrowire::domain::Reply;
use pyrowire::handlers::{from_fn, HandlerError, HandlerRegistry};
use redis::AsyncCommands;
use serde_json::{json, Value};

use crate::common::new_sid;
use crate::helpers::SENDER;
use crate::helpers::{inbound, inbound_from, spawn_app, spawn_app_with, twilio_table, TestApp};

const WAIT: Duration = Duration::from_secs(15);
const OTHER: &str = "+15557654321";

/// What the application saw: each call's sender, text and the session's `count`.
type Seen = Arc<Mutex<Vec<(String, String, Option<u64>)>>>;

/// The counting application. Texts steer it: `fail-once` answers 500 on its first call,
/// `fail` always does, `done` ends the session, `huge` answers a 20 KiB session, `keep` leaves
/// the session as it is; any other text adds one to `count`.
fn start_counter() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let failed_once: Arc<Mutex<HashSet<String>>> = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    let shared = seen.clone();
    let server = HttpServer::new(move || {
        let (seen, failed_once) = (shared.clone(), failed_once.clone());
        actix_web::App::new().route(
            "/sms",
            web::post().to(move |body: web::Json<Value>| {
                let (seen, failed_once) = (seen.clone(), failed_once.clone());
                async move { answer(&body, &seen, &failed_once) }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (url, seen)
}

fn answer(body: &Value, seen: &Seen, failed_once: &Mutex<HashSet<String>>) -> HttpResponse {
    let text = body["message"].as_str().unwrap_or_default().to_string();
    let number = body["number"].as_str().unwrap_or_default().to_string();
    assert!(body["session"].is_object(), "session is an object: {body}");
    let count = body["session"]["count"].as_u64();
    seen.lock().unwrap().push((number, text.clone(), count));
    let next = count.unwrap_or(0) + 1;
    match text.as_str() {
        "fail-once" if failed_once.lock().unwrap().insert(body["sid"].to_string()) => {
            HttpResponse::InternalServerError().finish()
        }
        "fail" => HttpResponse::InternalServerError().finish(),
        "done" => HttpResponse::Ok().json(json!({"reply": "bye", "session": null})),
        "keep" => HttpResponse::Ok().json(json!({"reply": "kept"})),
        "huge" => HttpResponse::Ok().json(json!({
            "reply": "too big",
            "session": {"count": next, "blob": "x".repeat(20 * 1024)},
        })),
        _ => HttpResponse::Ok().json(json!({
            "reply": format!("count {next}"),
            "session": {"count": next},
        })),
    }
}

fn counter_topic(url: &str, extra: &str) -> String {
    format!(
        r#"
[topics.sample]
handler = {{ kind = "webhook", url = "{url}", timeout_ms = 2000 }}
workers = 4
{extra}
[topics.sample.retry]
max_attempts = 2
backoff_initial_ms = 20
backoff_max_ms = 50
{}"#,
        twilio_table("sample")
    )
}

/// Replies the stand-in got for `to`, in the order it got them.
fn replies_to(app: &TestApp, to: &str) -> Vec<String> {
    app.twilio
        .creates()
        .iter()
        .filter(|r| r.field("To") == Some(to))
        .map(|r| r.field("Body").unwrap_or_default().to_string())
        .collect()
}

/// The counts the application saw for `number`, in call order.
fn counts_seen(seen: &Seen, number: &str) -> Vec<Option<u64>> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(n, _, _)| n == number)
        .map(|(_, _, count)| *count)
        .collect()
}

/// The stored session of `number`, if any.
async fn stored(app: &TestApp, number: &str) -> Option<Value> {
    let raw: Option<String> = app
        .redis
        .clone()
        .get(app.key("sample", &format!("session:{number}")))
        .await
        .unwrap();
    raw.map(|raw| serde_json::from_str(&raw).unwrap())
}

/// How many numbers the topic's live-sessions set holds.
async fn live_sessions(app: &TestApp) -> u64 {
    let key = app.key("sample", "sessions");
    app.redis.clone().zcard(key).await.unwrap()
}

/// Posts a text from `from` and waits until its outcome is recorded.
async fn text(app: &TestApp, from: &str, body: &str) -> Value {
    let sid = new_sid();
    let answer = app.post("sample", &inbound_from(&sid, body, from)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    app.wait_record("sample", &sid, WAIT).await
}

fn counting(n: u64) -> Vec<String> {
    (1..=n).map(|i| format!("count {i}")).collect()
}

#[actix_web::test]
async fn five_texts_one_after_another_count_in_order_and_each_number_keeps_its_own() {
    let (url, seen) = start_counter();
    let app = spawn_app(&counter_topic(&url, "")).await;
    for i in 0..5 {
        text(&app, SENDER, &format!("hello {i}")).await;
        if i % 2 == 0 {
            text(&app, OTHER, "hi").await;
        }
    }
    assert_eq!(
        counts_seen(&seen, SENDER),
        vec![None, Some(1), Some(2), Some(3), Some(4)]
    );
    assert_eq!(replies_to(&app, SENDER), counting(5));
    assert_eq!(counts_seen(&seen, OTHER), vec![None, Some(1), Some(2)]);
    assert_eq!(replies_to(&app, OTHER), counting(3));
    assert_eq!(stored(&app, SENDER).await, Some(json!({"count": 5})));
    let live = live_sessions(&app).await;
    assert_eq!(live, 2);
}

#[actix_web::test]
async fn five_texts_at_once_are_handled_one_at_a_time_in_order() {
    let (url, seen) = start_counter();
    let app = spawn_app(&counter_topic(&url, "")).await;
    let mut forms = Vec::new();
    for i in 0..5 {
        forms.push(inbound(&new_sid(), &format!("hello {i}")));
        forms.push(inbound_from(&new_sid(), "hi", OTHER));
    }
    let posts: Vec<_> = forms.iter().map(|form| app.post("sample", form)).collect();
    for answer in join_all(posts).await {
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    app.wait_until_drained("sample", WAIT).await;
    assert_eq!(
        counts_seen(&seen, SENDER),
        vec![None, Some(1), Some(2), Some(3), Some(4)]
    );
    assert_eq!(replies_to(&app, SENDER), counting(5));
    assert_eq!(replies_to(&app, OTHER), counting(5));
}

/// Texts from many senders at once (read while the others' are read) each see their own
/// sender's session, never another's.
#[actix_web::test]
async fn texts_from_many_senders_at_once_each_see_their_own_session() {
    let (url, seen) = start_counter();
    let app = spawn_app(&counter_topic(&url, "")).await;
    let numbers: Vec<String> = (1..=24).map(|i| format!("+1555000{i:04}")).collect();
    let mut redis = app.redis.clone();
    for (i, number) in numbers.iter().enumerate() {
        let key = app.key("sample", &format!("session:{number}"));
        let session = json!({"count": 100 * (i as u64 + 1)}).to_string();
        let _: () = redis.set_ex(key, session, 600).await.unwrap();
    }
    let forms: Vec<_> = numbers
        .iter()
        .map(|number| inbound_from(&new_sid(), "hi", number))
        .collect();
    let posts: Vec<_> = forms.iter().map(|form| app.post("sample", form)).collect();
    for answer in join_all(posts).await {
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    app.wait_until_drained("sample", WAIT).await;
    for (i, number) in numbers.iter().enumerate() {
        let count = 100 * (i as u64 + 1);
        assert_eq!(counts_seen(&seen, number), vec![Some(count)], "{number}");
        assert_eq!(
            replies_to(&app, number),
            vec![format!("count {}", count + 1)]
        );
        assert_eq!(
            stored(&app, number).await,
            Some(json!({"count": count + 1}))
        );
    }
}

#[actix_web::test]
async fn a_retried_attempt_counts_once_and_a_dead_letter_changes_nothing() {
    let (url, seen) = start_counter();
    let app = spawn_app(&counter_topic(&url, "")).await;
    text(&app, SENDER, "one").await;
    text(&app, SENDER, "two").await;
    let third = text(&app, SENDER, "fail-once").await;
    assert_eq!(third["outcome"], "completed");
    assert_eq!(third["attempts"].as_array().unwrap().len(), 1, "{third}");
    // The retry saw the session as the second text left it.
    assert_eq!(
        counts_seen(&seen, SENDER),
        vec![None, Some(1), Some(2), Some(2)]
    );
    assert_eq!(stored(&app, SENDER).await, Some(json!({"count": 3})));

    let dead = text(&app, SENDER, "fail").await;
    assert_eq!(dead["outcome"], "dead_lettered");
    assert_eq!(stored(&app, SENDER).await, Some(json!({"count": 3})));
    text(&app, SENDER, "four").await;
    assert_eq!(
        replies_to(&app, SENDER),
        vec!["count 1", "count 2", "count 3", "count 4"]
    );
}

#[actix_web::test]
async fn null_ends_the_session_and_no_key_keeps_it() {
    let (url, seen) = start_counter();
    let app = spawn_app(&counter_topic(&url, "")).await;
    text(&app, SENDER, "one").await;
    text(&app, SENDER, "keep").await;
    assert_eq!(stored(&app, SENDER).await, Some(json!({"count": 1})));
    text(&app, SENDER, "done").await;
    assert_eq!(stored(&app, SENDER).await, None);
    let live = live_sessions(&app).await;
    assert_eq!(live, 0, "the ended session is not counted as live");
    text(&app, SENDER, "again").await;
    assert_eq!(
        counts_seen(&seen, SENDER),
        vec![None, Some(1), Some(1), None]
    );
    assert_eq!(
        replies_to(&app, SENDER),
        vec!["count 1", "kept", "bye", "count 1"]
    );
}

/// How long the sender's session has left (ms), or `None` when it has none.
async fn time_left(app: &TestApp, number: &str) -> Option<u64> {
    let key = app.key("sample", &format!("session:{number}"));
    let left: i64 = redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut app.redis.clone())
        .await
        .unwrap();
    u64::try_from(left).ok()
}

#[actix_web::test]
async fn a_session_ends_after_session_ttl_s_without_a_text() {
    let (url, seen) = start_counter();
    let app = spawn_app(&counter_topic(&url, "session_ttl_s = 2")).await;
    text(&app, SENDER, "one").await;

    // Each completed text restarts the clock: the time left goes back up.
    actix_web::rt::time::sleep(Duration::from_millis(1000)).await;
    let aged = time_left(&app, SENDER).await.expect("a session");
    text(&app, SENDER, "keep").await;
    let restarted = time_left(&app, SENDER).await.expect("a session");
    text(&app, SENDER, "two").await;
    let after_two = Instant::now();
    let count = stored(&app, SENDER).await;
    // Then, without a text, it goes once its time is up, not before.
    let deadline = Instant::now() + WAIT;
    while stored(&app, SENDER).await.is_some() {
        assert!(Instant::now() < deadline, "the session never expired");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let lasted = after_two.elapsed();
    text(&app, SENDER, "three").await;

    assert!(
        aged <= 1000 + 50,
        "1 s after the first text: {aged} ms left"
    );
    assert!(
        restarted >= aged + 500,
        "restarted: {aged} ms → {restarted} ms"
    );
    assert_eq!(count, Some(json!({"count": 2})));
    assert!(
        lasted >= Duration::from_millis(1500),
        "expired after {lasted:?}"
    );
    assert_eq!(
        counts_seen(&seen, SENDER),
        vec![None, Some(1), Some(1), None]
    );
}

#[actix_web::test]
async fn stop_ends_the_session() {
    let (url, seen) = start_counter();
    let app = spawn_app(&counter_topic(&url, "")).await;
    text(&app, SENDER, "one").await;
    text(&app, SENDER, "two").await;
    assert!(stored(&app, SENDER).await.is_some());
    let answer = app.post("sample", &inbound(&new_sid(), "STOP")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(stored(&app, SENDER).await, None);
    let live = live_sessions(&app).await;
    assert_eq!(live, 0);
    app.post("sample", &inbound(&new_sid(), "START")).await;
    text(&app, SENDER, "back").await;
    assert_eq!(counts_seen(&seen, SENDER), vec![None, Some(1), None]);
}

#[actix_web::test]
async fn a_session_over_16_kib_is_refused_and_the_old_one_stays() {
    let (url, _seen) = start_counter();
    let app = spawn_app(&counter_topic(&url, "")).await;
    text(&app, SENDER, "one").await;
    let huge = text(&app, SENDER, "huge").await;
    assert_eq!(huge["outcome"], "dead_lettered");
    let attempts = huge["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "dead-lettered at once: {huge}");
    assert!(
        attempts[0].as_str().unwrap().contains("session too large"),
        "{huge}"
    );
    assert_eq!(stored(&app, SENDER).await, Some(json!({"count": 1})));
    // The reply of the refused step was not sent.
    assert_eq!(replies_to(&app, SENDER), vec!["count 1"]);
}

#[actix_web::test]
async fn a_rust_handler_reads_and_writes_typed_values_and_a_failed_attempt_drops_its_change() {
    let seen: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let shared = seen.clone();
    let mut handlers = HandlerRegistry::default();
    handlers.register(
        "steps",
        Arc::new(move |_options: &toml::Table| {
            let seen = shared.clone();
            Ok(from_fn(move |message, context| {
                let seen = seen.clone();
                async move {
                    let mut steps: Vec<String> = context.get("steps")?.unwrap_or_default();
                    seen.lock().unwrap().push(steps.clone());
                    steps.push(message.message.clone());
                    context.set("steps", &steps)?;
                    if message.message == "flaky" {
                        return Err(HandlerError::new("flaky step"));
                    }
                    Ok(Reply::text(steps.join(",")))
                }
            }))
        }),
    );
    let topic = format!(
        r#"
[topics.sample]
handler = "steps"
[topics.sample.retry]
max_attempts = 3
backoff_initial_ms = 20
backoff_max_ms = 50
{}"#,
        twilio_table("sample")
    );
    let options = RunOptions {
        handlers,
        ..RunOptions::default()
    };
    let app = spawn_app_with(&topic, "", options).await;
    text(&app, SENDER, "a").await;
    text(&app, SENDER, "b").await;
    let flaky = text(&app, SENDER, "flaky").await;
    assert_eq!(flaky["outcome"], "dead_lettered");
    assert_eq!(flaky["attempts"].as_array().unwrap().len(), 3);
    text(&app, SENDER, "c").await;
    // Each of the three failed attempts saw ["a","b"]: none of their changes was saved.
    let ab = vec!["a".to_string(), "b".to_string()];
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            vec![],
            vec!["a".to_string()],
            ab.clone(),
            ab.clone(),
            ab.clone(),
            ab
        ]
    );
    assert_eq!(replies_to(&app, SENDER), vec!["a", "a,b", "a,b,c"]);
    assert_eq!(
        stored(&app, SENDER).await,
        Some(json!({"steps": ["a", "b", "c"]}))
    );
}
