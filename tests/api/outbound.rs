//! Speaking first: the outbound API queues texts into the replies' durable path. What reached the
//! Twilio stand-in and Redis is checked, as for replies.

use std::time::{Duration, Instant};

use pyrowire::app::RunOptions;
use serde_json::{json, Value};

use crate::common::{new_sid, FROM_NUMBER};
use crate::helpers::{
    api_profile, default_topic, inbound_from, spawn_app, spawn_app_with, text_ids, TestApp,
    API_TOKEN,
};

const WAIT: Duration = Duration::from_secs(15);
const TO: &str = "+15557654321";

async fn app_with_api(topics: &str) -> TestApp {
    spawn_app_with(topics, &api_profile(), RunOptions::default()).await
}

fn echo_topic() -> String {
    default_topic("sample", r#""echo""#)
}

/// Texts waiting in the topic's scheduled set.
async fn scheduled_len(app: &TestApp) -> u64 {
    let key = app.key("sample", "scheduled");
    redis::AsyncCommands::zcard(&mut app.redis.clone(), key)
        .await
        .unwrap()
}

/// Nothing was queued, scheduled or remembered for the topic.
async fn assert_no_texts(app: &TestApp) {
    assert_eq!(app.queue_len("sample").await, 0);
    let keys = app.keys("sample").await;
    assert!(
        keys.iter()
            .all(|k| !k.contains(":out:") && !k.contains(":idem:") && !k.ends_with(":scheduled")),
        "{keys:?}"
    );
}

#[actix_web::test]
async fn the_api_is_off_without_a_token_and_refuses_a_missing_or_wrong_one() {
    let off = spawn_app(&echo_topic()).await;
    let text = json!({"to": TO, "body": "hi"});
    let (status, _) = off
        .api(
            "POST",
            "/api/topics/sample/messages",
            Some(API_TOKEN),
            Some(&text),
        )
        .await;
    assert_eq!(status, 404);

    let app = app_with_api(&echo_topic()).await;
    for token in [None, Some("wrong"), Some("test-api-token-0123456789abcdeX")] {
        let (status, _) = app
            .api("POST", "/api/topics/sample/messages", token, Some(&text))
            .await;
        assert_eq!(status, 401, "token {token:?}");
    }
    assert_no_texts(&app).await;
    let (status, _) = app
        .api("GET", "/api/topics/sample/messages/OB0", None, None)
        .await;
    assert_eq!(status, 401);
}

#[actix_web::test]
async fn one_text_is_sent_once_and_its_status_follows_twilio() {
    let app = app_with_api(&echo_topic()).await;
    let (status, answer) = app
        .send_texts("sample", &json!({"to": TO, "body": "Your table is ready"}))
        .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["messages"][0]["status"], "queued");
    assert_eq!(answer["messages"][0]["to"], TO);
    let id = text_ids(&answer).remove(0);

    let view = app.wait_text(&id, "sent", WAIT).await;
    let creates = app.twilio.creates();
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0].field("To"), Some(TO));
    assert_eq!(creates[0].field("From"), Some(FROM_NUMBER));
    assert_eq!(creates[0].field("Body"), Some("Your table is ready"));
    let twilio_sid = view["twilio_sid"].as_str().unwrap().to_string();
    assert!(twilio_sid.starts_with("SM"), "{view}");

    let callback = |status: &str| {
        serde_urlencoded::to_string([
            ("MessageSid", twilio_sid.as_str()),
            ("MessageStatus", status),
            ("To", TO),
        ])
        .unwrap()
        .into_bytes()
    };
    let answer = app
        .post_raw_path("/status/sample", callback("delivered"))
        .await;
    assert_eq!(answer.status, 200);
    let view = app.wait_text(&id, "delivered", WAIT).await;
    // Statuses only move forward: `read` after `delivered`, and a late `sent` changes nothing.
    app.post_raw_path("/status/sample", callback("read")).await;
    app.post_raw_path("/status/sample", callback("sent")).await;
    let read = app.wait_text(&id, "read", WAIT).await;
    assert_eq!(read["history"], json!(["queued", "delivered", "read"]));
    assert_eq!(view["id"], id.as_str());
    assert_eq!(view["error"], Value::Null);
    assert!(
        view["history"]
            .as_array()
            .unwrap()
            .contains(&json!("delivered")),
        "{view}"
    );
    assert_eq!(app.twilio.creates().len(), 1);
}

