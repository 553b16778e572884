//! Smoke tests of the real `pyrowire` executable: serve one message end to end, `check`, `init`,
//! `session`.

#[allow(dead_code)] // the binary tests use only part of the harness
mod common;

use std::process::Command;
use std::time::Duration;

use common::{FakeTwilio, Process, ACCOUNT_SID, AUTH_TOKEN};

fn exe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pyrowire"))
}

fn settings_file(dir: &std::path::Path, api_base: &str) -> std::path::PathBuf {
    let redis = common::redis_url();
    let prefix = format!("bin{:08x}", rand::random::<u32>());
    let text = format!(
        r#"
[profiles.test]
port = 0
log_level = "info"
redis = "{redis}"
redis_prefix = "{prefix}"
validate_signatures = false

[topics.sample]
handler = "echo"
accept_response = "ok"
[topics.sample.validators]
length = "too long"
[topics.sample.twilio]
account_sid = "${{TEST_SID}}"
auth_token = "${{TEST_TOKEN}}"
from_number = "+15005550006"
api_base = "{api_base}"
"#
    );
    let path = dir.join("settings.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Replaces the settings file's `redis = ...` line with `lines`.
fn replace_redis_line(path: &std::path::Path, lines: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let redis_line = text.lines().find(|l| l.starts_with("redis =")).unwrap();
    let text = text.replace(redis_line, lines);
    std::fs::write(path, text).unwrap();
}

/// `pyrowire serve` of the test profile in `path`, started.
fn serve_test_profile(path: &std::path::Path) -> Process {
    let mut command = exe();
    command
        .args(["serve", "--profile", "test", "--settings"])
        .arg(path)
        .env("TEST_SID", ACCOUNT_SID)
        .env("TEST_TOKEN", AUTH_TOKEN)
        .env_remove("PORT");
    Process::start(command)
}

/// `pyrowire check` of the test profile in `path`.
fn check_test_profile(path: &std::path::Path) -> std::process::Output {
    exe()
        .args(["check", "--profile", "test", "--settings"])
        .arg(path)
        .env("TEST_SID", ACCOUNT_SID)
        .env("TEST_TOKEN", AUTH_TOKEN)
        .output()
        .unwrap()
}

/// The `redis_prefix` the settings file in `path` gives its test profile.
fn prefix_in(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("redis_prefix ="))
        .unwrap();
    line.split('"').nth(1).unwrap().to_string()
}

/// `pyrowire session ARGS...` of the test profile in `path`.
fn session_command(path: &std::path::Path, args: &[&str]) -> std::process::Output {
    exe()
        .arg("session")
        .args(args)
        .args(["--profile", "test", "--settings"])
        .arg(path)
        .env("TEST_SID", ACCOUNT_SID)
        .env("TEST_TOKEN", AUTH_TOKEN)
        .output()
        .unwrap()
}

#[actix_web::test]
async fn serves_a_message_end_to_end_and_logs_no_secret() {
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_file(dir.path(), &twilio.base);
    let mut server = serve_test_profile(&settings);
    let address = server.listening_address();

    let body = "From=%2B15551234567&To=%2B15005550006&MessageSid=SM0000000000000000000000000000b001&Body=ping";
    let mut response = awc::Client::default()
        .post(format!("{address}/queue/sample"))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .send_body(body)
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let answer = response.body().await.unwrap();
    assert!(String::from_utf8_lossy(&answer).contains("<Message>ok</Message>"));

    let received = twilio.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received[0].field("Body"), Some("ping"));
    assert_eq!(received[0].field("To"), Some("+15551234567"));

    let _ = server.child.kill();
    let _ = server.child.wait();
    let logs = server.drain_lines();
    for line in &logs {
        assert!(!line.contains(AUTH_TOKEN), "secret in log: {line}");
        assert!(
            !line.contains("+15551234567"),
            "unmasked number in log: {line}"
        );
    }
}

