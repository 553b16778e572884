//! The dashboard over HTTP: off without a token, its token check, the numbers Redis holds (phone
//! numbers masked; live sessions counted as `/metrics` and `pyrowire status` count them),
//! re-queueing a dead letter (refused onto a full queue, from the dashboard and the CLI alike),
//! and its Content-Security-Policy and hardening headers. dashboard_browser.rs drives it in a
//! real browser.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::HeaderMap;
use pyrowire::app::{Role, RunOptions};
use pyrowire::commands::dead::{dead, DeadOptions};
use pyrowire::commands::status::status as status_table;
use pyrowire::domain::clock::now_ms;
use pyrowire::domain::Reply;
use pyrowire::handlers::{from_fn, HandlerRegistry};
use redis::AsyncCommands;
use serde_json::{json, Value};

use crate::common::{new_sid, Scripted};
use crate::helpers::{
    default_topic, inbound, spawn_app, spawn_app_with, twilio_table, TestApp, SENDER,
};

const WAIT: Duration = Duration::from_secs(10);
const TOKEN: &str = "dash-token-0123456789";

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
    spawn_app_with(&default_topic("sample", r#""echo""#), &profile, options).await
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
    let (status, headers, page) = app.dashboard("GET", "/dashboard", Some(TOKEN)).await;

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
        let (status, headers, body) = app.dashboard("GET", &format!("/{file}"), Some(TOKEN)).await;
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
    let app = spawn_app_with(
        &default_topic("sample", r#""echo""#),
        "",
        RunOptions::default(),
    )
    .await;
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
    let (status, headers, body) = app.dashboard("POST", &path, Some(TOKEN)).await;
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
    let (status, _, body) = app.dashboard("POST", &path, Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.queue_len("sample").await, 2);
    assert!(!is_dead_letter(&app, &doomed).await);
}

#[actix_web::test]
async fn the_dashboard_is_off_without_a_token() {
    let app = spawn_app(&default_topic("sample", r#""echo""#)).await;
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
        &default_topic("sample", r#""echo""#),
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

    let (status, _, body) = app
        .dashboard("GET", "/dashboard/api/overview", Some(TOKEN))
        .await;
    assert_eq!(status, 200);
    assert!(!body.contains(SENDER), "an unmasked number in {body}");
    let overview: Value = serde_json::from_str(&body).unwrap();
    let sample = &overview["topics"][0];
    assert_eq!(sample["name"], "sample");
    assert_eq!(sample["queue_depth"], 0);
    assert_eq!(sample["bulk_depth"], 0);
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
    let (status, _, body) = app.dashboard("POST", &path, Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    app.wait_outcome("sample", &dead, "completed", WAIT).await;
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

/// The app with the dashboard on and topic `sample` handled by `remember`, a Rust handler that
/// keeps `{"n": 1}` in the sender's session.
async fn remembering_app() -> TestApp {
    let mut handlers = HandlerRegistry::default();
    let handler = from_fn(|_message, context| async move {
        context.set("n", 1)?;
        Ok(Reply::text("noted"))
    });
    handlers.register(
        "remember",
        Arc::new(move |_: &toml::Table| Ok(handler.clone())),
    );
    let topics = format!(
        "[topics.sample]\nhandler = \"remember\"\n{}",
        twilio_table("sample")
    );
    let options = RunOptions {
        handlers,
        ..RunOptions::default()
    };
    let profile = format!("dashboard_token = \"{TOKEN}\"\n");
    spawn_app_with(&topics, &profile, options).await
}

#[actix_web::test]
async fn the_dashboard_metrics_and_status_count_live_sessions_only() {
    // Arrange: one session saved by the real pipeline, then an entry past its time that no save
    // has trimmed yet (the save trims the set, so it comes after).
    let app = remembering_app().await;
    let sid = new_sid();
    assert_eq!(
        app.post("sample", &inbound(&sid, "hello")).await.status,
        200
    );
    app.wait_outcome("sample", &sid, "completed", WAIT).await;
    let mut redis = app.redis.clone();
    let _: () = redis
        .zadd(
            app.key("sample", "sessions"),
            "+15550000000",
            now_ms() - 1_000,
        )
        .await
        .unwrap();
    let listed: u64 = redis.zcard(app.key("sample", "sessions")).await.unwrap();

    // Act
    let (status, _, body) = app
        .dashboard("GET", "/dashboard/api/overview", Some(TOKEN))
        .await;
    let metrics = app.get_path("/metrics").await.body;
    let settings = app.settings.clone();
    let table = actix_web::rt::task::spawn_blocking(move || status_table(&settings).unwrap())
        .await
        .unwrap();

    // Assert
    assert_eq!(listed, 2, "the saved session and the expired entry");
    assert_eq!(status, 200, "{body}");
    let overview: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(overview["topics"][0]["sessions"], 1, "{body}");
    let line = r#"pyrowire_sessions{topic="sample"} 1"#;
    assert!(
        metrics.lines().any(|l| l == line),
        "`{line}` in:\n{metrics}"
    );
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    let row = table.lines().find(|l| l.starts_with("sample")).unwrap();
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(header[6], "sessions", "{table}");
    assert_eq!(columns[5], "1", "{table}");
}
