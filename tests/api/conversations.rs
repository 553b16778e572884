//! Conversations that start with pyrowire's own text: an outbound text that opens the
//! recipient's session, an opt-in or help keyword that reaches the handler of a sender with a
//! live session, and a topic's own keywords.

use std::time::{Duration, Instant};

use pyrowire::app::RunOptions;
use redis::AsyncCommands;
use serde_json::{json, Value};

use crate::common::app::{bodies, start_app};
use crate::common::new_sid;
use crate::helpers::{api_profile, inbound_from, spawn_app_with, twilio_table, TestApp};

const WAIT: Duration = Duration::from_secs(10);
const PATIENT: &str = "+15557650042";

/// The appointment application: a YES with an appointment in the session confirms it and ends
/// the session; anything else is answered with what it saw.
fn appointments(body: &Value) -> Value {
    let appointment = &body["session"]["appointment"];
    match body["keyword"].as_str() {
        Some("opt_in") if !appointment.is_null() => json!({
            "reply": format!("Appointment {appointment} confirmed. See you at 9."),
            "session": null,
        }),
        _ => json!({"reply": format!("You said {}", body["message"])}),
    }
}

/// An application that asks to hear back within 2 s of "remind me" and answers the timeout
/// with "Still there?" (and anything else with "Noted").
fn waiting(body: &Value) -> Value {
    match (body["event"].as_str(), body["message"].as_str()) {
        (Some("reply_timeout"), _) => json!({"reply": "Still there?"}),
        (_, Some("remind me")) => json!({
            "reply": "Will you come?",
            "expect_reply_within_s": 2,
            "session": {"asked": true},
        }),
        (_, Some("too long")) => json!({"expect_reply_within_s": 40_000_000}),
        _ => json!({"reply": "Noted"}),
    }
}

fn topic(handler: &str, keywords: &str) -> String {
    format!(
        r#"
[topics.sample]
handler = {handler}
accept_response = "ok"
help_response = "Text YES to confirm."
[topics.sample.keywords]
{keywords}
[topics.sample.retry]
max_attempts = 2
backoff_initial_ms = 20
backoff_max_ms = 50
{}"#,
        twilio_table("sample")
    )
}

async fn app(handler: &str, keywords: &str) -> TestApp {
    let topics = topic(handler, keywords);
    spawn_app_with(&topics, &api_profile(), RunOptions::default()).await
}

