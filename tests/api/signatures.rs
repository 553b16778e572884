//! X-Twilio-Signature: requests signed by Twilio's own helper library (twilio-python's
//! RequestValidator, installed by scripts/test) pass; forged, altered, misdirected and unsigned
//! ones get 403 and nothing is queued. Status callbacks are checked the same way and move only
//! forward.

use std::time::Duration;

use pyrowire::app::RunOptions;
use redis::AsyncCommands;

use crate::common::{new_sid, ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER};
use crate::helpers::{inbound, spawn_app_with, twilio_table, TestApp, SENDER};

pub(crate) const PUBLIC_URL: &str = "https://sms.example.com";
const SECONDARY: &str = "fedcba9876543210fedcba9876543210";
const WAIT: Duration = Duration::from_secs(10);

/// Twilio's signature for a URL and form parameters, computed by twilio-python.
pub(crate) fn twilio_signature(token: &str, url: &str, params: &[(String, String)]) -> String {
    let script = r#"
import json, sys
from twilio.request_validator import RequestValidator
token, url, pairs = json.load(sys.stdin)
params = {}
for name, value in pairs:
    params.setdefault(name, []).append(value)
params = {k: v[0] if len(v) == 1 else v for k, v in params.items()}
print(RequestValidator(token).compute_signature(url, params))
"#;
    let input = serde_json::to_string(&(token, url, params)).unwrap();
    crate::common::python(script, &input, "twilio-python")
}

pub(crate) async fn signed_app() -> TestApp {
    let topics = format!(
        r#"
[topics.sample]
handler = "echo"
accept_response = "ok"
{}secondary_auth_token = "{SECONDARY}"
"#,
        twilio_table("sample")
    );
    let profile = format!("validate_signatures = true\npublic_url = \"{PUBLIC_URL}\"\n");
    spawn_app_with(&topics, &profile, RunOptions::default()).await
}

impl TestApp {
    pub(crate) async fn post_signed(
        &self,
        path: &str,
        params: &[(String, String)],
        signature: Option<&str>,
    ) -> u16 {
        let mut request = awc::Client::default()
            .post(format!("{}{path}", self.address))
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"));
        if let Some(signature) = signature {
            request = request.insert_header(("X-Twilio-Signature", signature));
        }
        let body = serde_urlencoded::to_string(params).unwrap();
        request.send_body(body).await.unwrap().status().as_u16()
    }
}

#[actix_web::test]
async fn a_request_signed_like_twilio_is_accepted_with_either_token() {
    let app = signed_app().await;
    let url = format!("{PUBLIC_URL}/queue/sample");
    for token in [AUTH_TOKEN, SECONDARY] {
        let sid = new_sid();
        let params = inbound(&sid, "signed");
        let signature = twilio_signature(token, &url, &params);
        assert_eq!(
            app.post_signed("/queue/sample", &params, Some(&signature))
                .await,
            200
        );
        app.wait_record("sample", &sid, WAIT).await;
    }
    // The same URL written with the default port signs the same request too.
    let sid = new_sid();
    let params = inbound(&sid, "port");
    let signature = twilio_signature(
        AUTH_TOKEN,
        "https://sms.example.com:443/queue/sample",
        &params,
    );
    assert_eq!(
        app.post_signed("/queue/sample", &params, Some(&signature))
            .await,
        200
    );
}

#[actix_web::test]
async fn a_get_webhook_is_signed_over_its_url_with_the_query() {
    let app = signed_app().await;
    let sid = new_sid();
    let query = serde_urlencoded::to_string(inbound(&sid, "by get")).unwrap();
    let path = format!("/queue/sample?{query}");
    let signature = twilio_signature(AUTH_TOKEN, &format!("{PUBLIC_URL}{path}"), &[]);
    let status = awc::Client::default()
        .get(format!("{}{path}", app.address))
        .insert_header(("X-Twilio-Signature", signature))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 200);
}

