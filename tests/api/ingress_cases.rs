//! The original framework's own ingress cases, over GET and over POST.

use std::time::Duration;

use crate::common::new_sid;
use crate::helpers::{default_topic, inbound, spawn_app, Answer, TestApp};

const PROFANITY: &str = "You kiss your mother with that mouth? No profanity, please.";
const LENGTH: &str = "Your message was empty or too long.";
const PARSEABLE: &str = "Please only use letters, digits and punctuation.";
const ACCEPT: &str = "Great, we&apos;ll get right back to you.";

#[derive(Clone, Copy, Debug)]
enum Method {
    Get,
    Post,
}

async fn send(app: &TestApp, method: Method, params: &[(String, String)]) -> Answer {
    match method {
        Method::Get => app.get("sample", params).await,
        Method::Post => app.post("sample", params).await,
    }
}

fn assert_says(answer: &Answer, text: &str, case: &str) {
    assert_eq!(answer.status, 200, "{case}: {}", answer.body);
    assert!(
        answer.content_type.starts_with("text/xml"),
        "{case}: {}",
        answer.content_type
    );
    let expected = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>{text}</Message></Response>"#
    );
    assert_eq!(answer.body, expected, "{case}");
}

#[actix_web::test]
async fn rejected_messages_get_their_validators_answer_and_are_not_queued() {
    let app = spawn_app(&default_topic("sample", r#""echo""#)).await;
    let long_161 = "a".repeat(161);
    let long_1600 = "b".repeat(1600);
    let cases = [
        ("profane", "fuck", PROFANITY),
        ("161 characters", long_161.as_str(), LENGTH),
        ("1600 characters", long_1600.as_str(), LENGTH),
        ("empty", "", LENGTH),
        ("emoji", "hi 😀", PARSEABLE),
    ];
    for method in [Method::Get, Method::Post] {
        for (case, body, expected) in cases {
            let answer = send(&app, method, &inbound(&new_sid(), body)).await;
            assert_says(&answer, expected, &format!("{case} over {method:?}"));
        }
    }
    assert_eq!(app.queue_len("sample").await, 0);
    assert!(app.twilio.received().is_empty());
}

#[actix_web::test]
async fn plain_names_are_accepted_queued_and_answered() {
    let app = spawn_app(&default_topic("sample", r#""echo""#)).await;
    let mut sids = Vec::new();
    for method in [Method::Get, Method::Post] {
        for body in ["Frank", "Joe Bob", "Mary Kate "] {
            let sid = new_sid();
            let answer = send(&app, method, &inbound(&sid, body)).await;
            assert_says(&answer, ACCEPT, &format!("{body:?} over {method:?}"));
            sids.push((sid, body));
        }
    }
    for (sid, body) in sids {
        let record = app
            .wait_record("sample", &sid, Duration::from_secs(10))
            .await;
        assert_eq!(record["outcome"], "completed");
        assert_eq!(record["message"]["message"], body);
        assert_eq!(record["reply"]["text"], body);
    }
}

#[actix_web::test]
async fn typographic_punctuation_passes_the_ascii_set_and_reaches_the_handler_as_sent() {
    let app = spawn_app(&default_topic("sample", r#""echo""#)).await;
    let refused = send(&app, Method::Post, &inbound(&new_sid(), "bad ☃ snowman")).await;
    let mut sids = Vec::new();
    for body in ["It’s fine", "“Quoted”", "Wait – what…"] {
        let sid = new_sid();
        let answer = send(&app, Method::Post, &inbound(&sid, body)).await;
        assert_says(&answer, ACCEPT, body);
        sids.push((sid, body));
    }

    assert_says(&refused, PARSEABLE, "a snowman");
    for (sid, body) in sids {
        let record = app
            .wait_record("sample", &sid, Duration::from_secs(10))
            .await;
        assert_eq!(
            record["message"]["message"], body,
            "the handler saw it as sent"
        );
        assert_eq!(record["reply"]["text"], body);
    }
}

#[actix_web::test]
async fn location_fields_and_extras_are_kept() {
    let app = spawn_app(&default_topic("sample", r#""echo""#)).await;
    for method in [Method::Get, Method::Post] {
        let sid = new_sid();
        let mut params = inbound(&sid, "Frank");
        params.push(("FromCity".into(), "SEATTLE".into()));
        params.retain(|(k, v)| k != "FromCity" || v == "SEATTLE");
        params.push(("AddOns".into(), r#"{"status":"successful"}"#.into()));
        let answer = send(&app, method, &params).await;
        assert_says(&answer, ACCEPT, &format!("{method:?}"));
        let record = app
            .wait_record("sample", &sid, Duration::from_secs(10))
            .await;
        let message = &record["message"];
        assert_eq!(message["from_city"], "SEATTLE");
        assert_eq!(message["from_state"], "OR");
        assert_eq!(message["from_zip"], "97201");
        assert_eq!(message["from_country"], "US");
        assert_eq!(message["to_city"], "PORTLAND");
        assert_eq!(message["number"], crate::helpers::SENDER);
        assert_eq!(message["sid"], sid.as_str());
        assert_eq!(message["topic"], "sample");
        assert_eq!(message["extra"]["AddOns"], r#"{"status":"successful"}"#);
        assert_eq!(message["extra"]["SmsStatus"], "received");
    }
}

#[actix_web::test]
async fn two_media_items_are_parsed_into_media() {
    let app = spawn_app(&default_topic("sample", r#""echo""#)).await;
    for method in [Method::Get, Method::Post] {
        for body in ["look at these", ""] {
            let sid = new_sid();
            let mut params = inbound(&sid, body);
            params.retain(|(k, _)| k != "NumMedia");
            params.extend(
                [
                    ("NumMedia", "2"),
                    ("MediaUrl0", "https://api.twilio.com/media/ME0"),
                    ("MediaContentType0", "image/jpeg"),
                    ("MediaUrl1", "https://api.twilio.com/media/ME1"),
                    ("MediaContentType1", "image/png"),
                ]
                .map(|(k, v)| (k.to_string(), v.to_string())),
            );
            let answer = send(&app, method, &params).await;
            assert_says(&answer, ACCEPT, &format!("{body:?} over {method:?}"));
            let record = app
                .wait_record("sample", &sid, Duration::from_secs(10))
                .await;
            let media = &record["message"]["media"];
            assert_eq!(media["count"], 2);
            assert_eq!(
                media["media"]["https://api.twilio.com/media/ME0"],
                "image/jpeg"
            );
            assert_eq!(
                media["media"]["https://api.twilio.com/media/ME1"],
                "image/png"
            );
        }
    }
}

#[actix_web::test]
async fn a_topic_named_in_the_path_with_percent_escapes_is_the_same_topic() {
    let app = spawn_app(&default_topic("sample", r#""echo""#)).await;
    let answer = app.post("%73ample", &inbound(&new_sid(), "escaped")).await;
    assert_says(&answer, ACCEPT, "POST /queue/%73ample");
    assert_eq!(app.queue_len("sample").await, 1);
    assert_eq!(
        app.post("%6Eope", &inbound(&new_sid(), "hi")).await.status,
        404
    );
}