/// Polls the recipient's session until it is there; its JSON.
async fn wait_session(app: &TestApp, number: &str) -> Value {
    let key = app.key("sample", &format!("session:{number}"));
    let deadline = Instant::now() + WAIT;
    loop {
        let mut conn = app.redis.clone();
        let saved: Option<String> = conn.get(&key).await.unwrap();
        if let Some(saved) = saved {
            return serde_json::from_str(&saved).unwrap();
        }
        assert!(Instant::now() < deadline, "no session at {key}");
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn is_opted_out(app: &TestApp, number: &str) -> bool {
    let mut conn = app.redis.clone();
    conn.hexists(app.key("sample", "optout"), number)
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_reminder_opens_the_session_and_the_patients_yes_reaches_the_handler_with_it() {
    // Arrange
    let (url, calls) = start_app(appointments);
    let app = app(&format!(r#"{{ kind = "webhook", url = "{url}" }}"#), "").await;
    let reminder = json!({
        "to": PATIENT,
        "body": "Your appointment is tomorrow at 9. Reply YES to confirm or NO to cancel.",
        "session": {"appointment": 42},
    });
    let (status, answer) = app.send_texts("sample", &reminder).await;
    assert_eq!(status, 202, "{answer}");
    app.twilio.wait_for_created(1, WAIT).await;
    assert_eq!(
        wait_session(&app, PATIENT).await,
        json!({"appointment": 42})
    );

    // Act
    let answer = app
        .post("sample", &inbound_from(&new_sid(), "Yes!", PATIENT))
        .await;

    // Assert: the opt-in is answered as Twilio expects, and the app hears it with its session.
    assert_eq!(answer.status, 200);
    assert!(!answer.body.contains("<Message>"), "{}", answer.body);
    let created = app.twilio.wait_for_created(2, WAIT).await;
    assert_eq!(
        created[1]["body"], "Appointment 42 confirmed. See you at 9.",
        "{created:?}"
    );
    let call = bodies(&calls)[0].clone();
    assert_eq!(call["keyword"], "opt_in", "{call}");
    assert_eq!(call["message"], "Yes!");
    assert_eq!(call["session"], json!({"appointment": 42}));
    assert!(!is_opted_out(&app, PATIENT).await);
}

#[actix_web::test]
async fn a_broadcast_gives_each_recipient_their_own_session_and_bounds_it() {
    // Arrange
    let app = app(r#""echo""#, "").await;
    let texts = json!({"messages": [
        {"to": "+15557650001", "body": "Table for 2?", "session": {"party": 2}},
        {"to": "+15557650002", "body": "Table for 4?", "session": {"party": 4}},
        {"to": "+15557650003", "body": "No session"},
    ]});
    let big = json!({"to": PATIENT, "body": "x", "session": {"note": "x".repeat(16 * 1024)}});
    let not_object = json!({"to": PATIENT, "body": "x", "session": [1, 2]});

    // Act
    let (status, answer) = app.send_texts("sample", &texts).await;
    let (too_big, too_big_answer) = app.send_texts("sample", &big).await;
    let (wrong, wrong_answer) = app.send_texts("sample", &not_object).await;

    // Assert
    assert_eq!(status, 202, "{answer}");
    app.twilio.wait_for_created(3, WAIT).await;
    assert_eq!(
        wait_session(&app, "+15557650001").await,
        json!({"party": 2})
    );
    assert_eq!(
        wait_session(&app, "+15557650002").await,
        json!({"party": 4})
    );
    let mut conn = app.redis.clone();
    let none: bool = conn
        .exists(app.key("sample", "session:+15557650003"))
        .await
        .unwrap();
    assert!(!none, "a text without a session opens none");
    assert_eq!(too_big, 400, "{too_big_answer}");
    assert_eq!(too_big_answer["errors"][0]["field"], "session");
    assert_eq!(wrong, 400, "{wrong_answer}");
    assert_eq!(wrong_answer["errors"][0]["field"], "session");
    assert_eq!(app.twilio.created().len(), 3);
}

#[actix_web::test]
async fn a_keyword_from_a_sender_without_a_session_never_reaches_the_handler() {
    // Arrange
    let (url, calls) = start_app(appointments);
    let app = app(&format!(r#"{{ kind = "webhook", url = "{url}" }}"#), "").await;

    // Act
    let yes = app
        .post("sample", &inbound_from(&new_sid(), "YES", PATIENT))
        .await;
    let help = app
        .post("sample", &inbound_from(&new_sid(), "help.", PATIENT))
        .await;
    let hello = new_sid();
    app.post("sample", &inbound_from(&hello, "hello", PATIENT))
        .await;
    app.wait_record("sample", &hello, WAIT).await;

    // Assert: only the plain text reached the app.
    assert_eq!(yes.status, 200);
    assert!(help.body.contains("Text YES to confirm."), "{}", help.body);
    let calls = bodies(&calls);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["message"], "hello");
    assert!(calls[0].get("keyword").is_none(), "{}", calls[0]);
}

#[actix_web::test]
async fn a_help_keyword_with_a_live_session_is_answered_and_reaches_the_handler() {
    // Arrange: a session opened by a text.
    let (url, calls) = start_app(appointments);
    let app = app(
        &format!(r#"{{ kind = "webhook", url = "{url}" }}"#),
        r#"help = ["ayuda"]"#,
    )
    .await;
    let reminder = json!({"to": PATIENT, "body": "Reply YES", "session": {"appointment": 7}});
    app.send_texts("sample", &reminder).await;
    wait_session(&app, PATIENT).await;

    // Act
    let answer = app
        .post("sample", &inbound_from(&new_sid(), "  AYUDA ?", PATIENT))
        .await;

    // Assert
    assert!(
        answer.body.contains("Text YES to confirm."),
        "{}",
        answer.body
    );
    let created = app.twilio.wait_for_created(2, WAIT).await;
    assert_eq!(created[1]["body"], r#"You said "  AYUDA ?""#);
    assert_eq!(bodies(&calls)[0]["keyword"], "help");
}

#[actix_web::test]
async fn a_topics_own_opt_out_keyword_opts_out_and_stop_still_does() {
    // Arrange
    let app = app(r#""echo""#, r#"opt_out = ["parar", "opt out"]"#).await;
    let (first, second, third) = ("+15557650011", "+15557650012", "+15557650013");

    // Act
    for (number, text) in [(first, "Parar."), (second, "STOP"), (third, "Opt  Out!")] {
        let answer = app
            .post("sample", &inbound_from(&new_sid(), text, number))
            .await;
        assert_eq!(answer.status, 200, "{text}");
    }
    let sid = new_sid();
    app.post(
        "sample",
        &inbound_from(&sid, "parar de mandar", "+15557650014"),
    )
    .await;
    app.wait_record("sample", &sid, WAIT).await;

    // Assert
    for number in [first, second, third] {
        assert!(is_opted_out(&app, number).await, "{number}");
    }
    assert!(!is_opted_out(&app, "+15557650014").await);
    assert_eq!(
        app.twilio.created().len(),
        1,
        "only the plain text was answered"
    );
}

#[actix_web::test]
async fn silence_after_expect_reply_within_calls_the_handler_once_with_reply_timeout() {
    // Arrange
    let (url, calls) = start_app(waiting);
    let app = app(&format!(r#"{{ kind = "webhook", url = "{url}" }}"#), "").await;

    // Act
    app.post("sample", &inbound_from(&new_sid(), "remind me", PATIENT))
        .await;
    let created = app.twilio.wait_for_created(2, WAIT).await;
    // Time for a second firing, were there one.
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;

    // Assert
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let (first, timeout) = (&calls[0], &calls[1]);
    assert_eq!(first.1["event"], "message");
    assert_eq!(timeout.1["event"], "reply_timeout");
    assert_eq!(timeout.1["message"], "");
    assert_eq!(timeout.1["number"], PATIENT);
    assert_eq!(timeout.1["session"], json!({"asked": true}));
    assert!(
        timeout.0 - first.0 >= Duration::from_secs(2),
        "{:?}",
        timeout.0 - first.0
    );
    assert_eq!(created[1]["body"], "Still there?");
    assert_eq!(app.twilio.created().len(), 2);
    let mut conn = app.redis.clone();
    let left: Option<f64> = conn
        .zscore(app.key("sample", "waiting"), PATIENT)
        .await
        .unwrap();
    assert_eq!(left, None);
}

#[actix_web::test]
async fn an_answer_within_the_wait_or_an_opt_out_cancels_it() {
    // Arrange
    let (url, calls) = start_app(waiting);
    let app = app(&format!(r#"{{ kind = "webhook", url = "{url}" }}"#), "").await;
    let other = "+15557650099";

    // Act: one sender answers in time, the other opts out.
    app.post("sample", &inbound_from(&new_sid(), "remind me", PATIENT))
        .await;
    app.post("sample", &inbound_from(&new_sid(), "remind me", other))
        .await;
    app.twilio.wait_for_created(2, WAIT).await;
    let answer = new_sid();
    app.post("sample", &inbound_from(&answer, "see you then", PATIENT))
        .await;
    app.post("sample", &inbound_from(&new_sid(), "STOP", other))
        .await;
    app.wait_record("sample", &answer, WAIT).await;
    actix_web::rt::time::sleep(Duration::from_millis(3000)).await;

    // Assert
    let calls = calls.lock().unwrap().clone();
    let events: Vec<&str> = calls
        .iter()
        .map(|(_, c)| c["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, vec!["message", "message", "message"], "{calls:?}");
    assert_eq!(app.twilio.created().len(), 3);
}

#[actix_web::test]
async fn a_wait_out_of_bounds_is_a_handler_error() {
    // Arrange
    let (url, _calls) = start_app(waiting);
    let app = app(&format!(r#"{{ kind = "webhook", url = "{url}" }}"#), "").await;
    let sid = new_sid();

    // Act
    app.post("sample", &inbound_from(&sid, "too long", PATIENT))
        .await;
    let record = app
        .wait_outcome("sample", &sid, "dead_lettered", WAIT)
        .await;

    // Assert
    let error = record["error"].as_str().unwrap();
    assert!(error.contains("1 s to 30 days"), "{error}");
}