#[actix_web::test]
async fn an_opted_out_number_gets_nothing() {
    let app = app_with_api(&echo_topic()).await;
    let stop = app
        .post("sample", &inbound_from(&new_sid(), "STOP", TO))
        .await;
    assert_eq!(stop.status, 200);
    let (status, answer) = app
        .send_texts("sample", &json!({"to": TO, "body": "sale!"}))
        .await;
    assert_eq!(status, 202);
    assert_eq!(answer["messages"][0]["status"], "opted_out");
    let id = text_ids(&answer).remove(0);
    let (_, view) = app.text_status("sample", &id).await;
    assert_eq!(view["status"], "opted_out");
    assert_eq!(app.queue_len("sample").await, 0);
    assert!(app.twilio.creates().is_empty());
}

#[actix_web::test]
async fn the_same_idempotency_key_twice_sends_one_text_with_one_id() {
    let app = app_with_api(&echo_topic()).await;
    let text = json!({"to": TO, "body": "once", "idempotency_key": "order-42"});
    let (_, first) = app.send_texts("sample", &text).await;
    let (status, second) = app.send_texts("sample", &text).await;
    assert_eq!(status, 202);
    assert_eq!(text_ids(&first), text_ids(&second));
    app.wait_text(&text_ids(&first)[0], "sent", WAIT).await;
    app.wait_until_drained("sample", WAIT).await;
    assert_eq!(app.twilio.creates().len(), 1);
}

#[actix_web::test]
async fn one_bad_message_among_ten_queues_nothing_and_is_named() {
    let app = app_with_api(&echo_topic()).await;
    let mut messages: Vec<Value> = (0..10)
        .map(|i| json!({"to": format!("+1555000{i:04}"), "body": format!("hi {i}")}))
        .collect();
    messages[6] = json!({"to": "555-0100", "body": "bad number"});
    let (status, answer) = app
        .send_texts("sample", &json!({ "messages": messages }))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["errors"],
        json!([{"index": 6, "field": "to", "message": "must be an E.164 number: + and 2 to 15 digits, the first not 0"}])
    );
    assert_no_texts(&app).await;
}

