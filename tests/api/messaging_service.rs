//! A topic that sends through a Twilio Messaging Service: every text goes out with
//! `MessagingServiceSid` and no `From`, and an interrupted send is looked up by To and the
//! service, since Twilio picked the From.

use std::time::Duration;

use redis::AsyncCommands;
use serde_json::Value;

use crate::common::twilio::POOL_NUMBER;
use crate::common::{new_sid, ACCOUNT_SID, AUTH_TOKEN};
use crate::helpers::{inbound, sent_kinds, spawn_app, SENDER};

const WAIT: Duration = Duration::from_secs(15);

const SERVICE: &str = "MG0123456789abcdef0123456789abcdef";

/// A topic with a messaging service and no `from_number`, sending its accept text too.
fn service_topic() -> String {
    format!(
        r#"
[topics.svc]
handler = "echo"
send_on_accept = true
accept_response = "Got it"
[topics.svc.twilio]
account_sid = "${{TWILIO_ACCOUNT_SID}}"
auth_token = "${{TWILIO_AUTH_TOKEN}}"
messaging_service_sid = "{SERVICE}"
api_base = "${{TWILIO_API_BASE}}"
"#
    )
}

/// A create request straight to the stand-in, as a send that went out before a crash: the
/// status and the JSON answer.
async fn create(base: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let mut response = awc::Client::default()
        .post(format!(
            "{base}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        ))
        .basic_auth(ACCOUNT_SID, AUTH_TOKEN)
        .send_form(&form)
        .await
        .unwrap();
    let body = response.json().await.unwrap();
    (response.status().as_u16(), body)
}

#[actix_web::test]
async fn every_text_goes_through_the_messaging_service_without_from() {
    let app = spawn_app(&service_topic()).await;
    let sid = new_sid();

    app.post("svc", &inbound(&sid, "hi")).await;
    let record = app.wait_record("svc", &sid, WAIT).await;

    let creates = app.twilio.creates();
    assert_eq!(sent_kinds(&record), ["accept", "reply"]);
    assert_eq!(creates.len(), 2);
    for create in &creates {
        assert_eq!(create.field("MessagingServiceSid"), Some(SERVICE));
        assert_eq!(create.field("From"), None);
        assert_eq!(create.field("To"), Some(SENDER));
    }
    assert_eq!(creates[0].field("Body"), Some("Got it"));
    assert_eq!(creates[1].field("Body"), Some("hi"));
    let created = app.twilio.created();
    assert_eq!(created[1]["from"], POOL_NUMBER);
    assert_eq!(created[1]["messaging_service_sid"], SERVICE);
    assert_eq!(record["sent"][1]["sid"], created[1]["sid"]);
}

#[actix_web::test]
async fn a_marked_send_through_the_service_is_found_by_to_and_not_sent_again() {
    let app = spawn_app(&service_topic().replace("send_on_accept = true", "")).await;
    let mut redis = app.redis.clone();
    // The crash window: a reply went out through the service, then the process died before
    // storing its SID. Another reply was marked and never went out.
    let (sent_sid, unsent_sid) = (new_sid(), new_sid());
    for sid in [&sent_sid, &unsent_sid] {
        let mark = app.key("svc", &format!("send:{sid}:reply"));
        let _: () = redis
            .hset(&mark, "marked_at", pyrowire::domain::clock::now_ms())
            .await
            .unwrap();
    }
    let out = [
        ("To", SENDER),
        ("MessagingServiceSid", SERVICE),
        ("Body", "already out"),
    ];
    let (status, resource) = create(&app.twilio.base, &out).await;
    assert_eq!(status, 201);
    let twilio_sid = resource["sid"].as_str().unwrap().to_string();

    app.post("svc", &inbound(&sent_sid, "already out")).await;
    app.post("svc", &inbound(&unsent_sid, "never went out"))
        .await;
    let found = app.wait_record("svc", &sent_sid, WAIT).await;
    let sent = app.wait_record("svc", &unsent_sid, WAIT).await;

    assert_eq!(found["sent"][0]["sid"], twilio_sid.as_str());
    assert_eq!(sent["outcome"], "completed");
    assert_eq!(
        app.twilio.created_bodies(),
        ["already out", "never went out"]
    );
    let lookups: Vec<_> = app
        .twilio
        .received()
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect();
    assert_eq!(lookups.len(), 2);
    for lookup in lookups {
        let query: Vec<(String, String)> = serde_urlencoded::from_str(&lookup.query).unwrap();
        assert!(query.contains(&("To".into(), SENDER.into())), "{query:?}");
        assert!(query.iter().all(|(k, _)| k != "From"), "{query:?}");
    }
}

#[actix_web::test]
async fn a_same_text_from_the_number_or_another_service_is_not_taken_for_the_services() {
    let app = spawn_app(&service_topic().replace("send_on_accept = true", "")).await;
    let mut redis = app.redis.clone();
    let sid = new_sid();
    let mark = app.key("svc", &format!("send:{sid}:reply"));
    let _: () = redis
        .hset(&mark, "marked_at", pyrowire::domain::clock::now_ms())
        .await
        .unwrap();
    let other_service = "MGffffffffffffffffffffffffffffffff";
    for form in [
        [("To", SENDER), ("From", "+15005550006"), ("Body", "hello")],
        [
            ("To", SENDER),
            ("MessagingServiceSid", other_service),
            ("Body", "hello"),
        ],
    ] {
        assert_eq!(create(&app.twilio.base, &form).await.0, 201);
    }

    app.post("svc", &inbound(&sid, "hello")).await;
    let record = app.wait_record("svc", &sid, WAIT).await;

    let created = app.twilio.created();
    assert_eq!(created.len(), 3);
    assert_eq!(created[2]["messaging_service_sid"], SERVICE);
    assert_eq!(record["sent"][0]["sid"], created[2]["sid"]);
}

#[actix_web::test]
async fn the_stand_in_refuses_a_create_without_from_or_messaging_service_as_twilio_does() {
    let app = spawn_app(&service_topic()).await;

    let (status, error) = create(&app.twilio.base, &[("To", SENDER), ("Body", "hi")]).await;

    assert_eq!(status, 400);
    assert_eq!(error["code"], 21603);
    assert!(app.twilio.created().is_empty());
}