#[test]
fn check_accepts_the_repository_settings_and_names_bad_keys() {
    let ok = exe()
        .args(["check", "--settings", "settings.toml", "--profile", "dev"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("topic `sample`"));
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("dashboard off, outbound API off"),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[profiles.dev]\nredis = \"redis://127.0.0.1/0\"\n[topics.t]\nhandler = \"echo\"\nmax_message_length = 1601\n[topics.t.twilio]\naccount_sid = \"AC0123456789abcdef0123456789abcdef\"\nauth_token = \"x\"\nfrom_number = \"+15005550006\"\n",
    )
    .unwrap();
    let failed = exe()
        .args(["check", "--profile", "dev", "--settings"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("bad.toml"), "{stderr}");
    assert!(
        stderr.contains("`topics.t.max_message_length` must be between 1 and 1600, got 1601"),
        "{stderr}"
    );
}

#[test]
fn init_writes_starter_files_once() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("app");
    let first = exe().arg("init").arg(&target).output().unwrap();
    assert!(first.status.success());
    assert!(target.join("settings.toml").exists() && target.join("Dockerfile").exists());
    let check = exe()
        .args(["check", "--profile", "dev", "--settings"])
        .arg(target.join("settings.toml"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let second = exe().arg("init").arg(&target).output().unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already exists"));
}

#[test]
fn the_shipped_prod_profile_refuses_placeholder_credentials() {
    let run = |command: &str| {
        exe()
            .args([command, "--settings", "settings.toml", "--profile", "prod"])
            .env("REDIS_URL", common::redis_url())
            .env("PORT", "0")
            .env_remove("TWILIO_AUTH_TOKEN")
            .env_remove("TWILIO_ACCOUNT_SID")
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    for command in ["check", "serve"] {
        let output = run(command);
        assert_eq!(output.status.code(), Some(2), "{command} must refuse");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("`topics.sample.twilio.auth_token` is a placeholder"),
            "{command}: {stderr}"
        );
        assert!(!stderr.contains("Listening on"), "{command}: {stderr}");
    }
}

#[test]
fn check_redacts_a_password_given_in_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let path = settings_file(dir.path(), "https://api.twilio.com");
    replace_redis_line(
        &path,
        "redis = \"unix:///run/redis/redis.sock?db=3&pass=hunter2secret\"",
    );
    let output = check_test_profile(&path);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("pass=[redacted]"), "{stdout}");
    assert!(!stdout.contains("hunter2secret"), "{stdout}");
}

#[actix_web::test]
async fn refused_and_unknown_requests_log_no_number_no_text_and_no_huge_line() {
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let path = settings_file(dir.path(), &twilio.base);
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("validate_signatures = false", "validate_signatures = true");
    std::fs::write(&path, text).unwrap();
    let server = serve_test_profile(&path);
    let address = server.listening_address();
    let client = awc::Client::default();

    let query = "From=%2B15557654321&To=%2B15005550006&MessageSid=SM000000000000000000000000000f0e01&Body=secretword";
    let forged_get = client
        .get(format!("{address}/queue/sample?{query}"))
        .insert_header(("X-Twilio-Signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="))
        .send()
        .await
        .unwrap();
    assert_eq!(forged_get.status().as_u16(), 403);
    let forged_post = client
        .post(format!("{address}/queue/sample?{query}"))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .insert_header(("X-Twilio-Signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="))
        .send_body(query)
        .await
        .unwrap();
    assert_eq!(forged_post.status().as_u16(), 403);
    let long_path = format!("{address}/queue/{}", "x".repeat(30_000));
    let unknown = client.post(long_path).send_body(query).await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);

    server.wait_for_line("bad X-Twilio-Signature", Duration::from_secs(10));
    server.wait_for_line("status=404", Duration::from_secs(10));
    let logs = server.all_lines();
    drop(server);
    for line in &logs {
        assert!(!line.contains("7654321"), "number in log: {line}");
        assert!(!line.contains("secretword"), "message text in log: {line}");
        assert!(line.len() < 400, "a {} character log line", line.len());
    }
}

