//! What an operator runs, with the real executable: a worker process's own health and metrics
//! routes beside a web process, `pyrowire health`, the `--json` of `status`, `recent`, `dead` and
//! `check`, and the container files (Dockerfile, the one `init` writes, compose.yaml, LICENSE),
//! whose build needs registries the tests do not reach.

#[allow(dead_code)] // these tests use only part of the harness
mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::process::run_bounded;
use common::{FakeTwilio, Process, Scripted, ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

fn exe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pyrowire"))
}

/// A settings file whose test profile lets the OS pick the port, with one echo topic whose
/// Twilio is the stand-in at `api_base`.
fn settings_file(dir: &Path, api_base: &str) -> std::path::PathBuf {
    let redis = common::redis_url();
    let prefix = format!("ops{:08x}", rand::random::<u32>());
    let text = format!(
        r#"
[profiles.test]
host = "127.0.0.1"
port = 0
log_level = "info"
redis = "{redis}"
redis_prefix = "{prefix}"
validate_signatures = false

[topics.sample]
handler = "echo"
accept_response = "ok"
[topics.sample.retry]
max_attempts = 1
[topics.sample.validators]
length = "too long"
[topics.sample.twilio]
account_sid = "{ACCOUNT_SID}"
auth_token = "{AUTH_TOKEN}"
from_number = "{FROM_NUMBER}"
api_base = "{api_base}"
"#
    );
    let path = dir.join("settings.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `pyrowire serve --role ROLE` of the test profile.
fn serve(path: &Path, role: &str) -> Process {
    let mut command = exe();
    command
        .args(["serve", "--profile", "test", "--role", role, "--settings"])
        .arg(path)
        .env_remove("PORT");
    Process::start(command)
}

/// A web process's base URL from its "Listening on http://..." line.
async fn web_address(web: &mut Process) -> String {
    let line = web.await_line("Listening on http://", WAIT).await;
    line.split("Listening on ")
        .nth(1)
        .unwrap()
        .trim()
        .to_string()
}

/// The worker's base URL from its "Worker health and metrics on http://..." line.
async fn worker_address(worker: &mut Process) -> String {
    let line = worker
        .await_line("Worker health and metrics on http://", WAIT)
        .await;
    let url = line.split(" on ").nth(1).unwrap();
    url.split_whitespace().next().unwrap().to_string()
}

/// A command of the test profile (`status`, `recent sample`, ...) run to its end.
async fn tool(path: &Path, args: &[&str]) -> std::process::Output {
    let mut command = exe();
    command
        .args(args)
        .args(["--profile", "test", "--settings"])
        .arg(path);
    run_bounded(command, WAIT).await
}

/// The stdout of a `--json` command, parsed; the command must have exited 0.
async fn json_of(path: &Path, args: &[&str]) -> Value {
    let output = tool(path, args).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{args:?}: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {stdout}"))
}

async fn get(url: &str) -> (u16, String) {
    let mut response = awc::Client::default().get(url).send().await.unwrap();
    let body = response.body().await.unwrap();
    (
        response.status().as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

fn webhook(sid: &str, body: &str) -> String {
    serde_urlencoded::to_string([
        ("From", "+15551234567"),
        ("To", FROM_NUMBER),
        ("AccountSid", ACCOUNT_SID),
        ("MessageSid", sid),
        ("Body", body),
    ])
    .unwrap()
}

async fn post_webhook(web: &str, sid: &str, body: &str) {
    let response = awc::Client::default()
        .post(format!("{web}/queue/sample"))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .send_body(webhook(sid, body))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

/// Polls `url` until its body has a line equal to `line`.
async fn wait_for_metric(url: &str, line: &str) -> String {
    let mut last = String::new();
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        let (status, body) = get(url).await;
        if status == 200 && body.lines().any(|l| l == line) {
            return body;
        }
        last = body;
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no `{line}` at {url} within {WAIT:?}:\n{last}");
}

#[actix_web::test]
async fn a_worker_process_serves_health_and_metrics_and_nothing_else() {
    // Arrange: a web process takes the webhook, a worker process answers it.
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(dir.path(), &twilio.base);
    let mut web = serve(&settings, "web");
    let web_url = web_address(&mut web).await;
    let mut worker = serve(&settings, "worker");
    let worker_url = worker_address(&mut worker).await;

    // Act
    post_webhook(
        &web_url,
        "SM00000000000000000000000000000a01",
        "from the web side",
    )
    .await;
    let sent = twilio.wait_for(1, WAIT).await;

    // Assert: the worker counted it, on its own /metrics.
    assert_eq!(sent[0].field("Body"), Some("from the web side"));
    let metrics = wait_for_metric(
        &format!("{worker_url}/metrics"),
        r#"pyrowire_processed_total{outcome="completed",topic="sample"} 1"#,
    )
    .await;
    assert!(
        metrics.contains(
            r#"pyrowire_twilio_responses_total{error_code="none",status="201",topic="sample"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("pyrowire_build_info{version="),
        "{metrics}"
    );
    let (_, web_metrics) = get(&format!("{web_url}/metrics")).await;
    assert!(
        web_metrics.contains(r#"pyrowire_processed_total{outcome="completed",topic="sample"} 0"#),
        "the web process handled nothing:\n{web_metrics}"
    );
    let (live, _) = get(&format!("{worker_url}/health/live")).await;
    assert_eq!(live, 200);
    let (ready, health) = get(&format!("{worker_url}/health")).await;
    assert_eq!(ready, 200, "{health}");
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["role"], "worker");
    assert_eq!(health["redis"], "up");
    assert_eq!(health["pools"]["sample"], "reading", "{health}");
    for path in [
        "/queue/sample",
        "/status/sample",
        "/dashboard",
        "/api/topics/sample/messages",
    ] {
        let response = awc::Client::default()
            .post(format!("{worker_url}{path}"))
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .send_body(webhook("SM00000000000000000000000000000a02", "not here"))
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 404, "{path}");
        assert_eq!(get(&format!("{worker_url}{path}")).await.0, 404, "{path}");
    }

    // `pyrowire health URL`: 0 against the worker, 1 against a closed port.
    let mut command = exe();
    command.args(["health", &format!("{worker_url}/health/live")]);
    let healthy = run_bounded(command, WAIT).await;
    assert!(healthy.status.success(), "{healthy:?}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut command = exe();
    command.args(["health", &format!("http://127.0.0.1:{closed}/health/live")]);
    let started = std::time::Instant::now();
    let unhealthy = run_bounded(command, WAIT).await;
    assert_eq!(unhealthy.status.code(), Some(1), "{unhealthy:?}");
    assert!(started.elapsed() < Duration::from_secs(7));
    // With no URL it asks $PORT: the worker's port.
    let port = worker_url.rsplit(':').next().unwrap().to_string();
    let mut command = exe();
    command.arg("health").env("PORT", &port);
    assert!(run_bounded(command, WAIT).await.status.success());
}

#[actix_web::test]
async fn a_worker_holds_at_most_64_connections_and_takes_more_once_they_go() {
    // Arrange: a worker, and 64 idle connections that send nothing.
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(dir.path(), &twilio.base);
    let mut worker = serve(&settings, "worker");
    let url = worker_address(&mut worker).await;
    let address = url.trim_start_matches("http://").to_string();
    let idle: Vec<std::net::TcpStream> = (0..64)
        .map(|_| std::net::TcpStream::connect(&address).unwrap())
        .collect();
    actix_rt::time::sleep(Duration::from_millis(300)).await;

    // Act
    let client = awc::Client::builder()
        .timeout(Duration::from_millis(800))
        .finish();
    let while_full = client.get(format!("{url}/health/live")).send().await;
    drop(idle);
    let deadline = std::time::Instant::now() + WAIT;
    let mut after = None;
    while after.is_none() && std::time::Instant::now() < deadline {
        after = client
            .get(format!("{url}/health/live"))
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16());
    }

    // Assert: the 65th waited in the kernel's backlog; once the others closed, it is served.
    assert!(
        while_full.is_err(),
        "answered while 64 connections were held"
    );
    assert_eq!(after, Some(200));
}

#[actix_web::test]
async fn a_worker_whose_port_is_taken_still_works_and_says_so() {
    // Arrange: the profile's port is held by another socket.
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(dir.path(), &twilio.base);
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(
        &settings,
        text.replace("port = 0", &format!("port = {port}")),
    )
    .unwrap();

    // Act
    let mut worker = serve(&settings, "worker");
    let warning = worker
        .await_line("Worker runs without its health and metrics routes", WAIT)
        .await;
    worker.await_line("Worker pool started.", WAIT).await;
    let mut web = {
        let text = std::fs::read_to_string(&settings).unwrap();
        std::fs::write(
            &settings,
            text.replace(&format!("port = {port}"), "port = 0"),
        )
        .unwrap();
        serve(&settings, "web")
    };
    let web_url = web_address(&mut web).await;
    post_webhook(
        &web_url,
        "SM00000000000000000000000000000b01",
        "still answered",
    )
    .await;

    // Assert
    assert!(warning.contains(&port.to_string()), "{warning}");
    let sent = twilio.wait_for(1, WAIT).await;
    assert_eq!(sent[0].field("Body"), Some("still answered"));
    drop(holder);
}

#[actix_web::test]
async fn status_recent_dead_and_check_print_json_with_the_text_facts() {
    // Arrange: one message answered, one dead-lettered (Twilio refuses the number for good).
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(dir.path(), &twilio.base);
    let mut server = serve(&settings, "all");
    let url = web_address(&mut server).await;
    post_webhook(&url, "SM00000000000000000000000000000c01", "hello json").await;
    twilio.wait_for(1, WAIT).await;
    twilio.script(vec![Scripted::error(400, Some(21211))]);
    post_webhook(&url, "SM00000000000000000000000000000c02", "refused").await;
    let metrics = wait_for_metric(
        &format!("{url}/metrics"),
        r#"pyrowire_processed_total{outcome="dead_lettered",topic="sample"} 1"#,
    )
    .await;
    assert!(
        metrics.contains(
            r#"pyrowire_twilio_responses_total{error_code="21211",status="400",topic="sample"} 1"#
        ),
        "{metrics}"
    );
    // One more, left queued: no worker may take it, so stop the server first.
    server.kill();
    let mut web = serve(&settings, "web");
    let web_url = web_address(&mut web).await;
    post_webhook(&web_url, "SM00000000000000000000000000000c03", "waiting").await;

    // Act
    let status = json_of(&settings, &["status", "--json"]).await;
    let recent = json_of(&settings, &["recent", "sample", "--json"]).await;
    let dead = json_of(&settings, &["dead", "sample", "--json"]).await;
    let check = json_of(&settings, &["check", "--json"]).await;

    // Assert: the numbers the text shows.
    let topic = &status["topics"][0];
    assert_eq!(topic["topic"], "sample", "{status}");
    assert_eq!(topic["queued"], 1, "{status}");
    assert_eq!(topic["completed"], 1, "{status}");
    assert_eq!(topic["dead_lettered"], 1, "{status}");
    assert_eq!(topic["completed_last_5_minutes"], 1, "{status}");
    let text = tool(&settings, &["status"]).await;
    let table = String::from_utf8_lossy(&text.stdout);
    let row: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("sample"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(row[1..5], ["1", "0", "1", "1"], "{table}");

    let done = &recent["completed"][0];
    assert_eq!(
        done["sid"], "SM00000000000000000000000000000c01",
        "{recent}"
    );
    assert_eq!(done["reply"], "hello json", "{recent}");
    assert_eq!(done["message"], "hello json");
    assert_eq!(done["direction"], "inbound");
    assert!(done["sent"][0]["sid"].as_str().unwrap().starts_with("SM"));
    assert!(
        !recent.to_string().contains("+15551234567"),
        "numbers are masked: {recent}"
    );
    assert_eq!(
        recent["dead_lettered"][0]["sid"],
        "SM00000000000000000000000000000c02"
    );

    assert_eq!(dead["total"], 1, "{dead}");
    let letter = &dead["dead_letters"][0];
    assert_eq!(letter["sid"], "SM00000000000000000000000000000c02");
    let reason = letter["reasons"][0].as_str().unwrap();
    assert!(reason.contains("21211"), "{reason}");
    let text = tool(&settings, &["dead", "sample"]).await;
    assert!(String::from_utf8_lossy(&text.stdout).contains(reason));

    assert_eq!(check["valid"], true, "{check}");
    assert_eq!(check["profile"], "test");
    assert_eq!(check["topics"][0]["topic"], "sample");
    assert_eq!(check["topics"][0]["handler"], "echo");
    assert!(!check.to_string().contains(AUTH_TOKEN));

    // Exit codes are those of the text: an unknown topic is still 1 and prints no JSON.
    let unknown = tool(&settings, &["recent", "nope", "--json"]).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(unknown.stdout.is_empty());
}

/// The repository's file at `path`.
fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The `FROM` images of a Dockerfile.
fn base_images(dockerfile: &str) -> Vec<String> {
    dockerfile
        .lines()
        .filter_map(|l| l.trim().strip_prefix("FROM "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[test]
fn the_dockerfiles_set_port_a_healthcheck_a_user_and_pinned_bases() {
    let dockerfile = repo_file("Dockerfile");
    let app = repo_file("scripts/app.Dockerfile");
    for (name, text) in [("Dockerfile", &dockerfile), ("app.Dockerfile", &app)] {
        let env = text
            .lines()
            .find(|l| l.starts_with("ENV ") && l.contains("PORT="))
            .unwrap_or_else(|| panic!("{name}: no ENV PORT"));
        assert!(
            env.split_whitespace().any(|w| w == "PORT=8080"),
            "{name}: {env}"
        );
        let healthcheck = text
            .split("HEALTHCHECK")
            .nth(1)
            .unwrap_or_else(|| panic!("{name}: no HEALTHCHECK"));
        let command = healthcheck.split("CMD").nth(1).unwrap();
        let command = command.lines().next().unwrap().trim();
        assert_eq!(
            command, r#"["pyrowire", "health"]"#,
            "{name}: exec form, no shell"
        );
        assert!(
            text.lines().any(|l| l.trim() == "USER pyrowire"),
            "{name}: runs as root"
        );
        assert!(text.contains("EXPOSE 8080"), "{name}");
    }
    for image in base_images(&dockerfile) {
        let tag = image
            .split(':')
            .nth(1)
            .unwrap_or_else(|| panic!("{image}: no tag"));
        assert!(
            tag.starts_with(|c: char| c.is_ascii_digit()),
            "{image}: a floating tag"
        );
        assert!(tag.contains('.'), "{image}: not a pinned version");
    }
    // Dependencies are built in a layer of their own, before the sources are copied.
    let manifests = dockerfile
        .find("COPY Cargo.toml Cargo.lock")
        .expect("a dependency layer");
    let sources = dockerfile.find("COPY . .").unwrap();
    let first_build = dockerfile.find("cargo build").unwrap();
    assert!(manifests < first_build && first_build < sources);
    assert!(!app.contains(":latest"), "the app image pins pyrowire's");
    // `init` writes the same app Dockerfile.
    let dir = tempfile::tempdir().unwrap();
    let status = exe().arg("init").arg(dir.path()).output().unwrap();
    assert!(status.status.success());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
        app
    );
}

#[test]
fn compose_starts_an_append_only_redis_a_web_and_a_worker() {
    let compose = repo_file("compose.yaml");
    assert!(
        compose.contains(r#"["redis-server", "--appendonly", "yes"]"#),
        "{compose}"
    );
    assert!(compose.contains(r#"["pyrowire", "serve", "--role", "web"]"#));
    assert!(compose.contains(r#"["pyrowire", "serve", "--role", "worker"]"#));
    assert!(compose.contains("REDIS_URL: redis://redis:6379/0"));
    assert!(compose.contains("\"8080:8080\""));
    for line in compose
        .lines()
        .filter(|l| l.trim_start().starts_with("image:"))
    {
        assert!(!line.contains("latest"), "{line}");
        assert!(line.contains(':'), "{line}");
    }
    // Credentials come from the environment, never written here.
    assert!(!compose.contains(AUTH_TOKEN));
    assert!(compose.contains("${TWILIO_AUTH_TOKEN:?"));
}

#[test]
fn the_license_is_the_mit_license_cargo_names() {
    let license = repo_file("LICENSE");
    assert!(license.starts_with("MIT License"));
    assert!(license.contains("THE SOFTWARE IS PROVIDED \"AS IS\""));
    let manifest = repo_file("Cargo.toml");
    assert!(manifest.lines().any(|l| l == r#"license = "MIT""#));
    assert!(!manifest
        .lines()
        .any(|l| l.starts_with("repository") || l.starts_with("homepage")));
}
