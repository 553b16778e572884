//! One message all the way: webhook → Redis → worker → Twilio stand-in → record.

use std::time::Duration;

use base64::Engine;

use crate::common::{new_sid, Scripted, ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER};
use crate::helpers::{default_topic, inbound, spawn_app, twilio_table, SENDER};

const WAIT: Duration = Duration::from_secs(10);

#[actix_web::test]
async fn echo_reaches_twilio_as_one_correct_request_and_is_recorded() {
    let app = spawn_app(&default_topic("sample", r#""echo""#)).await;
    let sid = new_sid();
    let answer = app.post("sample", &inbound(&sid, "Hello there")).await;
    assert_eq!(answer.status, 200);

    let received = app.twilio.wait_for(1, WAIT).await;
    let record = app.wait_record("sample", &sid, WAIT).await;
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.path,
        format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    );
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"));
    assert_eq!(request.authorization, Some(format!("Basic {credentials}")));
    assert_eq!(request.field("To"), Some(SENDER));
    assert_eq!(request.field("From"), Some(FROM_NUMBER));
    assert_eq!(request.field("Body"), Some("Hello there"));
    assert!(request.fields("MediaUrl").is_empty());

    assert_eq!(record["outcome"], "completed");
    assert_eq!(record["reply"]["text"], "Hello there");
    let sent = &record["sent"][0];
    assert_eq!(sent["kind"], "reply");
    assert!(sent["sid"].as_str().unwrap().starts_with("SM"));
    assert_eq!(sent["status"], "queued");
    assert_eq!(sent["dry_run"], false);
    let timings = &record["timings"];
    assert!(timings["received_at"].as_u64().unwrap() <= timings["started_at"].as_u64().unwrap());
    assert!(timings["started_at"].as_u64().unwrap() <= timings["finished_at"].as_u64().unwrap());
    assert_eq!(
        app.queue_len("sample").await,
        0,
        "the job is acknowledged and removed"
    );
    let mut redis = app.redis.clone();
    let completed: Vec<String> =
        redis::AsyncCommands::lrange(&mut redis, app.key("sample", "completed"), 0, -1)
            .await
            .unwrap();
    assert_eq!(completed, vec![sid]);
}

#[actix_web::test]
async fn reply_handler_fills_the_template_and_sends_media() {
    let handler = r#"{ kind = "reply", text = "Thanks, {number}! You said: {message} from {from_city}", media_url = "https://example.com/cat.jpg" }"#;
    let app = spawn_app(&default_topic("sample", handler)).await;
    let sid = new_sid();
    app.post("sample", &inbound(&sid, "meow")).await;
    let received = app.twilio.wait_for(1, WAIT).await;
    assert_eq!(
        received[0].field("Body"),
        Some(format!("Thanks, {SENDER}! You said: meow from PORTLAND").as_str())
    );
    assert_eq!(
        received[0].fields("MediaUrl"),
        vec!["https://example.com/cat.jpg"]
    );
    let record = app.wait_record("sample", &sid, WAIT).await;
    assert_eq!(
        record["reply"]["media_urls"][0],
        "https://example.com/cat.jpg"
    );
}

#[actix_web::test]
async fn two_topics_in_one_process_do_not_interfere() {
    let topics = format!(
        r#"
[topics.plain]
handler = "echo"
accept_response = "plain got it"
[topics.plain.validators]
profanity = "plain: no swearing"
{}
[topics.yo]
handler = {{ kind = "reply", text = "yo yourself: {{message}}" }}
accept_response = "yo got it"
[topics.yo.validators.must_say_yo]
message = "You gotta say 'yo', yo."
must_match = "(?i)\\byo\\b"
{}"#,
        twilio_table("plain"),
        twilio_table("yo")
    );
    let app = spawn_app(&topics).await;
    let (plain_sid, yo_sid) = (new_sid(), new_sid());

    let rejected = app.post("yo", &inbound(&new_sid(), "hello")).await;
    assert!(
        rejected.body.contains("You gotta say &apos;yo&apos;, yo."),
        "{}",
        rejected.body
    );
    let accepted = app.post("plain", &inbound(&plain_sid, "hello")).await;
    assert!(accepted.body.contains("plain got it"));
    let accepted = app.post("yo", &inbound(&yo_sid, "Yo dude")).await;
    assert!(accepted.body.contains("yo got it"));

    let plain = app.wait_record("plain", &plain_sid, WAIT).await;
    let yo = app.wait_record("yo", &yo_sid, WAIT).await;
    assert_eq!(plain["reply"]["text"], "hello");
    assert_eq!(yo["reply"]["text"], "yo yourself: Yo dude");
    let mut bodies: Vec<String> = app
        .twilio
        .wait_for(2, WAIT)
        .await
        .iter()
        .map(|r| r.field("Body").unwrap().to_string())
        .collect();
    bodies.sort();
    assert_eq!(bodies, vec!["hello", "yo yourself: Yo dude"]);
    assert!(app.keys("plain").await.iter().all(|k| !k.contains(&yo_sid)));
    assert!(app.keys("yo").await.iter().all(|k| !k.contains(&plain_sid)));
}

#[actix_web::test]
async fn send_on_accept_sends_the_accept_text_instead_of_answering_it() {
    let topics = format!(
        r#"
[topics.sample]
handler = "echo"
send_on_accept = true
accept_response = "Got it & thanks"
{}"#,
        twilio_table("sample")
    );
    let app = spawn_app(&topics).await;
    let sid = new_sid();
    let answer = app.post("sample", &inbound(&sid, "hi")).await;
    assert!(answer.body.ends_with("<Response/>"), "{}", answer.body);
    let received = app.twilio.wait_for(2, WAIT).await;
    assert_eq!(received[0].field("Body"), Some("Got it & thanks"));
    assert_eq!(received[1].field("Body"), Some("hi"));
    let record = app.wait_record("sample", &sid, WAIT).await;
    assert_eq!(record["sent"][0]["kind"], "accept");
    assert_eq!(record["sent"][1]["kind"], "reply");
}

#[actix_web::test]
async fn a_repeated_message_sid_is_answered_the_same_but_queued_once() {
    let app = spawn_app(&default_topic("sample", r#""echo""#)).await;
    let sid = new_sid();
    let first = app.post("sample", &inbound(&sid, "once")).await;
    let second = app.post("sample", &inbound(&sid, "once")).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body, second.body);
    app.wait_record("sample", &sid, WAIT).await;
    // Drained: every job queued has run, so a second send would have reached the stand-in.
    app.wait_until_drained("sample", WAIT).await;
    assert_eq!(app.twilio.received().len(), 1);
}

#[actix_web::test]
async fn a_permanent_twilio_error_is_recorded_as_an_error() {
    let app = spawn_app(&default_topic("sample", r#""echo""#)).await;
    app.twilio.script(vec![Scripted::error(400, Some(21211))]);
    let sid = new_sid();
    app.post("sample", &inbound(&sid, "to nowhere")).await;
    let record = app.wait_record("sample", &sid, WAIT).await;
    assert_eq!(record["outcome"], "dead_lettered");
    let error = record["error"].as_str().unwrap();
    assert!(error.contains("21211"), "{error}");
    assert!(!error.contains(AUTH_TOKEN));
    assert_eq!(app.queue_len("sample").await, 0);
}
