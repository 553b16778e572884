//! Broadcasts you can see and stop: texts under one id, counted by status as they move, and
//! cancelled part-way: the rest `cancelled`, nothing sent after the 204.

use std::time::{Duration, Instant};

use pyrowire::app::RunOptions;
use serde_json::{json, Value};

use crate::helpers::{api_profile, spawn_app_with, twilio_table, TestApp, API_TOKEN};

const TEXTS: usize = 50;

/// A topic sending four texts a second.
async fn paced_app() -> TestApp {
    let topics = format!(
        "[topics.sample]\nhandler = \"echo\"\nworkers = 4\nmax_sends_per_second = 4\n{}",
        twilio_table("sample")
    );
    spawn_app_with(&topics, &api_profile(), RunOptions::default()).await
}

fn fifty() -> Value {
    let messages: Vec<Value> = (0..TEXTS)
        .map(|n| json!({"to": format!("+1555010{n:04}"), "body": format!("offer {n}")}))
        .collect();
    json!({ "messages": messages })
}

async fn broadcast(app: &TestApp, path: &str, method: &str) -> (u16, Value) {
    app.api(method, path, Some(API_TOKEN), None).await
}

fn sum(counts: &Value) -> u64 {
    counts
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum()
}

#[actix_web::test]
async fn a_broadcast_is_counted_as_it_moves_and_cancelled_part_way_sends_nothing_more() {
    // Arrange
    let app = paced_app().await;
    let (status, answer) = app
        .api(
            "POST",
            "/api/topics/sample/broadcasts",
            Some(API_TOKEN),
            Some(&fifty()),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_str().unwrap().to_string();
    assert_eq!(answer["messages"].as_array().unwrap().len(), TEXTS);
    let path = format!("/api/topics/sample/broadcasts/{id}");

    // Act: watch it move, then cancel it once some went out.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen_moving = false;
    loop {
        let (status, view) = broadcast(&app, &path, "GET").await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["total"], TEXTS as u64, "{view}");
        assert_eq!(sum(&view["counts"]), TEXTS as u64, "counts add up: {view}");
        let sent = view["counts"]["sent"].as_u64().unwrap();
        seen_moving |= sent > 0 && view["counts"]["queued"].as_u64().unwrap() > 0;
        if sent >= 8 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the broadcast did not move: {view}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, _) = broadcast(&app, &path, "DELETE").await;
    assert_eq!(status, 204);
    // Sends claimed before the cancel may still be on their way to the stand-in.
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let sent_at_cancel = app.twilio.creates().len();

    // Assert: nothing more goes out (at four a second, 12 would in 3 s); the rest is cancelled.
    actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        app.twilio.creates().len(),
        sent_at_cancel,
        "sent after the cancel"
    );
    let (_, view) = broadcast(&app, &path, "GET").await;
    let counts = &view["counts"];
    assert_eq!(sum(counts), TEXTS as u64, "{view}");
    assert_eq!(
        counts["sent"].as_u64().unwrap() as usize,
        sent_at_cancel,
        "{view}"
    );
    assert_eq!(
        counts["cancelled"].as_u64().unwrap() as usize,
        TEXTS - sent_at_cancel,
        "{view}"
    );
    assert_eq!(view["cancelled"], true);
    assert!(seen_moving, "GET showed it part-sent at least once");
    let ids: Vec<String> = answer["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    let (_, last) = app.text_status("sample", ids.last().unwrap()).await;
    assert_eq!(
        last["status"], "cancelled",
        "texts keep their own ids: {last}"
    );
    let (status, _) = broadcast(&app, &path, "DELETE").await;
    assert_eq!(status, 204, "cancelling again is fine");
}

#[actix_web::test]
async fn a_broadcast_request_is_checked_like_messages_and_unknown_ids_are_404() {
    let app = paced_app().await;
    for (body, expected) in [
        (json!({"messages": []}), 400),
        (
            json!({"messages": [{"to": "+15550100000", "body": "x"}], "priority": "urgent"}),
            400,
        ),
        (
            json!({"messages": [{"to": "+15550100000", "body": "x"}], "id": "BCnope"}),
            400,
        ),
        (
            json!({"messages": [{"to": "+15550100000", "body": "x"}], "colour": "red"}),
            400,
        ),
        (json!({"messages": [{"to": "nope", "body": "x"}]}), 400),
    ] {
        let (status, answer) = app
            .api(
                "POST",
                "/api/topics/sample/broadcasts",
                Some(API_TOKEN),
                Some(&body),
            )
            .await;
        assert_eq!(status, expected, "{body} -> {answer}");
    }
    let too_many: Vec<Value> = (0..1001)
        .map(|n| json!({"to": format!("+1555020{n:04}"), "body": "x"}))
        .collect();
    let body = json!({ "messages": too_many });
    let (status, _) = app
        .api(
            "POST",
            "/api/topics/sample/broadcasts",
            Some(API_TOKEN),
            Some(&body),
        )
        .await;
    assert_eq!(status, 413, "at most 1000 texts per request");
    app.assert_nothing_queued("sample").await;
    let (status, _) = app
        .api(
            "POST",
            "/api/topics/sample/broadcasts",
            None,
            Some(&fifty()),
        )
        .await;
    assert_eq!(status, 401);
    let missing = "/api/topics/sample/broadcasts/BC0123456789abcdef0123456789abcdef";
    assert_eq!(broadcast(&app, missing, "GET").await.0, 404);
    assert_eq!(broadcast(&app, missing, "DELETE").await.0, 404);
    assert_eq!(
        broadcast(&app, "/api/topics/sample/broadcasts/x", "GET")
            .await
            .0,
        404
    );

    // A bulk broadcast by default; a message's own priority wins; `id` continues one.
    let body = json!({"messages": [{"to": "+15550100001", "body": "a"},
        {"to": "+15550100002", "body": "b", "priority": "interactive"}]});
    let (status, first) = app
        .api(
            "POST",
            "/api/topics/sample/broadcasts",
            Some(API_TOKEN),
            Some(&body),
        )
        .await;
    assert_eq!(status, 202, "{first}");
    let id = first["id"].as_str().unwrap();
    let (_, a) = app
        .text_status("sample", first["messages"][0]["id"].as_str().unwrap())
        .await;
    let (_, b) = app
        .text_status("sample", first["messages"][1]["id"].as_str().unwrap())
        .await;
    assert_eq!(
        (a["priority"].as_str(), b["priority"].as_str()),
        (Some("bulk"), Some("interactive"))
    );
    let more = json!({"id": id, "messages": [{"to": "+15550100003", "body": "c"}]});
    let (status, _) = app
        .api(
            "POST",
            "/api/topics/sample/broadcasts",
            Some(API_TOKEN),
            Some(&more),
        )
        .await;
    assert_eq!(status, 202);
    let (_, view) = broadcast(&app, &format!("/api/topics/sample/broadcasts/{id}"), "GET").await;
    assert_eq!(view["total"], 3, "{view}");
}
