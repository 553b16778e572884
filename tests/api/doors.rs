//! Closed doors: the dashboard's Content-Security-Policy and hardening headers, a re-queue that
//! respects `max_queue_depth`, the queue depth a web-only process reports before any worker
//! made the consumer group, and the Python webhook example's constant-time secret check.

use std::process::Command;

use actix_web::http::header::HeaderMap;
use pyrowire::app::{Role, RunOptions};
use pyrowire::commands::dead::{dead, DeadOptions};
use pyrowire::commands::status::status as status_table;
use pyrowire::domain::clock::now_ms;
use redis::AsyncCommands;
use serde_json::{json, Value};

use crate::common::new_sid;
use crate::helpers::{inbound, spawn_app_with, topic, TestApp};

const TOKEN: &str = "doors-token-0123456789";

/// A GET or POST with the dashboard token: status, headers, body.
async fn call(app: &TestApp, method: &str, path: &str) -> (u16, HeaderMap, String) {
    let client = awc::Client::default();
    let url = format!("{}{path}", app.address);
    let request = if method == "POST" {
        client.post(url)
    } else {
        client.get(url)
    };
    let mut response = request
        .insert_header(("Authorization", format!("Bearer {TOKEN}")))
        .send()
        .await
        .unwrap();
    let body = response.body().await.unwrap();
    let mut headers = HeaderMap::new();
    for (name, value) in response.headers() {
        headers.append(name.clone(), value.clone());
    }
    let body = String::from_utf8_lossy(&body).to_string();
    (response.status().as_u16(), headers, body)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The app with the dashboard on, in `role`, with `profile_extra` profile lines.
async fn dashboard_app(role: Role, profile_extra: &str) -> TestApp {
    let profile = format!("dashboard_token = \"{TOKEN}\"\n{profile_extra}");
    let options = RunOptions {
        role,
        ..RunOptions::default()
    };
    spawn_app_with(&topic("sample", r#""echo""#), &profile, options).await
}

/// The `src`/`href` of every `<script>` and stylesheet `<link>` of the page.
fn page_files(page: &str) -> Vec<String> {
    let attribute = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        Some(tag[start..start + tag[start..].find('"')?].to_string())
    };
    let tags = page.split('<').filter_map(|t| Some(&t[..t.find('>')?]));
    tags.filter_map(|tag| match tag.split_whitespace().next() {
        Some("script") => attribute(tag, "src"),
        Some("link") if tag.contains("rel=\"stylesheet\"") => attribute(tag, "href"),
        _ => None,
    })
    .collect()
}

#[actix_web::test]
async fn the_dashboard_has_a_strict_content_security_policy_it_can_live_with() {
    // Arrange
    let app = dashboard_app(Role::All, "").await;

    // Act
    let (status, headers, page) = call(&app, "GET", "/dashboard").await;

    // Assert
    assert_eq!(status, 200);
    let policy = header(&headers, "Content-Security-Policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "`{directive}` in `{policy}`");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    assert_eq!(header(&headers, "X-Content-Type-Options"), "nosniff");
    assert_eq!(header(&headers, "Referrer-Policy"), "no-referrer");
    assert_eq!(header(&headers, "X-Frame-Options"), "DENY");
    // Nothing inline that the policy would block: every script and style is a file.
    assert_eq!(page.matches("<script").count(), 1, "one script tag");
    assert!(!page.contains("<style"), "an inline <style>");
    assert!(!page.contains(" style=\""), "an inline style attribute");
    assert!(!page.contains(" onclick="), "an inline event handler");
    let files = page_files(&page);
    assert_eq!(files.len(), 2, "{files:?}");
    for file in files {
        // Relative to the page, so the dashboard also works behind a path prefix.
        assert!(!file.starts_with('/') && !file.contains(':'), "{file}");
        let (status, headers, body) = call(&app, "GET", &format!("/{file}")).await;
        assert_eq!(status, 200, "{file}");
        assert!(!body.is_empty(), "{file}");
        let kind = if file.ends_with(".js") {
            "text/javascript"
        } else {
            "text/css"
        };
        assert!(header(&headers, "Content-Type").starts_with(kind), "{file}");
        assert_eq!(header(&headers, "X-Content-Type-Options"), "nosniff");
    }
}

#[actix_web::test]
async fn the_dashboard_files_are_off_without_a_token() {
    let app = spawn_app_with(&topic("sample", r#""echo""#), "", RunOptions::default()).await;
    for path in [
        "/dashboard/static/dashboard.js",
        "/dashboard/static/dashboard.css",
    ] {
        assert_eq!(app.get_path(path).await.status, 404, "{path}");
    }
}

/// Makes `sid` a dead letter of `sample` by hand: queued by a webhook, then moved from the queue
/// to the dead letters as the recorder would.
async fn plant_dead_letter(app: &TestApp, sid: &str) {
    let mut redis = app.redis.clone();
    assert_eq!(
        app.post("sample", &inbound(sid, "doomed")).await.status,
        200
    );
    let entries: redis::streams::StreamRangeReply =
        redis.xrange_all(app.key("sample", "queue")).await.unwrap();
    let entry = entries.ids.last().unwrap();
    let job: String = entry.get("job").unwrap();
    let _: () = redis
        .xdel(app.key("sample", "queue"), &[&entry.id])
        .await
        .unwrap();
    let letter = json!({
        "job": serde_json::from_str::<Value>(&job).unwrap(),
        "reasons": ["twilio refused"],
        "dead_at": now_ms(),
    });
    let _: () = redis
        .set(
            app.key("sample", &format!("dead:{sid}")),
            letter.to_string(),
        )
        .await
        .unwrap();
    let _: () = redis
        .zadd(app.key("sample", "dead"), sid, now_ms())
        .await
        .unwrap();
}

async fn is_dead_letter(app: &TestApp, sid: &str) -> bool {
    let mut redis = app.redis.clone();
    let score: Option<u64> = redis.zscore(app.key("sample", "dead"), sid).await.unwrap();
    let exists: bool = redis
        .exists(app.key("sample", &format!("dead:{sid}")))
        .await
        .unwrap();
    score.is_some() && exists
}

#[actix_web::test]
async fn a_dead_letter_is_not_requeued_onto_a_full_queue() {
    // Arrange: a web-only process, so nothing drains the queue; it is full at two jobs.
    let app = dashboard_app(Role::Web, "max_queue_depth = 2\n").await;
    let doomed = new_sid();
    plant_dead_letter(&app, &doomed).await;
    for _ in 0..2 {
        let answer = app.post("sample", &inbound(&new_sid(), "fill")).await;
        assert_eq!(answer.status, 200);
    }
    assert_eq!(app.queue_len("sample").await, 2);
    let path = format!("/dashboard/api/topics/sample/dead/{doomed}/requeue");

    // Act: the dashboard and `pyrowire dead --requeue`.
    let (status, headers, body) = call(&app, "POST", &path).await;
    let settings = app.settings.clone();
    let options = DeadOptions {
        requeue: vec![doomed.clone()],
        limit: 10,
        ..Default::default()
    };
    let cli = actix_web::rt::task::spawn_blocking(move || dead(&settings, "sample", &options))
        .await
        .unwrap();

    // Assert: both refused, saying why; nothing queued, the dead letter kept.
    assert_eq!(status, 503, "{body}");
    assert!(!header(&headers, "Retry-After").is_empty());
    let error: Value = serde_json::from_str(&body).unwrap();
    let error = error["error"].as_str().unwrap();
    assert!(error.contains("max_queue_depth (2)"), "{error}");
    let cli = cli.expect_err("the CLI refuses too").to_string();
    assert!(cli.contains("max_queue_depth (2)"), "{cli}");
    assert!(cli.contains(&doomed), "{cli}");
    assert_eq!(app.queue_len("sample").await, 2);
    assert!(is_dead_letter(&app, &doomed).await);

    // Once there is room, the same re-queue goes through.
    let mut redis = app.redis.clone();
    let entries: redis::streams::StreamRangeReply =
        redis.xrange_all(app.key("sample", "queue")).await.unwrap();
    let _: () = redis
        .xdel(app.key("sample", "queue"), &[&entries.ids[0].id])
        .await
        .unwrap();
    let (status, _, body) = call(&app, "POST", &path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.queue_len("sample").await, 2);
    assert!(!is_dead_letter(&app, &doomed).await);
}

#[actix_web::test]
async fn a_web_only_process_counts_jobs_queued_before_any_worker_started() {
    // Arrange: no worker ever ran, so the stream has no consumer group.
    let app = dashboard_app(Role::Web, "").await;
    for _ in 0..3 {
        let answer = app.post("sample", &inbound(&new_sid(), "waiting")).await;
        assert_eq!(answer.status, 200);
    }

    // Act
    let metrics = app.get_path("/metrics").await.body;
    let (status, _, overview) = call(&app, "GET", "/dashboard/api/overview").await;
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

/// Loads examples/webhook_app.py as a module with `hmac.compare_digest` counting its calls,
/// serves it on a free port and sends a wrong and a right secret; prints the answers as JSON.
const PYTHON_PROBE: &str = r#"
import hmac, importlib.util, json, sys, threading, urllib.error, urllib.request
from http.server import ThreadingHTTPServer

calls = []
real = hmac.compare_digest
def counting(a, b):
    calls.append(1)
    return real(a, b)
hmac.compare_digest = counting

spec = importlib.util.spec_from_file_location("webhook_app", sys.argv[1])
app = importlib.util.module_from_spec(spec)
spec.loader.exec_module(app)
app.SECRET = "s3cret"
server = ThreadingHTTPServer(("127.0.0.1", 0), app.Webhook)
threading.Thread(target=server.serve_forever, daemon=True).start()
message = {"properties": {}, "message": "hi", "from_city": "PORTLAND", "media": {"media": []}}

def post(secret):
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.server_port}/sms", data=json.dumps(message).encode(),
        headers={"Content-Type": "application/json", "X-Pyrowire-Secret": secret})
    try:
        return urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as e:
        return e.code

answers = {"wrong": post("s3creT"), "right": post("s3cret")}
answers["compared"] = len(calls)
print(json.dumps(answers))
server.shutdown()
"#;

#[test]
fn the_python_webhook_example_compares_its_secret_in_constant_time() {
    // Arrange
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/webhook_app.py");

    // Act
    let output = Command::new("python3")
        .args(["-c", PYTHON_PROBE, example])
        .output()
        .expect("python3 runs");

    // Assert
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(answers["wrong"], 403, "{answers}");
    assert_eq!(answers["right"], 200, "{answers}");
    assert_eq!(
        answers["compared"], 2,
        "each secret went through hmac.compare_digest: {answers}"
    );
}
