//! One opt-out ledger per sender: topics that send from the same number share it, so a STOP to
//! one topic holds for texts from another; the per-topic ledgers of an earlier release are
//! merged at start.

use pyrowire::app::RunOptions;
use redis::AsyncCommands;
use serde_json::json;

use crate::common::new_sid;
use crate::helpers::{
    api_profile, inbound, random_prefix, spawn_app_on, spawn_app_with, twilio_table, SENDER,
};

/// Topics `a` and `b`, both sending from the stand-in's number, and `c` through a Messaging
/// Service.
fn topics() -> String {
    let mut out = String::new();
    for name in ["a", "b"] {
        out.push_str(&format!(
            "[topics.{name}]\nhandler = \"echo\"\naccept_response = \"ok\"\n{}\n",
            twilio_table(name)
        ));
    }
    out.push_str(&format!(
        "[topics.c]\nhandler = \"echo\"\n{}messaging_service_sid = \"MG00000000000000000000000000000001\"\n",
        twilio_table("c")
    ));
    out
}

#[actix_web::test]
async fn stop_to_one_topic_holds_for_a_text_from_another_topic_on_the_same_number() {
    // Arrange
    let app = spawn_app_with(&topics(), &api_profile(), RunOptions::default()).await;

    // Act: STOP to topic a; then texts to that number from b (same number) and c (a service).
    assert_eq!(
        app.post("a", &inbound(&new_sid(), "STOP")).await.status,
        200
    );
    let text = json!({"to": SENDER, "body": "from b"});
    let (status, from_b) = app.send_texts("b", &text).await;
    let (_, from_c) = app.send_texts("c", &text).await;
    assert_eq!(
        app.post("a", &inbound(&new_sid(), "START")).await.status,
        200
    );
    let (_, after_start) = app.send_texts("b", &text).await;

    // Assert
    assert_eq!(status, 202, "{from_b}");
    assert_eq!(from_b["messages"][0]["status"], "opted_out", "{from_b}");
    assert_eq!(from_c["messages"][0]["status"], "queued", "{from_c}");
    assert_eq!(
        after_start["messages"][0]["status"], "queued",
        "{after_start}"
    );
}

#[actix_web::test]
async fn per_topic_opt_outs_of_an_earlier_release_are_shared_at_start() {
    // Arrange: what an earlier release left: one number opted out of topic b only.
    let prefix = random_prefix();
    let client = redis::Client::open(crate::common::redis_url()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis
        .hset(
            format!("{prefix}:{{b}}:optout"),
            SENDER,
            1_700_000_000_000u64,
        )
        .await
        .unwrap();

    // Act
    let app = spawn_app_on(&prefix, &topics(), &api_profile(), RunOptions::default()).await;
    let (_, from_a) = app
        .send_texts("a", &json!({"to": SENDER, "body": "from a"}))
        .await;

    // Assert: a holds the opt-out too (with its time), c (another sender) does not.
    assert_eq!(from_a["messages"][0]["status"], "opted_out", "{from_a}");
    let at: Option<u64> = redis
        .hget(format!("{prefix}:{{a}}:optout"), SENDER)
        .await
        .unwrap();
    assert_eq!(at, Some(1_700_000_000_000));
    let in_c: bool = redis
        .hexists(format!("{prefix}:{{c}}:optout"), SENDER)
        .await
        .unwrap();
    assert!(!in_c);
    // A second start finds nothing to copy.
    let again = spawn_app_on(&prefix, &topics(), &api_profile(), RunOptions::default()).await;
    let (_, still) = again
        .send_texts("a", &json!({"to": SENDER, "body": "again"}))
        .await;
    assert_eq!(still["messages"][0]["status"], "opted_out");
}
