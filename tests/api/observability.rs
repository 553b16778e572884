//! Seeing it: `/health` and `/health/live`, `/metrics`, and the queue depth that a web-only
//! process reports (metrics, dashboard, `pyrowire status`) before any worker made the consumer
//! group. The dashboard itself is in dashboard.rs.

use std::time::Duration;

use pyrowire::app::{Role, RunOptions};
use pyrowire::commands::status::status as status_table;
use serde_json::Value;

use std::collections::BTreeMap;

use crate::common::{new_sid, Scripted};
use crate::helpers::{default_topic, inbound, spawn_app, spawn_app_with, twilio_table};

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

/// One sample of Prometheus text: `name{a="1",b="2"} value`, labels sorted.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses Prometheus text exposition: every sample line, and each `# TYPE` by metric name.
fn parse_prometheus(text: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
    let mut samples = Vec::new();
    let mut types = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            types.insert(name.to_string(), kind.to_string());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value of `{line}`"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.strip_suffix('}').expect("labels close")),
            None => (series, ""),
        };
        let labels = labels
            .split(',')
            .filter(|l| !l.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').expect("label=value");
                let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
                (k.to_string(), v.expect("quoted label value").to_string())
            })
            .collect();
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    (samples, types)
}

/// The value of the sample `name` with exactly `labels`, if there is one.
fn sample(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == wanted)
        .map(|s| s.value)
}

#[actix_web::test]
async fn twilio_calls_answers_and_delivery_statuses_have_their_series() {
    // Arrange: the first create answers 500, so the send is looked up (a list call) and sent
    // again; one attempt is enough to get there.
    let topic = format!(
        "[topics.sample]\nhandler = \"echo\"\naccept_response = \"ok\"\n[topics.sample.retry]\nmax_attempts = 3\nbackoff_initial_ms = 20\nbackoff_max_ms = 50\n{}",
        twilio_table("sample")
    );
    let app = spawn_app(&topic).await;
    let (before, _) = parse_prometheus(&app.get_path("/metrics").await.body);
    app.twilio.script(vec![Scripted::error(500, None)]);
    let sid = new_sid();

    // Act
    app.post("sample", &inbound(&sid, "measured")).await;
    let record = app.wait_record("sample", &sid, WAIT).await;
    let twilio_sid = record["sent"][0]["sid"].as_str().unwrap().to_string();
    for (status, code) in [("delivered", None), ("undelivered", Some("30003"))] {
        let mut form = vec![
            ("MessageSid", twilio_sid.as_str()),
            ("MessageStatus", status),
            ("To", "+15551234567"),
        ];
        form.extend(code.map(|c| ("ErrorCode", c)));
        let body = serde_urlencoded::to_string(form).unwrap().into_bytes();
        let answer = app.post_raw_path("/status/sample", body).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let text = app.get_path("/metrics").await.body;
    let (after, types) = parse_prometheus(&text);

    // Assert: every new family at 0 from the start, then what happened.
    let topic = ("topic", "sample");
    let create = [("call", "create"), topic];
    let list = [("call", "list"), topic];
    let duration = "pyrowire_twilio_request_duration_seconds_count";
    assert_eq!(sample(&before, duration, &create), Some(0.0), "{text}");
    assert_eq!(sample(&before, duration, &list), Some(0.0));
    let ok = [("error_code", "none"), ("status", "201"), topic];
    assert_eq!(
        sample(&before, "pyrowire_twilio_responses_total", &ok),
        Some(0.0)
    );
    let delivered = [("error_code", "none"), ("status", "delivered"), topic];
    assert_eq!(
        sample(&before, "pyrowire_deliveries_total", &delivered),
        Some(0.0)
    );
    let version = [("version", env!("CARGO_PKG_VERSION"))];
    assert_eq!(sample(&before, "pyrowire_build_info", &version), Some(1.0));

    assert_eq!(sample(&after, duration, &create), Some(2.0), "{text}");
    assert!(sample(&after, duration, &list).unwrap() >= 1.0, "{text}");
    let bucket = [("call", "create"), ("le", "+Inf"), topic];
    let bucket_name = "pyrowire_twilio_request_duration_seconds_bucket";
    assert_eq!(sample(&after, bucket_name, &bucket), Some(2.0));
    let failed = [("error_code", "none"), ("status", "500"), topic];
    let responses = "pyrowire_twilio_responses_total";
    assert_eq!(sample(&after, responses, &failed), Some(1.0), "{text}");
    assert_eq!(sample(&after, responses, &ok), Some(1.0));
    let listed = [("error_code", "none"), ("status", "200"), topic];
    assert!(sample(&after, responses, &listed).unwrap() >= 1.0, "{text}");
    let deliveries = "pyrowire_deliveries_total";
    assert_eq!(sample(&after, deliveries, &delivered), Some(1.0), "{text}");
    let undelivered = [("error_code", "30003"), ("status", "undelivered"), topic];
    assert_eq!(sample(&after, deliveries, &undelivered), Some(1.0));
    for (family, kind) in [
        ("pyrowire_twilio_request_duration_seconds", "histogram"),
        ("pyrowire_twilio_responses_total", "counter"),
        ("pyrowire_deliveries_total", "counter"),
        ("pyrowire_build_info", "gauge"),
        ("pyrowire_outbound_accepted_total", "counter"),
        ("pyrowire_outbound_finished_total", "counter"),
    ] {
        assert_eq!(
            types.get(family).map(String::as_str),
            Some(kind),
            "{family}"
        );
    }
    assert!(!types.contains_key("pyrowire_outbound_total"));
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