#[actix_web::test]
async fn forged_altered_misdirected_and_unsigned_requests_get_403_and_nothing_is_queued() {
    let app = signed_app().await;
    let url = format!("{PUBLIC_URL}/queue/sample");
    let params = inbound(&new_sid(), "original text");

    let forged = twilio_signature("00000000000000000000000000000000", &url, &params);
    assert_eq!(
        app.post_signed("/queue/sample", &params, Some(&forged))
            .await,
        403
    );

    let genuine = twilio_signature(AUTH_TOKEN, &url, &params);
    let mut altered = params.clone();
    for (name, value) in altered.iter_mut() {
        if name == "Body" {
            *value = "changed text".into();
        }
    }
    assert_eq!(
        app.post_signed("/queue/sample", &altered, Some(&genuine))
            .await,
        403
    );

    let elsewhere = twilio_signature(AUTH_TOKEN, "https://evil.example.com/queue/sample", &params);
    assert_eq!(
        app.post_signed("/queue/sample", &params, Some(&elsewhere))
            .await,
        403
    );

    assert_eq!(app.post_signed("/queue/sample", &params, None).await, 403);
    assert_eq!(
        app.post_signed("/queue/sample", &params, Some("")).await,
        403
    );

    app.assert_nothing_queued("sample").await;
    assert!(app.twilio.received().is_empty());
}

#[actix_web::test]
async fn replies_carry_a_status_callback_and_statuses_only_move_forward() {
    let app = signed_app().await;
    let url = format!("{PUBLIC_URL}/queue/sample");
    let sid = new_sid();
    let params = inbound(&sid, "track me");
    let signature = twilio_signature(AUTH_TOKEN, &url, &params);
    assert_eq!(
        app.post_signed("/queue/sample", &params, Some(&signature))
            .await,
        200
    );
    let created = app.twilio.wait_for(1, WAIT).await;
    assert_eq!(
        created[0].field("StatusCallback"),
        Some(format!("{PUBLIC_URL}/status/sample").as_str())
    );
    let record = app.wait_record("sample", &sid, WAIT).await;
    let outbound = record["sent"][0]["sid"].as_str().unwrap().to_string();

    let callback_url = format!("{PUBLIC_URL}/status/sample");
    for status in ["sent", "delivered", "sent"] {
        let params: Vec<(String, String)> = [
            ("MessageSid", outbound.as_str()),
            ("SmsSid", outbound.as_str()),
            ("AccountSid", ACCOUNT_SID),
            ("From", FROM_NUMBER),
            ("To", SENDER),
            ("ApiVersion", "2010-04-01"),
            ("MessageStatus", status),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let signature = twilio_signature(AUTH_TOKEN, &callback_url, &params);
        assert_eq!(
            app.post_signed("/status/sample", &params, Some(&signature))
                .await,
            200
        );
    }
    let unsigned = vec![
        ("MessageSid".to_string(), outbound.clone()),
        ("MessageStatus".to_string(), "failed".to_string()),
    ];
    assert_eq!(
        app.post_signed("/status/sample", &unsigned, None).await,
        403
    );

    let mut redis = app.redis.clone();
    let delivery: std::collections::HashMap<String, String> = redis
        .hgetall(app.key("sample", &format!("delivery:{outbound}")))
        .await
        .unwrap();
    assert_eq!(delivery["status"], "delivered");
    assert_eq!(delivery["history"], "queued,sent,delivered");
}

#[actix_web::test]
async fn a_replayed_signed_keyword_changes_nothing() {
    let app = signed_app().await;
    let url = format!("{PUBLIC_URL}/queue/sample");
    let send = |params: Vec<(String, String)>| {
        let signature = twilio_signature(AUTH_TOKEN, &url, &params);
        let app = &app;
        async move {
            assert_eq!(
                app.post_signed("/queue/sample", &params, Some(&signature))
                    .await,
                200
            );
        }
    };
    let opted_out = || async {
        let mut redis = app.redis.clone();
        let out: bool = redis
            .hexists(app.key("sample", "optout"), SENDER)
            .await
            .unwrap();
        out
    };
    let start = inbound(&new_sid(), "START");
    send(inbound(&new_sid(), "STOP")).await;
    assert!(opted_out().await);
    send(start.clone()).await;
    assert!(!opted_out().await);
    send(inbound(&new_sid(), "stop")).await;
    assert!(opted_out().await);

    // The captured START, signed correctly, sent again: it must not re-subscribe the number.
    send(start).await;
    assert!(
        opted_out().await,
        "a replayed START re-subscribed the number"
    );
    assert_eq!(
        app.queue_len("sample").await,
        0,
        "keywords are never queued"
    );
}
