//! The examples run end to end: the Rust "yo momma" app (custom validator and handler calling an
//! HTTP API), the Rust survey (a conversation kept in the session) and the Python webhook app
//! called by a `webhook` topic (a per-sender counter in the session). Replies are checked at the
//! Twilio stand-in. The Python app's secret check is also probed on its own.

#[allow(dead_code)] // the example tests use only part of the harness
mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{
    free_port, new_sid, poll_until, redis_url, FakeTwilio, Process, ACCOUNT_SID, AUTH_TOKEN,
};
use serde_json::Value;

/// The built example executable (cargo builds examples for `cargo test`).
fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    deps.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

/// Environment that points an example at the test Redis and the stand-in.
fn env(command: &mut Command, twilio: &FakeTwilio) {
    command
        .env("REDIS_URL", redis_url())
        .env("PORT", "0")
        .env(
            "PYROWIRE_PREFIX",
            format!("ex{:08x}", rand::random::<u32>()),
        )
        .env("PYROWIRE_DRY_RUN", "false")
        .env("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
        .env("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        .env("TWILIO_API_BASE", &twilio.base)
        .env_remove("PYROWIRE_PROFILE")
        .env_remove("ENV");
}

/// How long a test waits for one reply.
const REPLY_WAIT: Duration = Duration::from_secs(15);

async fn text(address: &str, topic: &str, body: &str) -> String {
    text_from(address, topic, "+15551234567", body).await
}

/// Texts `body` from `from`; answers the TwiML.
async fn text_from(address: &str, topic: &str, from: &str, body: &str) -> String {
    let form = [
        ("From", from),
        ("To", "+15005550006"),
        ("FromCity", "PORTLAND"),
        ("MessageSid", &new_sid()),
        ("Body", body),
    ];
    let mut response = awc::Client::default()
        .post(format!("{address}/queue/{topic}"))
        .send_form(&form)
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    String::from_utf8(response.body().await.unwrap().to_vec()).unwrap()
}

/// The bodies of the messages the stand-in created for `to`, oldest first.
fn replies_to(twilio: &FakeTwilio, to: &str) -> Vec<String> {
    twilio
        .created()
        .iter()
        .filter(|m| m["to"] == to)
        .map(|m| m["body"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Texts `body` from `from` and waits for the app's reply to that number (its next message
/// there), so that the next text is sent only once this one was answered.
async fn converse(
    twilio: &FakeTwilio,
    address: &str,
    topic: &str,
    from: &str,
    body: &str,
) -> String {
    let before = replies_to(twilio, from).len();
    text_from(address, topic, from, body).await;
    poll_until(REPLY_WAIT, || replies_to(twilio, from).get(before).cloned())
        .await
        .unwrap_or_else(|| panic!("no reply to {body:?} from {from} within {REPLY_WAIT:?}"))
}

#[actix_web::test]
async fn the_yo_momma_example_insists_on_yo_momma_and_answers_with_a_joke() {
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let mut command = Command::new(example("yo_momma"));
    env(&mut command, &twilio);
    command
        .env_remove("JOKE_API")
        .env_remove("PYROWIRE_SETTINGS");
    let app = Process::start(command);
    let address = app.listening_address();

    let refused = text(&address, "yo_momma", "tell me a joke").await;
    assert!(
        refused.contains("You gotta say &apos;yo momma&apos;, yo."),
        "{refused}"
    );
    let accepted = text(&address, "yo_momma", "Tell me a YO MOMMA joke").await;
    assert!(accepted.contains("Hold on."), "{accepted}");

    let created = twilio.wait_for_created(1, Duration::from_secs(15)).await;
    let joke = created[0]["body"].as_str().unwrap();
    assert!(joke.starts_with("Yo momma's so "), "{joke}");
    assert_eq!(created[0]["to"], "+15551234567");
    assert_eq!(twilio.created().len(), 1, "the refused text got no reply");
}

#[actix_web::test]
async fn the_survey_example_keeps_each_senders_answers_and_ends_with_a_summary() {
    // Arrange
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let mut command = Command::new(example("survey"));
    env(&mut command, &twilio);
    command.env_remove("PYROWIRE_SETTINGS");
    let app = Process::start(command);
    let address = app.listening_address();
    let (twilio, address) = (&twilio, address.as_str());
    let ask =
        |from: &'static str, body: &'static str| converse(twilio, address, "survey", from, body);
    let (ada, bob) = ("+15550000001", "+15550000002");
    let name = "What's your name?";
    let city = "Which city do you live in?";
    let rating = "From 1 to 5, how much do you like SMS surveys?";

    // Act and assert: two senders, interleaved, each at its own step
    assert_eq!(ask(ada, "hi").await, name);
    assert_eq!(ask(bob, "hello").await, name);
    assert_eq!(ask(ada, "Ada").await, city);
    assert_eq!(ask(bob, "Bob").await, city);
    assert_eq!(ask(ada, "Lisbon").await, rating);
    let again = ask(ada, "9").await;
    assert!(again.ends_with(rating) && again != rating, "{again}");
    assert_eq!(ask(bob, "Paris").await, rating);
    let summary = ask(ada, "4").await;
    for part in ["Ada", "Lisbon", "4/5"] {
        assert!(summary.contains(part), "{part} in {summary}");
    }
    let summary = ask(bob, "2").await;
    for part in ["Bob", "Paris", "2/5"] {
        assert!(summary.contains(part), "{part} in {summary}");
    }

    // The summary ended the session: the next text starts the survey again
    assert_eq!(ask(ada, "hi again").await, name);
    assert_eq!(twilio.created().len(), 10, "one reply per text");
}

#[actix_web::test]
async fn the_python_webhook_app_is_a_topics_handler_counting_each_senders_messages() {
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let port = free_port();
    let mut python = Command::new("python3");
    python
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/webhook_app.py"
        ))
        .args(["--port", &port.to_string(), "--secret", "s3cret"]);
    let webhook_app = Process::start(python);
    webhook_app.wait_for_line("listening on", Duration::from_secs(10));

    let mut command = Command::new(env!("CARGO_BIN_EXE_pyrowire"));
    command.args([
        "serve",
        "--settings",
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/webhook.toml"),
    ]);
    env(&mut command, &twilio);
    command
        .env("WEBHOOK_URL", format!("http://127.0.0.1:{port}/sms"))
        .env("WEBHOOK_SECRET", "s3cret");
    let app = Process::start(command);
    let address = app.listening_address();

    let (twilio, address) = (&twilio, address.as_str());
    let ask = |from: &'static str, body: &'static str| converse(twilio, address, "app", from, body);
    let (ada, bob) = ("+15550000001", "+15550000002");

    assert_eq!(
        ask(ada, "hi there").await,
        "Hello from PORTLAND! You said: hi there (message 1 from you)"
    );
    assert!(ask(ada, "again").await.ends_with("(message 2 from you)"));
    assert!(ask(bob, "hello").await.ends_with("(message 1 from you)"));
    assert!(ask(ada, "third").await.ends_with("(message 3 from you)"));
    assert_eq!(ask(ada, " Reset ").await, "Your message counter was reset.");
    assert!(ask(ada, "back").await.ends_with("(message 1 from you)"));
    assert!(ask(bob, "more").await.ends_with("(message 2 from you)"));
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
message = {"properties": {}, "message": "hi", "from_city": "PORTLAND", "media": {"media": []},
           "session": {}}

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
