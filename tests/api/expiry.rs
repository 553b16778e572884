//! Texts that expire (`expires_at`, `validity_s`): one not sent in time is `expired` and never
//! POSTed; one sent in time tells Twilio the time left as `ValidityPeriod`.

use std::time::Duration;

use pyrowire::app::RunOptions;
use serde_json::{json, Value};

use crate::helpers::{api_profile, spawn_app_with, text_ids, twilio_table, TestApp};

const WAIT: Duration = Duration::from_secs(20);

/// A topic paced to `per_second` segments a second.
async fn paced_app(per_second: u32) -> TestApp {
    let topics = format!(
        r#"
[topics.sample]
handler = "echo"
workers = 8
max_sends_per_second = {per_second}
{}"#,
        twilio_table("sample")
    );
    spawn_app_with(&topics, &api_profile(), RunOptions::default()).await
}

#[actix_web::test]
async fn a_text_stuck_behind_a_paced_backlog_expires_unsent_and_one_in_time_carries_the_validity() {
    // Arrange: one text a second; six ahead of the one that may wait only 2 s.
    let app = paced_app(1).await;
    let backlog: Vec<Value> = (0..6)
        .map(|n| json!({"to": format!("+1555000100{n}"), "body": format!("backlog {n}")}))
        .collect();
    let (status, answer) = app
        .send_texts("sample", &json!({"messages": backlog}))
        .await;
    assert_eq!(status, 202, "{answer}");
    let behind = json!({"to": "+15550002000", "body": "only worth it soon", "validity_s": 2});
    let in_time = json!({"to": "+15550003000", "body": "worth it for an hour",
        "expires_at": rfc3339_in(3600)});

    // Act
    let (status, late) = app.send_texts("sample", &behind).await;
    assert_eq!(status, 202, "{late}");
    let (status, early) = app.send_texts("sample", &in_time).await;
    assert_eq!(status, 202, "{early}");

    // Assert: the short-lived text is expired and never reached Twilio; the other one went with
    // the time it had left.
    let expired = app.wait_text(&text_ids(&late)[0], "expired", WAIT).await;
    assert_eq!(expired["twilio_sid"], Value::Null, "{expired}");
    app.wait_text(&text_ids(&early)[0], "sent", WAIT).await;
    let creates = app.twilio.creates();
    assert!(
        creates
            .iter()
            .all(|c| c.field("To") != Some("+15550002000")),
        "an expired text was sent"
    );
    let sent = creates
        .iter()
        .find(|c| c.field("To") == Some("+15550003000"))
        .expect("the text in time was sent");
    let validity: u64 = sent.field("ValidityPeriod").unwrap().parse().unwrap();
    assert!(
        (3500..=3600).contains(&validity),
        "ValidityPeriod {validity}"
    );
    for create in creates
        .iter()
        .filter(|c| c.field("Body").unwrap_or_default().starts_with("backlog"))
    {
        assert_eq!(
            create.field("ValidityPeriod"),
            None,
            "no expiry, no ValidityPeriod"
        );
    }
    let metrics = app.get_path("/metrics").await.body;
    assert!(
        metrics.contains(r#"pyrowire_outbound_finished_total{outcome="expired",topic="sample"} 1"#),
        "{metrics}"
    );
}

#[actix_web::test]
async fn bad_or_contradictory_expiries_are_refused_and_nothing_is_queued() {
    let app = paced_app(10).await;
    for (text, field) in [
        (
            json!({"to": "+15550001111", "body": "x", "validity_s": 0}),
            "validity_s",
        ),
        (
            json!({"to": "+15550001111", "body": "x", "validity_s": "10"}),
            "validity_s",
        ),
        (
            json!({"to": "+15550001111", "body": "x", "validity_s": 10,
                "expires_at": rfc3339_in(60)}),
            "validity_s",
        ),
        (
            json!({"to": "+15550001111", "body": "x", "expires_at": "2020-01-01T00:00:00Z"}),
            "expires_at",
        ),
        (
            json!({"to": "+15550001111", "body": "x", "send_at": rfc3339_in(600),
                "expires_at": rfc3339_in(60)}),
            "expires_at",
        ),
    ] {
        let (status, answer) = app.send_texts("sample", &text).await;
        assert_eq!(status, 400, "{text} -> {answer}");
        assert_eq!(answer["errors"][0]["field"], field, "{text} -> {answer}");
    }
    app.assert_nothing_queued("sample").await;
}

/// RFC 3339 for `seconds` from now.
fn rfc3339_in(seconds: i64) -> String {
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}
