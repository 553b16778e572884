//! `pyrowire send`, the real executable against the test Redis: a CSV with one bad row queues
//! nothing; good rows reach the Twilio stand-in (through a running `pyrowire serve`) once each
//! with their bodies rendered, and a second run of the same file queues nothing; one `--to` text
//! is queued, or scheduled with `--at`.

#[allow(dead_code)] // this binary uses only part of the harness
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::process::run_bounded;
use common::{poll_until, FakeTwilio, Process, ACCOUNT_SID, AUTH_TOKEN};

/// Longest a `pyrowire send` run or a wait for the stand-in may take.
const WAIT: Duration = Duration::from_secs(20);

/// A settings file with one topic, `sample`, under a fresh key prefix.
struct Setup {
    dir: tempfile::TempDir,
    settings: PathBuf,
    prefix: String,
}

impl Setup {
    fn new(api_base: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let redis = common::redis_url();
        let prefix = format!("send{:08x}", rand::random::<u32>());
        let text = format!(
            r#"
[profiles.test]
port = 0
redis = "{redis}"
redis_prefix = "{prefix}"
validate_signatures = false

[topics.sample]
handler = "echo"
[topics.sample.twilio]
account_sid = "${{TEST_SID}}"
auth_token = "${{TEST_TOKEN}}"
from_number = "+15005550006"
api_base = "{api_base}"
"#
        );
        let settings = dir.path().join("settings.toml");
        std::fs::write(&settings, text).unwrap();
        Setup {
            dir,
            settings,
            prefix,
        }
    }

