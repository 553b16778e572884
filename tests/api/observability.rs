//! Seeing it: `/health` and `/health/live`, `/metrics`, the dashboard's JSON (token, numbers
//! from Redis, masked numbers, re-queue) and `pyrowire status`.

use std::time::Duration;

use pyrowire::app::RunOptions;
use pyrowire::commands::status::status as status_table;
use serde_json::Value;

use crate::common::{new_sid, Scripted};
use crate::helpers::{inbound, spawn_app, spawn_app_with, topic, TestApp, SENDER};

const WAIT: Duration = Duration::from_secs(10);
const TOKEN: &str = "dash-token-0123456789";

impl TestApp {
    async fn dashboard(&self, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
        let client = awc::Client::default();
        let url = format!("{}{path}", self.address);
        let mut request = if method == "POST" {
            client.post(url)
        } else {
            client.get(url)
        };
        if let Some(token) = token {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let mut response = request.send().await.unwrap();
        let body = response.body().await.unwrap();
        (
            response.status().as_u16(),
            String::from_utf8_lossy(&body).to_string(),
        )
    }
}

#[actix_web::test]
async fn metrics_count_what_happened_per_topic() {
    let app = spawn_app(&topic("sample", r#""echo""#)).await;
    let sid = new_sid();
    app.post("sample", &inbound(&sid, "counted")).await;
    app.post("sample", &inbound(&sid, "counted")).await;
    app.post("sample", &inbound(&new_sid(), "fuck")).await;
    app.wait_record("sample", &sid, WAIT).await;

    let metrics = app.get_path("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.content_type.starts_with("text/plain"));
    for line in [
        r#"pyrowire_received_total{topic="sample"} 3"#,
        r#"pyrowire_queued_total{topic="sample"} 1"#,
        r#"pyrowire_duplicates_total{topic="sample"} 1"#,
        r#"pyrowire_rejected_total{topic="sample",validator="profanity"} 1"#,
        r#"pyrowire_processed_total{outcome="completed",topic="sample"} 1"#,
        r#"pyrowire_sent_total{encoding="gsm7",topic="sample"} 1"#,
        r#"pyrowire_queue_depth{topic="sample"} 0"#,
        r#"pyrowire_in_flight{topic="sample"} 0"#,
        r#"pyrowire_ingress_seconds_count{topic="sample"} 3"#,
        r#"pyrowire_end_to_end_seconds_count{topic="sample"} 1"#,
    ] {
        assert!(
            metrics.body.lines().any(|l| l == line),
            "missing `{line}` in:\n{}",
            metrics.body
        );
    }
    assert!(metrics.body.contains("process_resident_memory_bytes"));
}

#[actix_web::test]
async fn liveness_is_separate_from_readiness() {
    let app = spawn_app(&topic("sample", r#""echo""#)).await;
    assert_eq!(app.get_path("/health/live").await.status, 200);
    assert_eq!(app.get_path("/health").await.status, 200);
    // Keep a job in flight so the shutdown lasts a while.
    app.twilio.set_delay(Duration::from_millis(800));
    app.post("sample", &inbound(&new_sid(), "slow send")).await;
    app.twilio.wait_for(1, WAIT).await;
    app.shutdown.trigger();
    actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    let draining = app.get_path("/health").await;
    assert_eq!(draining.status, 503, "{}", draining.body);
}

#[actix_web::test]
async fn the_dashboard_is_off_without_a_token() {
    let app = spawn_app(&topic("sample", r#""echo""#)).await;
    assert_eq!(app.dashboard("GET", "/dashboard", None).await.0, 404);
    assert_eq!(
        app.dashboard("GET", "/dashboard/api/overview", Some("x"))
            .await
            .0,
        404
    );
}

#[actix_web::test]
async fn the_dashboard_api_shows_redis_numbers_masked_and_requeues_dead_letters() {
    let profile = format!("dashboard_token = \"{TOKEN}\"\n");
    let app = spawn_app_with(
        &topic("sample", r#""echo""#),
        &profile,
        RunOptions::default(),
    )
    .await;
    assert_eq!(app.dashboard("GET", "/dashboard", None).await.0, 200);
    assert_eq!(
        app.dashboard("GET", "/dashboard/api/overview", None)
            .await
            .0,
        401
    );
    assert_eq!(
        app.dashboard("GET", "/dashboard/api/overview", Some("wrong"))
            .await
            .0,
        401
    );

    app.twilio.script(vec![Scripted::error(400, Some(21211))]);
    let (dead, fine) = (new_sid(), new_sid());
    app.post("sample", &inbound(&dead, "doomed")).await;
    app.wait_record("sample", &dead, WAIT).await;
    app.post("sample", &inbound(&fine, "fine")).await;
    app.wait_record("sample", &fine, WAIT).await;

    let (status, body) = app
        .dashboard("GET", "/dashboard/api/overview", Some(TOKEN))
        .await;
    assert_eq!(status, 200);
    assert!(!body.contains(SENDER), "an unmasked number in {body}");
    let overview: Value = serde_json::from_str(&body).unwrap();
    let sample = &overview["topics"][0];
    assert_eq!(sample["name"], "sample");
    assert_eq!(sample["queue_depth"], 0);
    assert_eq!(sample["completed"], 1);
    assert_eq!(sample["dead_lettered"], 1);
    assert_eq!(sample["history"].as_array().unwrap().len(), 60);
    assert_eq!(sample["history"][59]["completed"], 1);
    assert_eq!(sample["dead_letters"][0]["sid"], dead.as_str());
    assert!(sample["dead_letters"][0]["reasons"][0]
        .as_str()
        .unwrap()
        .contains("21211"));
    assert_eq!(sample["recent"][0]["sid"], fine.as_str());
    assert_eq!(sample["recent"][0]["number"], "+1********67");

    let path = format!("/dashboard/api/topics/sample/dead/{dead}/requeue");
    assert_eq!(app.dashboard("POST", &path, None).await.0, 401);
    let (status, body) = app.dashboard("POST", &path, Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let record = app.wait_record("sample", &dead, WAIT).await;
        if record["outcome"] == "completed" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "re-queued job did not complete"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.dashboard("POST", &path, Some(TOKEN)).await.0, 404);

    // `pyrowire status` runs its own runtime: call it from a plain thread.
    let settings = app.settings.clone();
    let table = actix_web::rt::task::spawn_blocking(move || status_table(&settings).unwrap())
        .await
        .unwrap();
    let row = table.lines().find(|l| l.starts_with("sample")).unwrap();
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(columns[..5], ["sample", "0", "0", "2", "1"], "{table}");
}
