//! The outbound API's doors: a reused idempotency key with another message, a body of a hundred
//! thousand unknown fields, a key named twice, control characters, a media URL without a host,
//! and `Cache-Control: no-store` on every answer.

use pyrowire::app::RunOptions;
use serde_json::{json, Value};

use crate::helpers::{api_profile, default_topic, spawn_app_with, TestApp, API_TOKEN};

const TO: &str = "+15557654321";
const PATH: &str = "/api/topics/sample/messages";

/// No workers: what is queued stays queued, so the tests can count it.
async fn app() -> TestApp {
    let topics = default_topic("sample", r#""echo""#).replace("workers = 2", "workers = 0");
    spawn_app_with(&topics, &api_profile(), RunOptions::default()).await
}

/// POSTs raw bytes as JSON: status, headers' Cache-Control, body bytes.
async fn post_raw(app: &TestApp, path: &str, body: Vec<u8>) -> (u16, Option<String>, Vec<u8>) {
    let mut response = app
        .http
        .post(format!("{}{path}", app.address))
        .insert_header(("Authorization", format!("Bearer {API_TOKEN}")))
        .insert_header(("Content-Type", "application/json"))
        .send_body(body)
        .await
        .expect("request reaches the app");
    let cache = response
        .headers()
        .get("Cache-Control")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = response.body().limit(64 * 1024 * 1024).await.unwrap();
    (response.status().as_u16(), cache, bytes.to_vec())
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

#[actix_web::test]
async fn a_reused_idempotency_key_with_another_message_is_422_and_queues_nothing() {
    let app = app().await;
    let first = json!({"to": TO, "body": "Your table is ready", "idempotency_key": "k1"});
    let (status, answer) = app.send_texts("sample", &first).await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["messages"][0]["id"].clone();
    let queued = app.queue_len("sample").await;

    let (same, same_answer) = app.send_texts("sample", &first).await;
    let mut other_to = first.clone();
    other_to["to"] = json!("+15550001234");
    let mut other_body = first.clone();
    other_body["body"] = json!("Your table is NOT ready");
    let mut other_media = first.clone();
    other_media["media_url"] = json!("https://example.com/a.png");
    let batch = json!({"messages": [
        {"to": TO, "body": "fine", "idempotency_key": "k2"},
        other_body,
    ]});
    let mut answers = Vec::new();
    for body in [&other_to, &other_body, &other_media, &batch] {
        answers.push(app.send_texts("sample", body).await);
    }

    assert_eq!(same, 202);
    assert_eq!(same_answer["messages"][0]["id"], id, "the first id again");
    for (status, answer) in &answers[..3] {
        assert_eq!(*status, 422, "{answer}");
        assert_eq!(answer["index"], 0, "{answer}");
    }
    assert_eq!(answers[3].0, 422);
    assert_eq!(answers[3].1["index"], 1, "{}", answers[3].1);
    assert_eq!(
        app.queue_len("sample").await,
        queued,
        "nothing more was queued"
    );
    let (k2, _) = app
        .send_texts(
            "sample",
            &json!({"to": TO, "body": "other", "idempotency_key": "k2"}),
        )
        .await;
    assert_eq!(k2, 202, "k2 was never stored: the batch took nothing");
}

#[actix_web::test]
async fn a_body_of_eighty_thousand_unknown_fields_gets_a_short_answer_with_the_count() {
    let app = app().await;
    let mut body = String::from("{");
    for n in 0..80_000 {
        body.push_str(&format!("\"f{n}\":1,"));
    }
    body.push_str("\"to\":\"+15557654321\"}");
    assert!(body.len() < 1024 * 1024);

    let (status, cache, bytes) = post_raw(&app, PATH, body.into_bytes()).await;

    assert_eq!(status, 400);
    assert!(
        bytes.len() < 20_000,
        "the answer holds {} bytes",
        bytes.len()
    );
    let answer = json_of(&bytes);
    assert_eq!(answer["errors"].as_array().unwrap().len(), 100);
    assert_eq!(answer["total"], 80_000);
    assert_eq!(cache.as_deref(), Some("no-store"));
    app.assert_nothing_queued("sample").await;
}

#[actix_web::test]
async fn duplicate_keys_control_characters_and_hostless_media_are_refused() {
    let app = app().await;
    let cases: [(&str, Vec<u8>); 5] = [
        (
            "two to",
            format!(r#"{{"to": "{TO}", "to": "+15550001234", "body": "x"}}"#).into_bytes(),
        ),
        (
            "two messages",
            format!(r#"{{"messages": [{{"to": "{TO}", "body": "a"}}], "messages": []}}"#)
                .into_bytes(),
        ),
        (
            "NUL",
            serde_json::to_vec(&json!({"to": TO, "body": "a\u{0}b"})).unwrap(),
        ),
        (
            "escape",
            serde_json::to_vec(&json!({"to": TO, "body": "\u{1b}[2J cleared"})).unwrap(),
        ),
        (
            "no host",
            serde_json::to_vec(&json!({"to": TO, "media_url": ["http://"]})).unwrap(),
        ),
    ];

    for (case, body) in cases {
        let (status, cache, bytes) = post_raw(&app, PATH, body).await;
        assert_eq!(status, 400, "{case}: {}", String::from_utf8_lossy(&bytes));
        assert_eq!(cache.as_deref(), Some("no-store"), "{case}");
    }
    let (fine, _, bytes) = post_raw(
        &app,
        PATH,
        serde_json::to_vec(&json!({"to": TO, "body": "tab\there\r\nand a line"})).unwrap(),
    )
    .await;
    assert_eq!(fine, 202, "{}", String::from_utf8_lossy(&bytes));
}

#[actix_web::test]
async fn every_api_answer_says_no_store() {
    let app = app().await;
    let (_, answer) = app
        .send_texts("sample", &json!({"to": TO, "body": "hi"}))
        .await;
    let id = answer["messages"][0]["id"].as_str().unwrap().to_string();
    let requests = [
        ("POST", PATH.to_string(), Some(API_TOKEN), true),
        ("GET", format!("{PATH}/{id}"), Some(API_TOKEN), false),
        ("DELETE", format!("{PATH}/{id}"), Some(API_TOKEN), false),
        ("GET", format!("{PATH}/{id}"), None, false),
        (
            "GET",
            "/api/topics/nope/messages/x".to_string(),
            Some(API_TOKEN),
            false,
        ),
        ("GET", "/api/elsewhere".to_string(), Some(API_TOKEN), false),
    ];

    for (method, path, token, with_body) in requests {
        let mut request = app.http.request(
            actix_web::http::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", app.address),
        );
        if let Some(token) = token {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let response = if with_body {
            request.send_json(&json!({"to": TO, "body": "again"})).await
        } else {
            request.send().await
        }
        .unwrap();
        let cache = response
            .headers()
            .get("Cache-Control")
            .map(|v| v.to_str().unwrap());
        assert_eq!(
            cache,
            Some("no-store"),
            "{method} {path}: {}",
            response.status()
        );
    }
}

/// `n` texts, each to its own number, the last `reuse` of them with keys `k0`, `k1`, ...
fn batch(n: usize, first_body: &str) -> Value {
    let messages: Vec<Value> = (0..n)
        .map(|i| {
            let body = if i == 0 {
                first_body.to_string()
            } else {
                format!("text {i}")
            };
            json!({"to": format!("+1555{i:07}"), "body": body, "idempotency_key": format!("k{i}")})
        })
        .collect();
    json!({ "messages": messages })
}

#[actix_web::test]
async fn a_request_of_1000_texts_is_written_in_chunks_and_checked_whole_first() {
    let app = app().await;

    // A reused key on the last text refuses the whole request before any chunk is written.
    let (first, _) = app
        .send_texts(
            "sample",
            &json!({"to": "+15559999999", "body": "x", "idempotency_key": "k999"}),
        )
        .await;
    let (refused, answer) = app.send_texts("sample", &batch(1000, "hello")).await;
    let queued_after_refusal = app.queue_len("sample").await;
    // Without it, all 1000 are queued, in request order.
    let (accepted, all) = app.send_texts("sample", &batch(999, "hello")).await;
    let queued = app.queue_len("sample").await;
    // The same request again queues nothing more and answers the same ids.
    let (again, repeat) = app.send_texts("sample", &batch(999, "hello")).await;

    assert_eq!(first, 202);
    assert_eq!(refused, 422, "{answer}");
    assert_eq!(answer["index"], 999);
    assert_eq!(
        queued_after_refusal, 1,
        "nothing of the refused request was written"
    );
    assert_eq!(accepted, 202);
    let ids: Vec<&Value> = all["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["id"])
        .collect();
    assert_eq!(ids.len(), 999);
    assert_eq!(all["messages"][998]["to"], "+15550000998");
    assert_eq!(queued, 1000);
    assert_eq!(again, 202);
    assert_eq!(app.queue_len("sample").await, 1000);
    let repeat_ids: Vec<&Value> = repeat["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["id"])
        .collect();
    assert_eq!(repeat_ids, ids);
}

#[actix_web::test]
async fn a_request_the_queue_has_no_room_for_is_refused_whole() {
    let topics = default_topic("sample", r#""echo""#).replace("workers = 2", "workers = 0");
    let profile = format!("{}\nmax_queue_depth = 120\n", api_profile());
    let app = spawn_app_with(&topics, &profile, RunOptions::default()).await;

    let (status, answer) = app.send_texts("sample", &batch(200, "hello")).await;

    assert_eq!(status, 503, "{answer}");
    assert_eq!(app.queue_len("sample").await, 0, "no chunk was written");
}