    /// Writes `text` as a CSV file in the setup's directory.
    fn csv(&self, text: &str) -> PathBuf {
        let path = self.dir.path().join("rows.csv");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn command(&self, subcommand: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pyrowire"));
        command
            .arg(subcommand)
            .args(["--profile", "test", "--settings"])
            .arg(&self.settings)
            .env("TEST_SID", ACCOUNT_SID)
            .env("TEST_TOKEN", AUTH_TOKEN)
            .env_remove("RUST_LOG")
            .env_remove("PORT");
        command
    }

    /// `pyrowire send sample ARGS...`, run to completion.
    async fn send(&self, args: &[&str]) -> Output {
        let mut command = self.command("send");
        command.arg("sample").args(args);
        run_bounded(command, WAIT).await
    }

    /// `pyrowire send sample --csv FILE --body TEMPLATE`.
    async fn send_csv(&self, file: &Path, template: &str) -> Output {
        let file = file.to_str().unwrap();
        self.send(&["--csv", file, "--body", template]).await
    }

    /// `pyrowire serve`, started and listening.
    async fn serve(&self) -> Process {
        let mut server = Process::start(self.command("serve"));
        server.await_line("Listening on http://", WAIT).await;
        server
    }

    fn redis(&self) -> redis::Connection {
        redis::Client::open(common::redis_url())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// Every key of the topic.
    fn keys(&self) -> Vec<String> {
        redis::cmd("KEYS")
            .arg(format!("{}:{{sample}}:*", self.prefix))
            .query(&mut self.redis())
            .unwrap()
    }

    /// Entries in the topic's queue stream (0 when there is none).
    fn queue_len(&self) -> u64 {
        self.stream_len("queue")
    }

    /// Number of entries on the topic's bulk queue (a CSV broadcast's lane by default).
    fn bulk_len(&self) -> u64 {
        self.stream_len("bulk")
    }

    fn stream_len(&self, name: &str) -> u64 {
        redis::cmd("XLEN")
            .arg(format!("{}:{{sample}}:{name}", self.prefix))
            .query(&mut self.redis())
            .unwrap()
    }

    /// The jobs in the queue stream, as JSON.
    fn queued_jobs(&self) -> Vec<serde_json::Value> {
        let entries: Vec<(String, std::collections::HashMap<String, String>)> =
            redis::cmd("XRANGE")
                .arg(format!("{}:{{sample}}:queue", self.prefix))
                .arg("-")
                .arg("+")
                .query(&mut self.redis())
                .unwrap();
        entries
            .iter()
            .filter_map(|(_, fields)| serde_json::from_str(fields.get("job")?).ok())
            .collect()
    }

    /// A text's field from its `out:` hash.
    fn text_field(&self, id: &str, field: &str) -> Option<String> {
        redis::cmd("HGET")
            .arg(format!("{}:{{sample}}:out:{id}", self.prefix))
            .arg(field)
            .query(&mut self.redis())
            .unwrap()
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Three good rows: recipients and names, with a quoted comma.
const GOOD_ROWS: &str = "to,name\n+15557654321,Ann\n+15557654322,\"Bo, Jr\"\n+15557654323,Cy\n";
const TEMPLATE: &str = "Hi {name}, {{see you}}";

fn rendered() -> Vec<(String, String)> {
    [
        ("+15557654321", "Hi Ann, {see you}"),
        ("+15557654322", "Hi Bo, Jr, {see you}"),
        ("+15557654323", "Hi Cy, {see you}"),
    ]
    .map(|(to, body)| (to.to_string(), body.to_string()))
    .to_vec()
}

/// What the stand-in created, as (to, body), sorted.
fn sent(twilio: &FakeTwilio) -> Vec<(String, String)> {
    let mut sent: Vec<(String, String)> = twilio
        .created()
        .iter()
        .map(|m| {
            let field = |name: &str| m[name].as_str().unwrap_or_default().to_string();
            (field("to"), field("body"))
        })
        .collect();
    sent.sort();
    sent
}

#[actix_web::test]
async fn a_csv_with_one_bad_row_queues_nothing_and_names_the_line() {
    // Arrange
    let setup = Setup::new("http://127.0.0.1:9");
    let file =
        setup.csv("to,name\n+15557654321,Ann\n+15557654322,Bo\n555-1234,Cy\n+15557654324,Di\n");

    // Act
    let output = setup.send_csv(&file, TEMPLATE).await;

    // Assert
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{errors}");
    assert!(
        errors.contains("error: line 4: `to` must be an E.164 number"),
        "{errors}"
    );
    assert!(errors.contains("got `555-1234`"), "{errors}");
    assert!(
        errors.contains("nothing was queued: 1 of 4 rows of"),
        "{errors}"
    );
    assert!(
        !errors.contains("line 2") && !errors.contains("line 3"),
        "{errors}"
    );
    assert_eq!(stdout(&output), "");
    assert_eq!(setup.queue_len(), 0);
    assert_eq!(setup.keys(), Vec::<String>::new());
}

#[actix_web::test]
async fn csv_rows_reach_twilio_once_each_with_their_bodies_rendered() {
    // Arrange
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let setup = Setup::new(&twilio.base);
    let file = setup.csv(GOOD_ROWS);
    let _server = setup.serve().await;

    // Act
    let output = setup.send_csv(&file, TEMPLATE).await;

    // Assert
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("queued 3, scheduled 0, opted out 0, already queued before 0"),
        "{}",
        stdout(&output)
    );
    twilio.wait_for_created(3, WAIT).await;
    wait_until_drained(&setup).await;
    assert_eq!(sent(&twilio), rendered());
}

#[actix_web::test]
async fn running_the_same_csv_again_queues_nothing_more() {
    // Arrange
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let setup = Setup::new(&twilio.base);
    let file = setup.csv(GOOD_ROWS);
    let _server = setup.serve().await;

    // Act
    let first = setup.send_csv(&file, TEMPLATE).await;
    twilio.wait_for_created(3, WAIT).await;
    let second = setup.send_csv(&file, TEMPLATE).await;

    // Assert: the second run queued nothing; once the queue is drained (every job recorded),
    // each text was sent once.
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stdout(&second).starts_with("queued 0, scheduled 0, opted out 0, already queued before 3"),
        "{}",
        stdout(&second)
    );
    wait_until_drained(&setup).await;
    assert_eq!(sent(&twilio), rendered());
}

#[actix_web::test]
async fn a_csv_is_bulk_unless_told_interactive_and_one_text_is_interactive_unless_told_bulk() {
    // Arrange
    let setup = Setup::new("http://127.0.0.1:9");
    let file = setup.csv(GOOD_ROWS);
    let file = file.to_str().unwrap();

    // Act
    let csv = setup
        .send(&["--csv", file, "--body", TEMPLATE, "--interactive"])
        .await;
    let one = setup
        .send(&["--to", "+15557654321", "--body", "x", "--bulk"])
        .await;
    let both = setup
        .send(&[
            "--to",
            "+15557654321",
            "--body",
            "x",
            "--bulk",
            "--interactive",
        ])
        .await;

    // Assert
    assert!(csv.status.success(), "{}", stderr(&csv));
    let (id, _) = id_and_status(&one);
    assert_eq!((setup.queue_len(), setup.bulk_len()), (3, 1));
    assert_eq!(setup.text_field(&id, "lane").as_deref(), Some("bulk"));
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
}

#[actix_web::test]
async fn the_same_csv_with_another_body_is_another_broadcast() {
    // Arrange
    let setup = Setup::new("http://127.0.0.1:9");
    let file = setup.csv(GOOD_ROWS);

    // Act
    let first = setup.send_csv(&file, TEMPLATE).await;
    let again = setup.send_csv(&file, TEMPLATE).await;
    let other = setup.send_csv(&file, "Reminder for {name}").await;

    // Assert
    assert!(
        stdout(&first).starts_with("queued 3,"),
        "{}",
        stdout(&first)
    );
    assert!(
        stdout(&again).contains("already queued before 3"),
        "{}",
        stdout(&again)
    );
    assert!(
        stdout(&other).starts_with("queued 3,"),
        "{}",
        stdout(&other)
    );
    assert_eq!(setup.bulk_len(), 6, "a CSV broadcast is bulk");
    assert_eq!(setup.queue_len(), 0);
}

#[actix_web::test]
async fn two_hundred_thousand_bad_rows_name_the_first_hundred_and_a_huge_cell_is_cut() {
    // Arrange: every row bad, one of them with a 1 MB `to`.
    let setup = Setup::new("http://127.0.0.1:9");
    let mut text = format!("to,name\n{},Big\n", "9".repeat(1_000_000));
    for n in 0..200_000 {
        text.push_str(&format!("bad{n},x\n"));
    }
    let file = setup.csv(&text);

    // Act
    let output = setup.send_csv(&file, TEMPLATE).await;

    // Assert
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(errors.len() < 40_000, "stderr holds {} bytes", errors.len());
    let named = errors
        .lines()
        .filter(|l| l.contains(": `to` must be"))
        .count();
    assert_eq!(named, 100, "{errors}");
    assert!(
        errors.contains("nothing was queued: 200001 of 200001 rows of"),
        "{errors}"
    );
    assert!(errors.contains("(the first 100 are named)"), "{errors}");
    assert!(
        errors.contains(&format!("got `{}…`", "9".repeat(80))),
        "{errors}"
    );
    assert_eq!(setup.keys(), Vec::<String>::new());
}

/// Waits until the topic's queue holds no job: each one was sent and recorded.
async fn wait_until_drained(setup: &Setup) {
    let drained = poll_until(WAIT, || {
        (setup.queue_len() == 0 && setup.bulk_len() == 0).then_some(())
    })
    .await;
    assert!(
        drained.is_some(),
        "the queue still holds jobs after {WAIT:?}"
    );
}

#[actix_web::test]
async fn one_text_is_queued_or_scheduled_and_a_bad_one_names_its_flag() {
    // Arrange: no server, so what is queued stays in Redis to be looked at.
    let setup = Setup::new("http://127.0.0.1:9");
    let in_an_hour = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let at = in_an_hour
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let now_args = ["--to", "+15557654321", "--body", "now"];

    // Act
    let now = setup.send(&now_args).await;
    let later = setup
        .send(&["--to", "+15557654322", "--body", "later", "--at", &at])
        .await;
    let keyed = [
        "--to",
        "+15557654323",
        "--body",
        "once",
        "--idempotency-key",
        "k1",
    ];
    let first_keyed = setup.send(&keyed).await;
    let second_keyed = setup.send(&keyed).await;
    let mut reworded = keyed;
    reworded[3] = "twice?";
    let reused_key = setup.send(&reworded).await;
    let bad = setup
        .send(&["--to", "5557654321", "--body", "x", "--at", "tomorrow"])
        .await;
    let expiring = setup
        .send(&["--to", "+15557654324", "--body", "soon", "--validity", "60"])
        .await;
    let never_valid = setup
        .send(&["--to", "+15557654325", "--body", "x", "--validity", "0"])
        .await;

    // Assert
    let (now_id, now_status) = id_and_status(&now);
    assert_eq!(now_status, "queued");
    assert_eq!(
        setup.text_field(&now_id, "to").as_deref(),
        Some("+15557654321")
    );
    let (later_id, later_status) = id_and_status(&later);
    assert_eq!(later_status, "scheduled");
    assert_eq!(
        setup.text_field(&later_id, "status").as_deref(),
        Some("scheduled")
    );
    let (keyed_id, _) = id_and_status(&first_keyed);
    let again = stdout(&second_keyed);
    assert!(
        again.starts_with(&format!("{keyed_id} queued (queued before")),
        "{again}"
    );
    let (expiring_id, _) = id_and_status(&expiring);
    assert_eq!(
        setup.queue_len(),
        3,
        "the first, the keyed and the expiring text"
    );
    assert!(
        setup
            .queued_jobs()
            .iter()
            .any(|job| job["message"]["sid"] == expiring_id.as_str()
                && job["expires_at"].as_u64().is_some()
                && job["v"] == 4),
        "the expiring text's job carries its expiry"
    );
    let refused_validity = stderr(&never_valid);
    assert_eq!(never_valid.status.code(), Some(2), "{refused_validity}");
    assert!(
        refused_validity.contains("`--validity` must be a whole number of seconds"),
        "{refused_validity}"
    );
    let refused = stderr(&reused_key);
    assert_eq!(reused_key.status.code(), Some(2), "{refused}");
    assert!(
        refused.contains("repeats an idempotency key used with another message"),
        "{refused}"
    );
    let errors = stderr(&bad);
    assert_eq!(bad.status.code(), Some(2), "{errors}");
    assert!(
        errors.contains("error: `--to` must be an E.164"),
        "{errors}"
    );
    assert!(errors.contains("got `5557654321`"), "{errors}");
    assert!(
        errors.contains("error: `--at` must be an RFC 3339 time"),
        "{errors}"
    );
}

/// The id and status `send --to` printed.
fn id_and_status(output: &Output) -> (String, String) {
    assert!(output.status.success(), "{}", stderr(output));
    let out = stdout(output);
    let (id, status) = out.trim_end().split_once(' ').unwrap();
    assert!(id.starts_with("OB"), "{out}");
    (id.to_string(), status.to_string())
}

#[actix_web::test]
async fn a_csv_of_several_batches_is_queued_whole_and_a_second_run_finds_every_row() {
    // Arrange: no server, so the queue keeps what was queued; 250 rows are five batches.
    let setup = Setup::new("http://127.0.0.1:9");
    let mut text = String::from("to,name\n");
    for n in 0..250 {
        text.push_str(&format!("+1555{n:07},Guest {n}\n"));
    }
    let file = setup.csv(&text);

    // Act
    let first = setup.send_csv(&file, TEMPLATE).await;
    let second = setup.send_csv(&file, TEMPLATE).await;

    // Assert
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).starts_with("queued 250, scheduled 0, opted out 0, already queued before 0"),
        "{}",
        stdout(&first)
    );
    assert!(
        stdout(&second)
            .starts_with("queued 0, scheduled 0, opted out 0, already queued before 250"),
        "{}",
        stdout(&second)
    );
    assert_eq!(setup.bulk_len(), 250);
    let broadcast = |output: &Output| {
        let text = stdout(output);
        text.lines()
            .find_map(|l| l.strip_prefix("broadcast ").map(str::to_string))
            .unwrap_or_else(|| panic!("no broadcast id in {text}"))
    };
    assert!(broadcast(&first).starts_with("BC"));
    assert_eq!(
        broadcast(&first),
        broadcast(&second),
        "a re-run continues it"
    );
    let mut redis = setup.redis();
    let key = format!(
        "{}:{{sample}}:broadcast:{}",
        setup.prefix,
        broadcast(&first)
    );
    let total: u64 = redis::cmd("HGET")
        .arg(&key)
        .arg("total")
        .query(&mut redis)
        .unwrap();
    assert_eq!(total, 250, "each row once");
}
