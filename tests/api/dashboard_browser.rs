//! The dashboard in a real headless browser (Debian's Chromium driven by playwright-core, see
//! tests/browser/): it loads, shows the numbers Redis holds, re-queues a dead letter at the press
//! of its button, and leaves a screenshot at target/dashboard.png.
//!
//! It needs Chromium, Node and playwright-core, so it is ignored by a plain `cargo test` (which
//! lists it as ignored); scripts/test installs them and runs it. When they are missing it fails.

use std::process::Command;
use std::time::Duration;

use pyrowire::app::RunOptions;

use crate::common::{new_sid, Scripted};
use crate::helpers::{default_topic, inbound, spawn_app_with};

const WAIT: Duration = Duration::from_secs(10);

#[actix_web::test]
#[ignore = "needs Chromium; scripts/test runs it"]
async fn the_dashboard_shows_redis_numbers_and_requeues_in_a_real_browser() {
    // Set by scripts/test when it could not install the browser or its driver.
    if let Ok(why) = std::env::var("PYROWIRE_BROWSER_MISSING") {
        panic!("the browser test cannot run: {why}");
    }
    let token = format!("t{:016x}", rand::random::<u64>());
    let profile = format!("dashboard_token = \"{token}\"\n");
    let app = spawn_app_with(
        &default_topic("sample", r#""echo""#),
        &profile,
        RunOptions::default(),
    )
    .await;
    app.twilio.script(vec![Scripted::error(400, Some(21211))]);
    let dead = new_sid();
    app.post("sample", &inbound(&dead, "doomed")).await;
    app.wait_record("sample", &dead, WAIT).await;
    for text in ["one", "two", "three"] {
        let sid = new_sid();
        app.post("sample", &inbound(&sid, text)).await;
        app.wait_record("sample", &sid, WAIT).await;
    }

    let screenshot = concat!(env!("CARGO_MANIFEST_DIR"), "/target/dashboard.png");
    let mut node = Command::new("node");
    node.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/browser/dashboard.mjs"
    ))
    .args(["--url", &app.address, "--token", &token])
    .args([
        "--expect",
        r#"{"sample": {"queue_depth": 0, "in_flight": 0, "bulk_depth": 0, "completed": 3, "dead_lettered": 1}}"#,
    ])
    .args(["--requeue", &dead, "--screenshot", screenshot]);
    let output = actix_web::rt::task::spawn_blocking(move || {
        node.output().expect("node runs (scripts/test installs it)")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "browser test failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let record = app.wait_outcome("sample", &dead, "completed", WAIT).await;
    assert_eq!(
        record["outcome"], "completed",
        "the re-queued job was answered"
    );
    assert!(std::path::Path::new(screenshot).exists());
}
