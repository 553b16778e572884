//! A conversation across SIGKILL: the process dies after the handler ran and its reply reached
//! Twilio, before the job's completion (and so the session) was recorded. After a restart the
//! job runs again, sees the session as it was, sends nothing twice, and the session moves on
//! exactly once.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::app::{bodies, start_app};
use crate::common::{new_sid, redis_url, FakeTwilio, ACCOUNT_SID, AUTH_TOKEN};
use crate::server::{Pyrowire, Role};
use crate::setup::Setup;
use crate::webhooks::{post_webhook, webhook_client, Answer, Inbound};
use crate::{secs, SETTLE};

const SENDER: &str = "+15550001111";

/// A webhook application that adds one to the session's `count` and replies with it.
fn counter(body: &Value) -> Value {
    let next = body["session"]["count"].as_u64().unwrap_or(0) + 1;
    json!({"reply": format!("count {next}"), "session": {"count": next}})
}

async fn text(address: &str, body: &str) {
    let message = Inbound {
        sid: new_sid(),
        from: SENDER.to_string(),
        body: body.to_string(),
    };
    let answer = post_webhook(&webhook_client(secs(5)), address, &message).await;
    assert_eq!(answer, Answer::Accepted);
}

/// Waits until the stand-in has created `n` messages.
async fn wait_created(twilio: &FakeTwilio, n: usize) {
    twilio.wait_for_created(n, SETTLE).await;
}

/// Polls until the session's count is `count`, or panics.
async fn wait_session(setup: &Setup, count: u64) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let session = setup.store.session(SENDER).unwrap();
        if session == Some(json!({"count": count})) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "session never reached count {count}: {session:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn sigkill_between_the_reply_and_the_completion_moves_the_session_on_exactly_once() {
    let _load = crate::shared().await;
    // Arrange
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let (url, calls) = start_app(counter);
    let handler = format!(r#"{{ kind = "webhook", url = "{url}", timeout_ms = 5000 }}"#);
    let setup = Setup::with_handler(&redis_url(), &twilio.base, 2, &handler);
    let mut server = Pyrowire::start(&setup.path, Role::All).await;
    text(&server.address, "one").await;
    wait_created(&twilio, 1).await;
    text(&server.address, "two").await;
    wait_created(&twilio, 2).await;
    wait_session(&setup, 2).await;

    // Act: the third reply is created at Twilio but its answer is held back, so the worker is
    // still waiting for it, the job unfinished, when the process dies.
    twilio.set_delay(Duration::from_secs(30));
    text(&server.address, "three").await;
    wait_created(&twilio, 3).await;
    let session_at_kill = setup.store.session(SENDER).unwrap();
    server.sigkill();
    twilio.set_delay(Duration::ZERO);
    let restarted = Pyrowire::start(&setup.path, Role::All).await;
    wait_session(&setup, 3).await;
    text(&restarted.address, "four").await;
    wait_created(&twilio, 4).await;
    wait_session(&setup, 4).await;

    // Assert
    assert_eq!(session_at_kill, Some(json!({"count": 2})));
    let replies: Vec<String> = twilio
        .creates()
        .iter()
        .filter_map(|r| r.field("Body").map(str::to_string))
        .collect();
    assert_eq!(replies, vec!["count 1", "count 2", "count 3", "count 4"]);
    // The third text's handler ran twice (before the kill and after), both times on count 2.
    let seen: Vec<Option<u64>> = bodies(&calls)
        .iter()
        .map(|b| b["session"]["count"].as_u64())
        .collect();
    assert_eq!(seen, vec![None, Some(1), Some(2), Some(2), Some(3)]);
}

/// An application that asks to hear back within 2 s, and says "Still there?" when the wait is
/// over.
fn waiting(body: &Value) -> Value {
    match body["event"].as_str() {
        Some("reply_timeout") => json!({"reply": "Still there?"}),
        _ => json!({"reply": "Will you come?", "expect_reply_within_s": 2}),
    }
}

#[actix_web::test]
async fn a_reply_timeout_survives_sigkill_and_fires_once_after_the_restart() {
    let _load = crate::shared().await;
    // Arrange: the wait is recorded with the completion, then the process dies.
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let (url, calls) = start_app(waiting);
    let handler = format!(r#"{{ kind = "webhook", url = "{url}", timeout_ms = 5000 }}"#);
    let setup = Setup::with_handler(&redis_url(), &twilio.base, 2, &handler);
    let mut server = Pyrowire::start(&setup.path, Role::All).await;
    text(&server.address, "remind me").await;
    wait_created(&twilio, 1).await;
    let deadline = Instant::now() + SETTLE;
    while setup.store.waiting(SENDER).unwrap().is_none() {
        assert!(Instant::now() < deadline, "no wait was recorded");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }

    // Act
    server.sigkill();
    let _restarted = Pyrowire::start(&setup.path, Role::All).await;
    wait_created(&twilio, 2).await;
    // Time for a second firing, were there one.
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;

    // Assert
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].1["event"], "message");
    assert_eq!(calls[1].1["event"], "reply_timeout");
    assert_eq!(calls[1].1["message"], "");
    assert!(calls[1].0 - calls[0].0 >= Duration::from_secs(2));
    let replies = twilio.created_bodies();
    assert_eq!(replies, vec!["Will you come?", "Still there?"]);
    assert_eq!(setup.store.waiting(SENDER).unwrap(), None);
}
