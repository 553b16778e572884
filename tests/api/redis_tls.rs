//! Redis over TLS (`rediss://`), against a real `redis-server --tls-port` with a throwaway CA:
//! the whole pipeline with the CA in `redis_ca_file`, a clear start-up error with the wrong CA,
//! and `redis_tls_insecure` accepting any certificate.

use std::time::Duration;

use pyrowire::app::{App, RunOptions};
use redis::AsyncCommands;

use crate::common::{new_sid, TlsRedis};
use crate::helpers::{default_topic, inbound, random_prefix, settings_with, spawn_app_with};

const WAIT: Duration = Duration::from_secs(10);

/// A client of the TLS Redis that trusts the test CA, to check what reached it.
async fn tls_client(tls: &TlsRedis) -> redis::aio::MultiplexedConnection {
    let certificates = redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(std::fs::read(tls.ca_file()).unwrap()),
    };
    redis::Client::build_with_tls(tls.url(), certificates)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

fn profile(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[actix_web::test]
async fn a_rediss_url_with_the_ca_in_redis_ca_file_carries_the_whole_pipeline() {
    // Arrange
    let tls = TlsRedis::start_with_password("tls-pass-0123").await;
    let extra = profile(&[
        format!("redis = \"{}\"", tls.url()),
        format!("redis_ca_file = \"{}\"", tls.ca_file().display()),
    ]);
    let app = spawn_app_with(
        &default_topic("sample", r#""echo""#),
        &extra,
        RunOptions::default(),
    )
    .await;

    // Act
    let sid = new_sid();
    let answer = app.post("sample", &inbound(&sid, "over tls")).await;

    // Assert
    assert_eq!(answer.status, 200, "{}", answer.body);
    let sent = app.twilio.wait_for(1, WAIT).await;
    assert_eq!(sent[0].field("Body"), Some("over tls"));
    let mut redis = tls_client(&tls).await;
    let key = app.key("sample", &format!("record:{sid}"));
    let mut record: Option<String> = None;
    for _ in 0..100 {
        record = redis.get(&key).await.unwrap();
        if record.is_some() {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(record.is_some(), "the record is in the TLS Redis");
    let health = app.get_path("/health").await;
    assert_eq!(health.status, 200, "{}", health.body);
    assert!(
        health.body.contains("\"form\":\"single\""),
        "{}",
        health.body
    );
}

#[actix_web::test]
async fn the_wrong_ca_stops_start_up_with_a_clear_error_and_no_password() {
    let tls = TlsRedis::start_with_password("tls-pass-4567").await;
    let extra = profile(&[
        format!("redis = \"{}\"", tls.url()),
        format!("redis_ca_file = \"{}\"", tls.wrong_ca_file().display()),
    ]);
    let settings = settings_with(
        &default_topic("sample", r#""echo""#),
        &extra,
        &random_prefix(),
        "http://127.0.0.1:9",
    )
    .unwrap();

    let error = match App::build(settings, RunOptions::default()).await {
        Ok(_) => panic!("start-up must fail with the wrong CA"),
        Err(error) => error,
    };

    let mut chain = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        chain.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    assert!(
        chain.starts_with(&format!(
            "failed to connect to redis at rediss://[redacted]@127.0.0.1:{}/0",
            tls.port()
        )),
        "{chain}"
    );
    assert!(chain.to_lowercase().contains("certificate"), "{chain}");
    assert!(!chain.contains("tls-pass-4567"), "{chain}");
}

#[actix_web::test]
async fn redis_tls_insecure_accepts_a_certificate_nobody_vouches_for() {
    let tls = TlsRedis::start().await;
    let extra = profile(&[
        format!("redis = \"{}\"", tls.url()),
        "redis_tls_insecure = true".to_string(),
    ]);
    let app = spawn_app_with(
        &default_topic("sample", r#""echo""#),
        &extra,
        RunOptions::default(),
    )
    .await;

    let answer = app.post("sample", &inbound(&new_sid(), "insecure")).await;

    assert_eq!(answer.status, 200, "{}", answer.body);
    app.twilio.wait_for(1, WAIT).await;
}
