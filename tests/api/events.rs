//! Events to the application (`events_url`, `events_secret`): what happened to its texts and
//! numbers, POSTed signed the Standard Webhooks way (checked with the `standardwebhooks` Python
//! package, which `scripts/test` installs), at least once, in order per number, and never in the
//! way of webhooks.

use std::time::{Duration, Instant};

use pyrowire::app::RunOptions;
use redis::AsyncCommands;
use serde_json::Value;

use crate::common::events::{standard_webhooks_verifies, Endpoint, SECRET};
use crate::common::new_sid;
use crate::common::twilio::Scripted;
use crate::helpers::{inbound, settings_with, spawn_app_with, twilio_table, TestApp, SENDER};

const WAIT: Duration = Duration::from_secs(15);

fn topic(handler: &str, endpoint: &Endpoint) -> String {
    format!(
        r#"
[topics.sample]
handler = {handler}
accept_response = "ok"
events_url = "{}"
events_secret = "{SECRET}"
[topics.sample.retry]
max_attempts = 2
backoff_initial_ms = 20
backoff_max_ms = 50
{}"#,
        endpoint.url,
        twilio_table("sample")
    )
}

const DASHBOARD_TOKEN: &str = "dashboard-token-of-the-events-tests";

async fn app(endpoint: &Endpoint) -> TestApp {
    let profile = format!("dashboard_token = \"{DASHBOARD_TOKEN}\"\n");
    spawn_app_with(
        &topic(r#""echo""#, endpoint),
        &profile,
        RunOptions::default(),
    )
    .await
}

fn status_callback(sid: &str, status: &str, code: Option<&str>) -> Vec<u8> {
    let mut fields = vec![
        ("MessageSid", sid),
        ("MessageStatus", status),
        ("To", SENDER),
    ];
    if let Some(code) = code {
        fields.push(("ErrorCode", code));
    }
    serde_urlencoded::to_string(fields).unwrap().into_bytes()
}

/// Waits until the reply's SID is stored with its job (callbacks count only for stored SIDs
/// with signatures off).
async fn wait_stored(app: &TestApp, sid: &str) {
    let deadline = Instant::now() + WAIT;
    let key = app.key("sample", &format!("delivery:{sid}"));
    loop {
        let mut conn = app.redis.clone();
        let job: Option<String> = conn.hget(&key, "job").await.unwrap();
        if job.is_some() {
            return;
        }
        assert!(Instant::now() < deadline, "{key} never stored");
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn backlog(app: &TestApp) -> u64 {
    let mut conn = app.redis.clone();
    conn.xlen(app.key("sample", "events")).await.unwrap()
}

/// Waits until the topic's event stream is empty (every event taken).
async fn wait_backlog_empty(app: &TestApp) {
    let deadline = Instant::now() + WAIT;
    while backlog(app).await > 0 {
        assert!(Instant::now() < deadline, "events still wait in Redis");
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
}

#[actix_web::test]
async fn an_undelivered_reply_is_one_event_that_standard_webhooks_verifies() {
    // Arrange: a reply goes out.
    let endpoint = Endpoint::start(0, Duration::ZERO);
    let app = app(&endpoint).await;
    let inbound_sid = new_sid();
    assert_eq!(
        app.post("sample", &inbound(&inbound_sid, "hello"))
            .await
            .status,
        200
    );
    let created = app.twilio.wait_for_created(1, WAIT).await;
    let reply_sid = created[0]["sid"].as_str().unwrap().to_string();
    wait_stored(&app, &reply_sid).await;

    // Act: Twilio says it was not delivered, twice (callbacks repeat), then `sent` late.
    for status in ["undelivered", "undelivered", "sent"] {
        let callback = status_callback(&reply_sid, status, Some("30003"));
        let answer = app.post_raw_path("/status/sample", callback).await;
        assert_eq!(answer.status, 200);
    }

    // Assert: one event, naming the topic, the number, the inbound text, the reply's SID and
    // Twilio's code; signed so that the Standard Webhooks library verifies it.
    let got = endpoint.wait_for(1).await;
    wait_backlog_empty(&app).await;
    actix_web::rt::time::sleep(Duration::from_millis(600)).await;
    let got_later = endpoint.deliveries();
    assert_eq!(got_later.len(), 1, "one event, once: {got_later:?}");
    let event = got[0].json();
    assert_eq!(event["type"], "message.undelivered", "{event}");
    let data = &event["data"];
    assert_eq!(data["topic"], "sample");
    assert_eq!(data["number"], SENDER);
    assert_eq!(data["message_sid"], inbound_sid.as_str());
    assert_eq!(data["outbound_id"], Value::Null);
    assert_eq!(data["twilio_sid"], reply_sid.as_str());
    assert_eq!(data["status"], "undelivered");
    assert_eq!(data["error_code"], 30003);
    assert!(got[0].id.starts_with("evt_"), "{:?}", got[0]);
    assert_eq!(standard_webhooks_verifies(&got[0], SECRET), None);
    let other = "whsec_b3RoZXItc2VjcmV0LW9mLXRoaXJ0eS10d28tYnl0ZXM=";
    assert!(
        standard_webhooks_verifies(&got[0], other).is_some(),
        "another secret must not verify it"
    );
}

#[actix_web::test]
async fn stop_and_start_are_opt_out_and_opt_in_events_and_a_dead_letter_is_one_too() {
    // Arrange
    let endpoint = Endpoint::start(0, Duration::ZERO);
    let app = app(&endpoint).await;
    let (stop, start) = (new_sid(), new_sid());

    // Act: STOP, START, then a text whose reply Twilio refuses for good (21211).
    assert_eq!(
        app.post("sample", &inbound(&stop, "Stop.")).await.status,
        200
    );
    let got = endpoint.wait_for_type("number.opted_out").await;
    assert_eq!(
        app.post("sample", &inbound(&start, "START")).await.status,
        200
    );
    endpoint.wait_for_type("number.opted_in").await;
    app.twilio.script(vec![Scripted::error(400, Some(21211))]);
    let refused = new_sid();
    assert_eq!(
        app.post("sample", &inbound(&refused, "hi")).await.status,
        200
    );
    let all = endpoint.wait_for_type("message.dead_lettered").await;

    // Assert
    let opted_out = got[0].json();
    assert_eq!(opted_out["type"], "number.opted_out");
    assert_eq!(opted_out["data"]["number"], SENDER);
    assert_eq!(opted_out["data"]["message_sid"], stop.as_str());
    let kinds: Vec<Value> = all.iter().map(|d| d.json()["type"].clone()).collect();
    assert_eq!(
        kinds,
        [
            "number.opted_out",
            "number.opted_in",
            "message.dead_lettered"
        ],
        "in order, each once"
    );
    let dead = all[2].json();
    assert_eq!(dead["data"]["message_sid"], refused.as_str());
    assert_eq!(dead["data"]["error_code"], 21211);
    let error = dead["data"]["error"].as_str().unwrap();
    assert!(error.contains("21211"), "{error}");
    for delivery in &all {
        assert_eq!(standard_webhooks_verifies(delivery, SECRET), None);
    }
}

#[actix_web::test]
async fn a_failing_endpoint_gets_the_same_event_again_in_order_and_webhooks_do_not_wait() {
    // Arrange: an endpoint that answers its first two POSTs with a 500, each after 300 ms.
    let endpoint = Endpoint::start(2, Duration::from_millis(300));
    let app = app(&endpoint).await;
    let before = answer_times(&app, 30).await;

    // Act: STOP then START from one number while the endpoint fails; webhooks meanwhile.
    assert_eq!(
        app.post("sample", &inbound(&new_sid(), "STOP"))
            .await
            .status,
        200
    );
    assert_eq!(
        app.post("sample", &inbound(&new_sid(), "START"))
            .await
            .status,
        200
    );
    endpoint.wait_for(1).await;
    let during = answer_times(&app, 30).await;
    // The backlog shows, on /metrics and on the dashboard, while the endpoint fails.
    let metrics = app.get_path("/metrics").await.body;
    assert!(
        metrics.contains(r#"pyrowire_events_backlog{topic="sample"} 2"#),
        "{metrics}"
    );
    let (status, _, overview) = app
        .dashboard("GET", "/dashboard/api/overview", Some(DASHBOARD_TOKEN))
        .await;
    assert_eq!(status, 200);
    let overview: Value = serde_json::from_str(&overview).unwrap();
    assert_eq!(overview["topics"][0]["events_backlog"], 2, "{overview}");
    assert_eq!(overview["topics"][0]["events_dropped"], 0, "{overview}");
    let got = endpoint.wait_for(4).await;
    wait_backlog_empty(&app).await;

    // Assert: the STOP's event came three times under one webhook-id (two 500s, then taken),
    // the START's only after it, and the webhooks were answered as fast as before.
    let ids: Vec<&str> = got.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[1], ids[2]);
    assert_ne!(ids[2], ids[3]);
    let kinds: Vec<Value> = got.iter().map(|d| d.json()["type"].clone()).collect();
    assert_eq!(kinds[2], "number.opted_out");
    assert_eq!(kinds[3], "number.opted_in");
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(got[0].body, got[2].body, "the same body on every attempt");
    assert!(
        got[1].at.duration_since(got[0].at) >= Duration::from_millis(900),
        "a retry waits out its backoff: {:?}",
        got[1].at.duration_since(got[0].at)
    );
    assert_eq!(standard_webhooks_verifies(&got[2], SECRET), None);
    let (before, during) = (median(&before), median(&during));
    assert!(
        during <= before * 3 + Duration::from_millis(20),
        "webhooks answered in {during:?} (median) while the events endpoint failed, {before:?} before"
    );
}

/// Times `n` webhooks, one after another.
async fn answer_times(app: &TestApp, n: usize) -> Vec<Duration> {
    let mut times = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        let answer = app.post("sample", &inbound(&new_sid(), "hello")).await;
        assert_eq!(answer.status, 200);
        times.push(started.elapsed());
    }
    times
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

#[actix_web::test]
async fn events_need_a_standard_webhooks_secret_that_is_never_printed() {
    let endpoint = Endpoint::at("http://127.0.0.1:9/events");
    let settings = |topics: &str| settings_with(topics, "", "p", "http://127.0.0.1:9");
    let without =
        topic(r#""echo""#, &endpoint).replace(&format!("events_secret = \"{SECRET}\""), "");
    let error = settings(&without).unwrap_err().to_string();
    assert!(
        error.contains("topics.sample.events_secret") && error.contains("required"),
        "{error}"
    );
    let bad = "whsec_tooShort";
    let short = topic(r#""echo""#, &endpoint).replace(SECRET, bad);
    let error = settings(&short).unwrap_err().to_string();
    assert!(error.contains("topics.sample.events_secret"), "{error}");
    assert!(
        !error.contains("tooShort"),
        "the secret is printed: {error}"
    );
    let not_url = topic(r#""echo""#, &endpoint).replace(&endpoint.url, "ftp://x");
    let error = settings(&not_url).unwrap_err().to_string();
    assert!(error.contains("topics.sample.events_url"), "{error}");
}
