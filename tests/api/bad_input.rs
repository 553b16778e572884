//! Bad input gets a clear 4xx and leaves nothing behind.

use crate::common::new_sid;
use crate::helpers::{default_topic, inbound, spawn_app};

#[actix_web::test]
async fn malformed_requests_get_4xx_and_nothing_is_queued() {
    let app = spawn_app(&default_topic("sample", r#""echo""#)).await;
    let sid = new_sid();
    let mut no_from = inbound(&sid, "hi");
    no_from.retain(|(k, _)| k != "From");
    let mut no_sid = inbound(&sid, "hi");
    no_sid.retain(|(k, _)| k != "MessageSid");

    let unknown = app.post("nope", &inbound(&new_sid(), "hi")).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(app.post("sample", &no_from).await.status, 400);
    assert_eq!(app.post("sample", &no_sid).await.status, 400);
    assert_eq!(app.get("sample", &no_from).await.status, 400);

    let form = "From=%2B15551234567&MessageSid=SM00000000000000000000000000000bad&Body=";
    let bad_percent = format!("{form}%zz");
    let answer = app
        .post_raw(
            "sample",
            Some("application/x-www-form-urlencoded"),
            bad_percent.into_bytes(),
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    let bad_utf8 = format!("{form}%FF%FE");
    let answer = app.post_raw("sample", None, bad_utf8.into_bytes()).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(
        app.get_path("/queue/sample?From=%2B1&MessageSid=S&Body=%zz")
            .await
            .status,
        400
    );

    let json = app
        .post_raw(
            "sample",
            Some("application/json"),
            br#"{"From":"+1"}"#.to_vec(),
        )
        .await;
    assert_eq!(json.status, 415);

    let huge = format!("{form}{}", "a".repeat(70 * 1024));
    let answer = app
        .post_raw(
            "sample",
            Some("application/x-www-form-urlencoded"),
            huge.into_bytes(),
        )
        .await;
    assert_eq!(answer.status, 413);

    app.assert_nothing_queued("sample").await;
}

#[actix_web::test]
async fn a_post_without_content_type_is_read_as_a_form() {
    let app = spawn_app(&default_topic("sample", r#""echo""#)).await;
    let sid = new_sid();
    let body = serde_urlencoded::to_string(inbound(&sid, "Frank")).unwrap();
    let answer = app.post_raw("sample", None, body.into_bytes()).await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("right back"));
}

#[actix_web::test]
async fn health_says_redis_is_up() {
    let app = spawn_app(&default_topic("sample", r#""echo""#)).await;
    let answer = app.get_path("/health").await;
    assert_eq!(answer.status, 200);
    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["redis"], "up");
}

#[actix_web::test]
async fn a_trickling_body_gets_408_and_nothing_is_queued() {
    use std::io::{Read, Write};
    let app = crate::helpers::spawn_app_with(
        &default_topic("sample", r#""echo""#),
        "request_timeout_ms = 300\n",
        pyrowire::app::RunOptions::default(),
    )
    .await;
    let address = app.address.trim_start_matches("http://").to_string();
    let answer = actix_web::rt::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        let head = "POST /queue/sample HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\nFrom=%2B1555";
        stream.write_all(head.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(app.queue_len("sample").await, 0);
}

#[actix_web::test]
async fn max_message_length_holds_for_a_topic_that_lists_no_length_validator() {
    let topics = format!(
        "[topics.plain]\nhandler = \"echo\"\nmax_message_length = 1600\n{}",
        crate::helpers::twilio_table("plain")
    );
    let app = spawn_app(&topics).await;

    let answer = app
        .post("plain", &inbound(&new_sid(), &"a".repeat(1601)))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.body.contains("at most 1600 characters"),
        "{}",
        answer.body
    );
    app.assert_nothing_queued("plain").await;

    // The upper bound alone: an empty body is queued (and echoed) without the `length` validator.
    let sid = new_sid();
    let empty = app.post("plain", &inbound(&sid, "")).await;
    assert_eq!(empty.status, 200);
    app.wait_record("plain", &sid, std::time::Duration::from_secs(10))
        .await;
}

#[actix_web::test]
async fn an_oversize_status_callback_is_refused_and_nothing_is_stored() {
    let app = spawn_app(&default_topic("sample", r#""echo""#)).await;
    let long_sid = format!("SM{}", "a".repeat(60_000));
    let cases: [(&str, &str, &str); 4] = [
        (long_sid.as_str(), "delivered", "+15551234567"),
        ("SM0123", &"x".repeat(100), "+15551234567"),
        ("SM0123", "delivered", &"9".repeat(1000)),
        ("SM0123", "de\nlivered", "+15551234567"),
    ];
    for (sid, status, to) in cases {
        let form = serde_urlencoded::to_string([
            ("MessageSid", sid),
            ("MessageStatus", status),
            ("To", to),
            ("ErrorCode", "21610"),
        ])
        .unwrap();
        let answer = app.post_raw_path("/status/sample", form.into_bytes()).await;
        assert_eq!(answer.status, 400, "{}", answer.body);
    }
    // Only the queue streams the workers created: no delivery record, no opt-out.
    let keys = app.keys("sample").await;
    assert!(
        keys.iter()
            .all(|k| k.ends_with(":queue") || k.ends_with(":bulk")),
        "{keys:?}"
    );
}