#[actix_web::test]
async fn redis_tls_insecure_warns_at_start() {
    let tls = common::TlsRedis::start().await;
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let path = settings_file(dir.path(), &twilio.base);
    replace_redis_line(
        &path,
        &format!("redis = \"{}\"\nredis_tls_insecure = true", tls.url()),
    );
    let server = serve_test_profile(&path);
    let warning = server.wait_for_line("redis_tls_insecure is on", Duration::from_secs(20));
    assert!(warning.contains("WARN"), "{warning}");
    server.listening_address();
}

#[test]
fn check_names_the_sentinels_without_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let path = settings_file(dir.path(), "https://api.twilio.com");
    replace_redis_line(&path, "");
    let text = std::fs::read_to_string(&path).unwrap()
        + "\n[profiles.test.redis_sentinel]\nmaster = \"mymaster\"\n\
           nodes = [\"redis://:sentinel-pw@127.0.0.1:26379\"]\npassword = \"data-pw\"\n";
    std::fs::write(&path, text).unwrap();
    let output = check_test_profile(&path);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("redis sentinel master `mymaster` via redis://[redacted]@127.0.0.1:26379"),
        "{stdout}"
    );
    assert!(!stdout.contains("-pw"), "{stdout}");
}

#[test]
fn session_prints_a_sender_session_and_clear_removes_it_with_its_set_entry() {
    // Arrange: a session as the recorder leaves it, the key and its entry in the topic's set.
    let dir = tempfile::tempdir().unwrap();
    let path = settings_file(dir.path(), "https://api.twilio.com");
    let prefix = prefix_in(&path);
    let number = "+15557654321";
    let key = format!("{prefix}:{{sample}}:session:{number}");
    let live = format!("{prefix}:{{sample}}:sessions");
    let mut redis = redis::Client::open(common::redis_url())
        .unwrap()
        .get_connection()
        .unwrap();
    redis::cmd("SET")
        .arg(&key)
        .arg(r#"{"step":2,"name":"Ada"}"#)
        .arg("EX")
        .arg(3600)
        .query::<()>(&mut redis)
        .unwrap();
    let expires_at = pyrowire::domain::now_ms() + 3_600_000;
    redis::cmd("ZADD")
        .arg(&live)
        .arg(expires_at)
        .arg(number)
        .query::<()>(&mut redis)
        .unwrap();

    // Act
    let shown = session_command(&path, &["sample", number]);
    let cleared = session_command(&path, &["sample", number, "--clear"]);
    let key_left: bool = redis::cmd("EXISTS").arg(&key).query(&mut redis).unwrap();
    let entry_left: Option<f64> = redis::cmd("ZSCORE")
        .arg(&live)
        .arg(number)
        .query(&mut redis)
        .unwrap();
    let again = session_command(&path, &["sample", number, "--clear"]);
    let unknown = session_command(&path, &["nosuch", number]);
    let bad = session_command(&path, &["sample", "+1555\t1234"]);

    // Assert
    let stdout = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let (heading, json) = stdout.split_once('\n').unwrap();
    assert!(
        heading.starts_with(&format!("session of {number} in `sample`, expires in ")),
        "{heading}"
    );
    let json: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(json, serde_json::json!({"step": 2, "name": "Ada"}));
    let stdout = String::from_utf8_lossy(&cleared.stdout);
    assert!(cleared.status.success(), "{stdout}");
    assert!(stdout.contains("cleared the session"), "{stdout}");
    assert!(!key_left, "the session key is left");
    assert_eq!(entry_left, None, "the entry in `sessions` is left");
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{stdout}");
    assert!(
        stdout.contains("no session") && stdout.contains("nothing cleared"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(!unknown.status.success(), "an unknown topic must fail");
    assert!(stderr.contains("unknown topic `nosuch`"), "{stderr}");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success(), "a bad number must fail");
    assert!(stderr.contains("is not a phone number"), "{stderr}");
}
