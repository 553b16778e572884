//! Seeing it: `/health` and `/health/live`, `/metrics`, and the queue depth that a web-only
//! process reports (metrics, dashboard, `pyrowire status`) before any worker made the consumer
//! group. The dashboard itself is in dashboard.rs.

use std::time::Duration;

use pyrowire::app::{Role, RunOptions};
use pyrowire::commands::status::status as status_table;
use serde_json::Value;

use crate::common::new_sid;
use crate::helpers::{default_topic, inbound, spawn_app, spawn_app_with};

const WAIT: Duration = Duration::from_secs(10);
const TOKEN: &str = "dash-token-0123456789";

#[actix_web::test]
async fn metrics_count_what_happened_per_topic() {
    let app = spawn_app(&default_topic("sample", r#""echo""#)).await;
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
    let app = spawn_app(&default_topic("sample", r#""echo""#)).await;
    assert_eq!(app.get_path("/health/live").await.status, 200);
    assert_eq!(app.get_path("/health").await.status, 200);
    // Keep a job in flight so the shutdown lasts a while.
    app.twilio.set_delay(Duration::from_millis(800));
    app.post("sample", &inbound(&new_sid(), "slow send")).await;
    app.twilio.wait_for(1, WAIT).await;
    app.shutdown.trigger();
    let draining = app.wait_for_health(503, WAIT).await;
    assert_eq!(draining.status, 503, "{}", draining.body);
}

#[actix_web::test]
async fn a_web_only_process_counts_jobs_queued_before_any_worker_started() {
    // Arrange: no worker ever ran, so the stream has no consumer group.
    let options = RunOptions {
        role: Role::Web,
        ..RunOptions::default()
    };
    let profile = format!("dashboard_token = \"{TOKEN}\"\n");
    let app = spawn_app_with(&default_topic("sample", r#""echo""#), &profile, options).await;
    for _ in 0..3 {
        let answer = app.post("sample", &inbound(&new_sid(), "waiting")).await;
        assert_eq!(answer.status, 200);
    }

    // Act
    let metrics = app.get_path("/metrics").await.body;
    let (status, _, overview) = app
        .dashboard("GET", "/dashboard/api/overview", Some(TOKEN))
        .await;
    let settings = app.settings.clone();
    let table = actix_web::rt::task::spawn_blocking(move || status_table(&settings).unwrap())
        .await
        .unwrap();

    // Assert
    for line in [
        r#"pyrowire_queue_depth{topic="sample"} 3"#,
        r#"pyrowire_in_flight{topic="sample"} 0"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "`{line}` in:\n{metrics}"
        );
    }
    assert_eq!(status, 200, "{overview}");
    let overview: Value = serde_json::from_str(&overview).unwrap();
    assert_eq!(overview["topics"][0]["queue_depth"], 3, "{overview}");
    assert_eq!(overview["topics"][0]["in_flight"], 0, "{overview}");
    let row = table.lines().find(|l| l.starts_with("sample")).unwrap();
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(columns[..3], ["sample", "3", "0"], "{table}");
}