#[actix_web::test]
async fn bad_requests_get_their_status_and_queue_nothing() {
    let app = app_with_api(&echo_topic()).await;
    let path = "/api/topics/sample/messages";
    let (status, _) = app
        .api(
            "POST",
            "/api/topics/nope/messages",
            Some(API_TOKEN),
            Some(&json!({"to": TO, "body": "x"})),
        )
        .await;
    assert_eq!(status, 404);
    let too_many: Vec<Value> = (0..1001).map(|_| json!({"to": TO, "body": "x"})).collect();
    let (status, _) = app
        .api(
            "POST",
            path,
            Some(API_TOKEN),
            Some(&json!({ "messages": too_many })),
        )
        .await;
    assert_eq!(status, 413);
    let (status, _) = app
        .api(
            "POST",
            path,
            Some(API_TOKEN),
            Some(&json!({"to": TO, "body": "x".repeat(1601)})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .api(
            "POST",
            path,
            Some(API_TOKEN),
            Some(&json!({"to": TO, "body": "y".repeat(1_100_000)})),
        )
        .await;
    assert_eq!(status, 413);
    let form = app
        .post_raw_path(path, b"to=%2B15551234567&body=x".to_vec())
        .await;
    assert_eq!(
        form.status, 401,
        "the token is checked before anything else"
    );
    assert_no_texts(&app).await;
}

#[actix_web::test]
async fn a_form_body_is_refused_with_415() {
    let app = app_with_api(&echo_topic()).await;
    let url = format!("{}/api/topics/sample/messages", app.address);
    let response = awc::Client::default()
        .post(url)
        .insert_header(("Authorization", format!("Bearer {API_TOKEN}")))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .send_body("to=%2B15551234567&body=x")
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    assert_no_texts(&app).await;
}

#[actix_web::test]
async fn a_scheduled_text_waits_for_its_time_and_a_cancelled_one_never_goes() {
    let app = app_with_api(&echo_topic()).await;
    let at = |secs: i64| {
        let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(secs);
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let (status, answer) = app
        .send_texts(
            "sample",
            &json!({"messages": [
                {"to": TO, "body": "in three seconds", "send_at": at(3)},
                {"to": "+15557654322", "body": "cancelled", "send_at": at(3)},
            ]}),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let sent_at = Instant::now();
    assert_eq!(answer["messages"][0]["status"], "scheduled");
    let ids = text_ids(&answer);
    let cancel = format!("/api/topics/sample/messages/{}", ids[1]);
    let (status, _) = app.api("DELETE", &cancel, Some(API_TOKEN), None).await;
    assert_eq!(status, 204);
    let (_, view) = app.text_status("sample", &ids[1]).await;
    assert_eq!(view["status"], "cancelled");

    app.wait_text(&ids[0], "sent", WAIT).await;
    let posted = app.twilio.creates()[0].at;
    assert!(
        posted.duration_since(sent_at) >= Duration::from_millis(2500),
        "sent early: {:?} after the request",
        posted.duration_since(sent_at)
    );
    let (status, conflict) = app
        .api(
            "DELETE",
            &format!("/api/topics/sample/messages/{}", ids[0]),
            Some(API_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 409, "{conflict}");
    // Nothing is left that could still be sent: no text scheduled, none queued.
    assert_eq!(scheduled_len(&app).await, 0);
    app.wait_until_drained("sample", WAIT).await;
    let bodies: Vec<String> = app
        .twilio
        .creates()
        .iter()
        .map(|r| r.field("Body").unwrap().to_string())
        .collect();
    assert_eq!(bodies, vec!["in three seconds"]);
}

#[actix_web::test]
async fn every_per_topic_series_exists_at_zero_and_outbound_texts_are_counted() {
    let app = app_with_api(&echo_topic()).await;
    let metrics = app.get_path("/metrics").await.body;
    for series in [
        r#"pyrowire_received_total{topic="sample"} 0"#,
        r#"pyrowire_rejected_total{topic="sample",validator="profanity"} 0"#,
        r#"pyrowire_processed_total{outcome="dead_lettered",topic="sample"} 0"#,
        r#"pyrowire_sent_total{encoding="ucs2",topic="sample"} 0"#,
        r#"pyrowire_outbound_accepted_total{result="queued",topic="sample"} 0"#,
        r#"pyrowire_outbound_accepted_total{result="scheduled",topic="sample"} 0"#,
        r#"pyrowire_outbound_accepted_total{result="opted_out",topic="sample"} 0"#,
        r#"pyrowire_outbound_accepted_total{result="duplicate",topic="sample"} 0"#,
        r#"pyrowire_outbound_finished_total{outcome="sent",topic="sample"} 0"#,
        r#"pyrowire_outbound_finished_total{outcome="opted_out",topic="sample"} 0"#,
        r#"pyrowire_outbound_finished_total{outcome="failed",topic="sample"} 0"#,
        r#"pyrowire_dead_letters{topic="sample"} 0"#,
        r#"pyrowire_sessions{topic="sample"} 0"#,
    ] {
        assert!(metrics.contains(series), "no `{series}` in\n{metrics}");
    }

    app.post("sample", &inbound_from(&new_sid(), "STOP", "+15550000001"))
        .await;
    let (_, answer) = app
        .send_texts(
            "sample",
            &json!({"messages": [
                {"to": TO, "body": "one", "idempotency_key": "metrics-1"},
                {"to": "+15550000001", "body": "opted out"},
            ]}),
        )
        .await;
    app.wait_text(&text_ids(&answer)[0], "sent", WAIT).await;
    let again = json!({"to": TO, "body": "one", "idempotency_key": "metrics-1"});
    let (status, _) = app.send_texts("sample", &again).await;
    assert_eq!(status, 202);
    let metrics = app.get_path("/metrics").await.body;
    // What the API answered sums to the texts posted (3); what the workers finished, to the
    // texts sent or skipped (1).
    for series in [
        r#"pyrowire_outbound_accepted_total{result="queued",topic="sample"} 1"#,
        r#"pyrowire_outbound_accepted_total{result="opted_out",topic="sample"} 1"#,
        r#"pyrowire_outbound_accepted_total{result="duplicate",topic="sample"} 1"#,
        r#"pyrowire_outbound_finished_total{outcome="sent",topic="sample"} 1"#,
        r#"pyrowire_outbound_finished_total{outcome="opted_out",topic="sample"} 0"#,
    ] {
        assert!(metrics.contains(series), "no `{series}` in\n{metrics}");
    }
}

#[actix_web::test]
async fn a_scheduled_text_to_a_number_that_opts_out_before_its_time_is_not_sent() {
    let app = app_with_api(&echo_topic()).await;
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (_, answer) = app
        .send_texts("sample", &json!({"to": TO, "body": "later", "send_at": at}))
        .await;
    assert_eq!(answer["messages"][0]["status"], "scheduled");
    app.post("sample", &inbound_from(&new_sid(), "STOP", TO))
        .await;
    let view = app
        .wait_text(&text_ids(&answer)[0], "opted_out", WAIT)
        .await;
    assert_eq!(view["twilio_sid"], Value::Null);
    // The due script marked it instead of queueing it: nothing is left that could be sent.
    assert_eq!(scheduled_len(&app).await, 0);
    assert_eq!(app.queue_len("sample").await, 0);
    assert!(app.twilio.creates().is_empty());
}

#[actix_web::test]
async fn a_topic_with_a_messaging_service_sends_outbound_texts_through_it() {
    const SERVICE: &str = "MG0123456789abcdef0123456789abcdef";
    let topic = format!(
        r#"
[topics.sample]
handler = "echo"
[topics.sample.twilio]
account_sid = "${{TWILIO_ACCOUNT_SID}}"
auth_token = "${{TWILIO_AUTH_TOKEN}}"
messaging_service_sid = "{SERVICE}"
api_base = "${{TWILIO_API_BASE}}"
"#
    );
    let app = app_with_api(&topic).await;
    let (_, answer) = app
        .send_texts("sample", &json!({"to": TO, "body": "via the pool"}))
        .await;
    app.wait_text(&text_ids(&answer)[0], "sent", WAIT).await;
    let creates = app.twilio.creates();
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0].field("MessagingServiceSid"), Some(SERVICE));
    assert_eq!(creates[0].field("From"), None);
    assert_eq!(creates[0].field("Body"), Some("via the pool"));
}

#[actix_web::test]
async fn a_rust_program_queues_through_the_outbox_of_the_running_system() {
    let app = spawn_app(&echo_topic()).await; // the HTTP API need not be on
    let outbox = pyrowire::Outbox::connect(&app.settings).await.unwrap();
    let text = pyrowire::domain::TextFields {
        to: Some(TO.into()),
        body: Some("from a program".into()),
        ..Default::default()
    }
    .check(pyrowire::domain::now_ms())
    .unwrap();
    let accepted = outbox.send("sample", &[text]).await.unwrap();
    assert_eq!(accepted[0].status.as_str(), "queued");
    app.twilio.wait_for_created(1, WAIT).await;
    let deadline = Instant::now() + WAIT;
    let view = loop {
        let view = outbox
            .status("sample", &accepted[0].id)
            .await
            .unwrap()
            .unwrap();
        if view.status.as_str() == "sent" || Instant::now() > deadline {
            break view;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(view.status.as_str(), "sent");
    assert_eq!(app.twilio.created_bodies(), vec!["from a program"]);
    assert!(matches!(
        outbox.send("nope", &[]).await,
        Err(pyrowire::OutboxError::UnknownTopic(_))
    ));

    // A broadcast through the same handle: counted, then cancelled (nothing left to cancel).
    let texts: Vec<_> = ["+15550107001", "+15550107002"]
        .iter()
        .map(|to| {
            pyrowire::domain::TextFields {
                to: Some(to.to_string()),
                body: Some("to everyone".into()),
                send_at: Some(pyrowire::domain::rfc3339(
                    pyrowire::domain::now_ms() + 3_600_000,
                )),
                ..Default::default()
            }
            .check(pyrowire::domain::now_ms())
            .unwrap()
        })
        .collect();
    let (id, accepted) = outbox.broadcast("sample", &texts, None).await.unwrap();
    assert_eq!(accepted.len(), 2);
    let view = outbox
        .broadcast_status("sample", &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((view.total, view.counts["scheduled"]), (2, 2), "{view:?}");
    assert_eq!(
        outbox.cancel_broadcast("sample", &id).await.unwrap(),
        Some(2)
    );
    let view = outbox
        .broadcast_status("sample", &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.counts["cancelled"], 2, "{view:?}");
}

#[actix_web::test]
async fn a_text_twilio_refuses_is_dead_lettered_and_a_requeue_sends_it() {
    let token = "dashboard-token-for-outbound-tests";
    let profile = format!("{}\ndashboard_token = \"{token}\"", api_profile());
    let app = spawn_app_with(&echo_topic(), &profile, RunOptions::default()).await;
    app.twilio
        .script(vec![crate::common::Scripted::error(400, Some(21211))]);
    let (_, answer) = app
        .send_texts("sample", &json!({"to": TO, "body": "try me"}))
        .await;
    let id = text_ids(&answer).remove(0);
    let view = app.wait_text(&id, "dead_lettered", WAIT).await;
    assert!(view["error"].as_str().unwrap().contains("21211"), "{view}");
    let path = format!("/dashboard/api/topics/sample/dead/{id}/requeue");
    let (status, _, body) = app.dashboard("POST", &path, Some(token)).await;
    assert_eq!(status, 200, "{body}");
    app.wait_text(&id, "sent", WAIT).await;
    assert_eq!(app.twilio.created_bodies(), vec!["try me"]);
}
