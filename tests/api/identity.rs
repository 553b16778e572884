//! A webhook must name one message of the topic's account: a `MessageSid` of Twilio's shape, an
//! `SmsMessageSid` / `SmsSid` that agrees with it, the topic's `AccountSid`. The signature joins
//! names and values with nothing between them, so a captured, correctly signed webhook can be
//! re-split (`MessageSid=SM…` + `NumMedia=0` sent as `MessageSid=SM…NumMedia0`) and keep its
//! signature: these checks are what stop it passing as a new message. Status callbacks alike.

use redis::AsyncCommands;

use crate::common::AUTH_TOKEN;
use crate::common::{new_sid, ACCOUNT_SID, FROM_NUMBER};
use crate::helpers::{inbound, spawn_app, twilio_table, SENDER};
use crate::signatures::{signed_app, twilio_signature, PUBLIC_URL};

fn with(params: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut params: Vec<_> = params.iter().filter(|(k, _)| k != name).cloned().collect();
    params.push((name.to_string(), value.to_string()));
    params
}

/// `captured` with its `MessageSid` and `NumMedia` sent as one parameter: the same signed string.
fn re_split(captured: &[(String, String)]) -> Vec<(String, String)> {
    let sid = &captured.iter().find(|(k, _)| k == "MessageSid").unwrap().1;
    captured
        .iter()
        .filter(|(k, _)| k != "NumMedia")
        .map(|(k, v)| match k.as_str() {
            "MessageSid" => (k.clone(), format!("{sid}NumMedia0")),
            _ => (k.clone(), v.clone()),
        })
        .collect()
}

#[actix_web::test]
async fn a_re_split_replay_of_a_signed_start_is_refused_and_the_number_stays_opted_out() {
    // Arrange: two STARTs were captured (one as Twilio sends it, one without the deprecated
    // SmsMessageSid / SmsSid, as Twilio may send it one day); then the number texted STOP.
    let app = signed_app().await;
    let url = format!("{PUBLIC_URL}/queue/sample");
    let with_aliases = inbound(&new_sid(), "START");
    let without_aliases: Vec<_> = inbound(&new_sid(), "START")
        .into_iter()
        .filter(|(k, _)| k != "SmsMessageSid" && k != "SmsSid")
        .collect();
    for params in [
        &with_aliases,
        &without_aliases,
        &inbound(&new_sid(), "STOP"),
    ] {
        let signature = twilio_signature(AUTH_TOKEN, &url, params);
        let status = app
            .post_signed("/queue/sample", params, Some(&signature))
            .await;
        assert_eq!(status, 200);
    }
    let keys_before = app.keys("sample").await;

    for captured in [&with_aliases, &without_aliases] {
        // Act: the replay carries the captured signature, which still holds.
        let signature = twilio_signature(AUTH_TOKEN, &url, captured);
        let replay = re_split(captured);
        let still_valid = twilio_signature(AUTH_TOKEN, &url, &replay) == signature;
        let status = app
            .post_signed("/queue/sample", &replay, Some(&signature))
            .await;

        // Assert
        assert!(
            still_valid,
            "the re-split parameters sign to the captured signature"
        );
        assert_eq!(status, 400);
    }
    let opted_out: bool = app
        .redis
        .clone()
        .hexists(app.key("sample", "optout"), SENDER)
        .await
        .unwrap();
    assert!(opted_out, "the number stays opted out");
    assert_eq!(app.keys("sample").await, keys_before, "nothing stored");
}

#[actix_web::test]
async fn a_message_sid_of_the_wrong_shape_a_disagreeing_alias_or_another_account_is_refused() {
    let app = spawn_app(&format!(
        "[topics.sample]\nhandler = \"echo\"\n{}",
        twilio_table("sample")
    ))
    .await;
    let good = inbound(&new_sid(), "hello");
    let cases = [
        ("short", with(&good, "MessageSid", "SM123")),
        (
            "other prefix",
            with(&good, "MessageSid", &format!("AC{}", "0".repeat(32))),
        ),
        (
            "not hex",
            with(&good, "MessageSid", &format!("SM{}", "g".repeat(32))),
        ),
        (
            "long",
            with(&good, "MessageSid", &format!("{}0", new_sid())),
        ),
        (
            "SmsMessageSid differs",
            with(&good, "SmsMessageSid", &new_sid()),
        ),
        ("SmsSid differs", with(&good, "SmsSid", &new_sid())),
        (
            "another account",
            with(&good, "AccountSid", &format!("AC{}", "f".repeat(32))),
        ),
    ];

    for (case, params) in &cases {
        let answer = app.post("sample", params).await;
        assert_eq!(answer.status, 400, "{case}: {}", answer.body);
    }
    let mms = with(
        &with(&good, "SmsMessageSid", ""),
        "MessageSid",
        &format!("MM{}", "a".repeat(32)),
    );
    let mms = with(
        &with(&mms, "SmsSid", &format!("MM{}", "a".repeat(32))),
        "SmsMessageSid",
        &format!("MM{}", "a".repeat(32)),
    );
    let accepted = app.post("sample", &mms).await;

    assert_eq!(accepted.status, 200, "an MMS SID is Twilio's shape too");
    app.wait_record(
        "sample",
        &format!("MM{}", "a".repeat(32)),
        std::time::Duration::from_secs(10),
    )
    .await;
    let _ = (ACCOUNT_SID, FROM_NUMBER);
}

#[actix_web::test]
async fn a_status_callback_must_name_a_message_of_the_topics_account_too() {
    let app = spawn_app(&format!(
        "[topics.sample]\nhandler = \"echo\"\n{}",
        twilio_table("sample")
    ))
    .await;
    let callback = |sid: &str, account: &str| -> Vec<(String, String)> {
        [
            ("MessageSid", sid),
            ("SmsSid", sid),
            ("AccountSid", account),
            ("MessageStatus", "delivered"),
            ("To", SENDER),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let form =
        |params: &[(String, String)]| serde_urlencoded::to_string(params).unwrap().into_bytes();

    let bad_shape = app
        .post_raw_path("/status/sample", form(&callback("SMnope", ACCOUNT_SID)))
        .await;
    let other_account = app
        .post_raw_path(
            "/status/sample",
            form(&callback(&new_sid(), &format!("AC{}", "f".repeat(32)))),
        )
        .await;

    assert_eq!(bad_shape.status, 400);
    assert_eq!(other_account.status, 400);
    app.assert_nothing_queued("sample").await;
}

#[actix_web::test]
async fn with_signatures_off_a_callback_for_a_sid_pyrowire_never_sent_stores_nothing() {
    let app = spawn_app(&format!(
        "[topics.sample]\nhandler = \"echo\"\n{}",
        twilio_table("sample")
    ))
    .await;
    let keys_before = app.keys("sample").await;
    let made_up: Vec<(String, String)> = [
        ("MessageSid", new_sid().as_str()),
        ("AccountSid", ACCOUNT_SID),
        ("MessageStatus", "failed"),
        ("ErrorCode", "21610"),
        ("To", SENDER),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();

    let answer = app
        .post_raw_path(
            "/status/sample",
            serde_urlencoded::to_string(&made_up).unwrap().into_bytes(),
        )
        .await;

    assert_eq!(answer.status, 200, "answered so that Twilio does not retry");
    assert_eq!(app.keys("sample").await, keys_before, "nothing stored");
}
