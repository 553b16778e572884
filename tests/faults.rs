//! Process-level fault tests of the real `pyrowire` executable: SIGKILL mid-stream, Redis stopped
//! mid-stream, a worker process lost, SIGTERM while jobs are in flight. Each test starts the built
//! binary with a temporary settings file, talks to it over HTTP like Twilio does, and checks what
//! reached Redis and the Twilio stand-in: every message answered 200 gets exactly one reply.
//!
//! Tests that only kill pyrowire use the Redis of `scripts/test` (`REDIS_URL`) under a random key
//! prefix; the test that stops Redis runs its own `redis-server` on a free loopback port.

#[allow(dead_code)] // these tests use only part of the helpers
mod common;
#[path = "api/fake_twilio.rs"]
#[allow(dead_code)] // these tests use only part of the stand-in
mod fake_twilio;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use actix_web::rt::task::JoinHandle;
use actix_web::rt::time::sleep;
use fake_twilio::FakeTwilio;
use serde_json::Value;

const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "0123456789abcdef0123456789abcdef";
const TWILIO_NUMBER: &str = "+15005550006";
const TOPIC: &str = "sample";
const CLAIM_IDLE_MS: u64 = 1000;
const SHUTDOWN_GRACE_MS: u64 = 5000;
/// How often every wait looks again.
const POLL: Duration = Duration::from_millis(25);
/// How long a process may take to log that it is ready.
const STARTUP: Duration = Duration::from_secs(20);
/// How long every accepted message may take to get its reply after the fault.
const SETTLE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn sigkill_mid_stream_then_restart_gives_every_accepted_message_exactly_one_reply() {
    // Arrange
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    twilio.set_delay(Duration::from_millis(20));
    let setup = Setup::new(&common::redis_url(), &twilio.base, 4);
    let mut server = Pyrowire::start(&setup.path, Role::All).await;

    // Act
    let mut sending = Sending::start(&server.address, numbered_messages("kill", 300), 4, None);
    twilio.wait_for_created(50, Duration::from_secs(15)).await;
    let queued_at_kill = setup.store.queue_len().unwrap_or_default();
    server.sigkill();
    sending.finish(Duration::from_secs(30)).await;
    let _restarted = Pyrowire::start(&setup.path, Role::All).await;
    let delivery = wait_until_settled(&twilio, &setup.store, &sending.log, SETTLE).await;

    // Assert
    println!(
        "sigkill: queued at kill={queued_at_kill} {}",
        delivery.summary()
    );
    assert!(
        queued_at_kill > 0,
        "the kill came after the queue drained, so it proves nothing; {}",
        delivery.summary()
    );
    delivery.assert_exactly_one_reply_each();
}

#[actix_web::test]
async fn redis_stopped_mid_stream_gives_503_and_nothing_accepted_is_lost() {
    // Arrange
    let mut redis = OwnRedis::start().await;
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    twilio.set_delay(Duration::from_millis(20));
    let setup = Setup::new(&redis.url(), &twilio.base, 4);
    let server = Pyrowire::start(&setup.path, Role::All).await;
    let pace = Some(Duration::from_millis(20));
    let mut sending = Sending::start(&server.address, numbered_messages("down", 800), 1, pace);
    assert!(
        wait_for_accepted(&sending.log, |_| true, 50, Duration::from_secs(10)).await,
        "fewer than 50 messages accepted before Redis was stopped: {:?}",
        answer_counts(&sending.log.borrow())
    );

    // Act: stop Redis, keep sending and asking /health, start Redis again.
    redis.stop().await;
    let down_since = Instant::now();
    let health_while_down = health_while_down(&server.address, &sending.log, down_since).await;
    let down_until = Instant::now();
    redis.start_again().await;
    let back_at = Instant::now();
    let recovered = wait_for_accepted(&sending.log, |s| s.sent_at >= back_at, 1, secs(10)).await;
    let recovery = back_at.elapsed();
    wait_for_accepted(&sending.log, |s| s.sent_at >= back_at, 20, secs(5)).await;
    sending.stop();
    sending.finish(Duration::from_secs(10)).await;
    let delivery = wait_until_settled(&twilio, &setup.store, &sending.log, SETTLE).await;

    // Assert
    let log = sending.log.borrow();
    let down = log
        .iter()
        .filter(|s| s.sent_at >= down_since && s.answered_at < down_until);
    let while_down: Vec<Answer> = down.clone().map(|s| s.answer.clone()).collect();
    let slowest = down.map(|s| s.answered_at - s.sent_at).max();
    println!(
        "redis down for {:?}: answers while down={:?} (slowest {slowest:?}); \
         health while down (status, time)={health_while_down:?}; \
         recovered={recovered} {recovery:?} after Redis was back; {}",
        down_until - down_since,
        count_answers(&while_down),
        delivery.summary()
    );
    assert!(
        !while_down.is_empty(),
        "no webhook was answered while Redis was down (for {:?}); all answers: {:?}",
        down_until - down_since,
        answer_counts(&log)
    );
    assert!(
        while_down.iter().all(|a| *a == Answer::Status(503)),
        "while Redis was down webhooks must get 503, got {:?}",
        count_answers(&while_down)
    );
    assert!(
        !health_while_down.is_empty() && health_while_down.iter().all(|(s, _)| *s == 503),
        "/health while Redis was down: {health_while_down:?}"
    );
    assert!(
        recovered,
        "ingress did not accept a message within 10 s of Redis coming back; answers since: {:?}",
        answer_counts(
            &log.iter()
                .filter(|s| s.sent_at >= back_at)
                .cloned()
                .collect::<Vec<_>>()
        )
    );
    delivery.assert_exactly_one_reply_each();
}

#[actix_web::test]
async fn two_worker_processes_share_a_topic_and_losing_one_loses_nothing() {
    // Arrange
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    twilio.set_delay(Duration::from_millis(50));
    let setup = Setup::new(&common::redis_url(), &twilio.base, 4);
    let mut doomed = Pyrowire::start(&setup.path, Role::Worker).await;
    let survivor = Pyrowire::start(&setup.path, Role::Worker).await;
    let web = Pyrowire::start(&setup.path, Role::Web).await;
    let (doomed_name, survivor_name) = (doomed.consumer(), survivor.consumer());

    // Act
    let mut sending = Sending::start(&web.address, numbered_messages("share", 200), 4, None);
    twilio.wait_for_created(40, Duration::from_secs(15)).await;
    let workers_before_kill = wait_for_workers(&setup.store, &sending.log, 2, secs(10)).await;
    let queued_at_kill = setup.store.queue_len().unwrap_or_default();
    let pending_of_doomed = setup.store.pending_of(&doomed_name).unwrap_or_default();
    doomed.sigkill();
    sending.finish(Duration::from_secs(30)).await;
    let delivery = wait_until_settled(&twilio, &setup.store, &sending.log, SETTLE).await;
    let records = setup.store.records(&accepted_sids(&sending.log)).unwrap();

    // Assert
    let mut handled_by: HashMap<String, usize> = HashMap::new();
    for record in records.values() {
        *handled_by.entry(worker_of(record)).or_default() += 1;
    }
    println!(
        "two workers: before kill {workers_before_kill:?}; queued at kill={queued_at_kill} \
         pending of killed worker={pending_of_doomed}; records by worker {handled_by:?}; {}",
        delivery.summary()
    );
    assert_eq!(
        workers_before_kill.len(),
        2,
        "both worker processes should have taken work before one was killed: {workers_before_kill:?}"
    );
    let known: HashSet<&String> = [&doomed_name, &survivor_name].into();
    assert!(
        handled_by.keys().all(|w| known.contains(w)),
        "records name a worker other than {known:?}: {handled_by:?}"
    );
    assert!(
        queued_at_kill > 0,
        "the kill came after the queue drained, so it proves nothing; {}",
        delivery.summary()
    );
    delivery.assert_exactly_one_reply_each();
}

#[actix_web::test]
async fn sigterm_finishes_in_flight_jobs_and_leaves_the_rest_queued() {
    // Arrange
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    twilio.set_delay(Duration::from_millis(800));
    let setup = Setup::new(&common::redis_url(), &twilio.base, 2);
    let mut server = Pyrowire::start(&setup.path, Role::All).await;
    let mut sending = Sending::start(&server.address, numbered_messages("term", 10), 1, None);
    sending.finish(Duration::from_secs(10)).await;
    assert_eq!(
        accepted_sids(&sending.log).len(),
        10,
        "{:?}",
        answer_counts(&sending.log.borrow())
    );
    let first_create = poll_until(secs(10), || (!twilio.creates().is_empty()).then_some(())).await;
    assert!(first_create.is_some(), "no send reached the stand-in");

    // Act
    server.sigterm();
    let signalled = Instant::now();
    let in_flight = bodies(&twilio.creates());
    let probes = probe_while_running(&mut server, signalled, &twilio).await;
    let limit = Duration::from_millis(SHUTDOWN_GRACE_MS + 3000);
    let exit = server
        .wait_for_exit(limit.saturating_sub(signalled.elapsed()))
        .await;
    let exited_after = signalled.elapsed();
    let sent_at_exit = bodies(&twilio.creates());
    sending.log.borrow_mut().extend(probes.sent.iter().cloned());
    let accepted = accepted_sids(&sending.log);
    let queued_at_exit = setup.store.queue_len().unwrap();
    let records_at_exit = setup.store.records(&accepted).unwrap();
    twilio.set_delay(Duration::from_millis(20));
    let _restarted = Pyrowire::start(&setup.path, Role::All).await;
    let delivery = wait_until_settled(&twilio, &setup.store, &sending.log, SETTLE).await;

    // Assert
    let log = sending.log.borrow();
    let sid_of: HashMap<&str, &str> = log
        .iter()
        .map(|s| (s.message.body.as_str(), s.message.sid.as_str()))
        .collect();
    let unfinished: Vec<&String> = sent_at_exit
        .iter()
        .filter(|body| {
            let record = sid_of
                .get(body.as_str())
                .and_then(|sid| records_at_exit.get(*sid));
            record.is_none_or(|r| r["outcome"] != "completed")
        })
        .collect();
    println!(
        "sigterm: exit {exit:?} after {exited_after:?}; in flight at signal={} sent by exit={} \
         records at exit={} queued at exit={queued_at_exit}; probes {:?} ({} accepted late); {}",
        in_flight.len(),
        sent_at_exit.len(),
        records_at_exit.len(),
        answer_counts(&probes.sent),
        probes.accepted_late,
        delivery.summary()
    );
    let exit = exit.unwrap_or_else(|| panic!("still running {limit:?} after SIGTERM"));
    assert_eq!(exit.code(), Some(0), "exit status after SIGTERM");
    assert!(
        probes.accepted_late == 0,
        "webhooks sent {PROBE_SETTLE:?} or more after SIGTERM must be refused: {:?}",
        probes.sent
    );
    assert!(
        unfinished.is_empty(),
        "sends that reached Twilio before exit have no completed record: {unfinished:?}"
    );
    assert_eq!(
        sent_at_exit.len(),
        probes.sent_at_settle,
        "a job was started after SIGTERM (sends seen {PROBE_SETTLE:?} after the signal vs. at exit)"
    );
    assert!(queued_at_exit > 0, "nothing was left queued at exit");
    assert_eq!(
        records_at_exit.len() + queued_at_exit,
        accepted.len(),
        "every accepted message is either recorded or still queued at exit"
    );
    delivery.assert_exactly_one_reply_each();
}

#[test]
fn signs_webhooks_the_way_twilio_does() {
    // The known answer in TWILIO.md, so that a 403 in the tests above is never the helper's fault.
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    let form = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ];

    let signature = twilio_signature("12345", url, &form);

    assert_eq!(signature, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
}

// ---------------------------------------------------------------------------------------------
// Settings and Redis
// ---------------------------------------------------------------------------------------------

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A settings file with its own key prefix, and the Redis it points at.
struct Setup {
    _dir: tempfile::TempDir,
    path: PathBuf,
    store: Store,
}

impl Setup {
    fn new(redis_url: &str, api_base: &str, workers: usize) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let prefix = format!("fault{:08x}", rand::random::<u32>());
        let text = format!(
            r#"
[profiles.test]
port = 0
log_level = "info"
redis = "{redis_url}"
redis_prefix = "{prefix}"
claim_idle_ms = {CLAIM_IDLE_MS}
shutdown_grace_ms = {SHUTDOWN_GRACE_MS}
max_queue_depth = 100000

[topics.{TOPIC}]
handler = "echo"
accept_response = "ok"
error_response = "try later"
workers = {workers}
[topics.{TOPIC}.retry]
max_attempts = 5
backoff_initial_ms = 50
backoff_max_ms = 500
[topics.{TOPIC}.twilio]
account_sid = "{ACCOUNT_SID}"
auth_token = "{AUTH_TOKEN}"
from_number = "{TWILIO_NUMBER}"
api_base = "{api_base}"
"#
        );
        let path = dir.path().join("settings.toml");
        std::fs::write(&path, text).unwrap();
        let store = Store {
            client: redis::Client::open(redis_url).unwrap(),
            prefix,
        };
        Setup {
            _dir: dir,
            path,
            store,
        }
    }
}

/// Reads the topic's keys under one prefix (short blocking calls on a local Redis).
struct Store {
    client: redis::Client,
    prefix: String,
}

impl Store {
    fn connection(&self) -> redis::RedisResult<redis::Connection> {
        let connection = self.client.get_connection_with_timeout(secs(1))?;
        connection.set_read_timeout(Some(secs(2)))?;
        Ok(connection)
    }

    fn key(&self, rest: &str) -> String {
        format!("{}:{{{TOPIC}}}:{rest}", self.prefix)
    }

    /// Entries still in the queue stream (pending or not yet read).
    fn queue_len(&self) -> redis::RedisResult<usize> {
        redis::cmd("XLEN")
            .arg(self.key("queue"))
            .query(&mut self.connection()?)
    }

    /// Jobs a consumer read but has not acknowledged.
    fn pending_of(&self, consumer: &str) -> redis::RedisResult<usize> {
        let reply: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
            .arg(self.key("queue"))
            .arg("workers")
            .query(&mut self.connection()?)?;
        Ok(match reply {
            redis::streams::StreamPendingReply::Empty => 0,
            redis::streams::StreamPendingReply::Data(data) => data
                .consumers
                .iter()
                .filter(|c| c.name == consumer)
                .map(|c| c.pending)
                .sum(),
        })
    }

    /// The JSON records that exist for these MessageSids.
    fn records(&self, sids: &[String]) -> redis::RedisResult<HashMap<String, Value>> {
        if sids.is_empty() {
            return Ok(HashMap::new());
        }
        let keys: Vec<String> = sids
            .iter()
            .map(|sid| self.key(&format!("record:{sid}")))
            .collect();
        let values: Vec<Option<String>> = redis::cmd("MGET")
            .arg(keys)
            .query(&mut self.connection()?)?;
        Ok(sids
            .iter()
            .zip(values)
            .filter_map(|(sid, v)| Some((sid.clone(), serde_json::from_str(&v?).ok()?)))
            .collect())
    }
}

fn worker_of(record: &Value) -> String {
    record["worker"].as_str().unwrap_or("<none>").to_string()
}

/// A `redis-server` of this test's own, on a free loopback port with its own data directory,
/// fsyncing every write so that what it acknowledged survives a stop.
struct OwnRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl OwnRedis {
    async fn start() -> OwnRedis {
        let mut redis = OwnRedis {
            port: common::free_port(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        redis.start_again().await;
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts the server on the same port and data directory and waits until it answers PING.
    async fn start_again(&mut self) {
        assert!(self.child.is_none(), "redis-server is already running");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.dir.path())
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .args(["--logfile", "redis.log"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is on PATH");
        self.child = Some(child);
        let client = redis::Client::open(self.url()).unwrap();
        let answered = poll_until(secs(10), || {
            let mut connection = client.get_connection_with_timeout(POLL).ok()?;
            redis::cmd("PING").query::<String>(&mut connection).ok()
        })
        .await;
        assert!(answered.is_some(), "own redis-server did not answer");
    }

    /// SIGTERM, then waits for the process to exit.
    async fn stop(&mut self) {
        let mut child = self.child.take().expect("redis-server is running");
        signal(&child, "TERM");
        let exited = poll_until(secs(10), || child.try_wait().ok().flatten()).await;
        if exited.is_none() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("redis-server did not stop on SIGTERM");
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {} failed", child.id());
}

// ---------------------------------------------------------------------------------------------
// The pyrowire process
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Role {
    All,
    Web,
    Worker,
}

impl Role {
    fn arg(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Web => "web",
            Role::Worker => "worker",
        }
    }

    fn ready_line(self) -> &'static str {
        match self {
            Role::Worker => "Worker pool started.",
            _ => "Listening on http://",
        }
    }
}

/// A running `pyrowire serve`; killed when dropped.
struct Pyrowire {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
    /// `http://127.0.0.1:PORT` for web roles, empty for workers.
    address: String,
    /// The line that said it was ready.
    ready: String,
}

impl Drop for Pyrowire {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Pyrowire {
    async fn start(settings: &Path, role: Role) -> Pyrowire {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pyrowire"))
            .args([
                "serve",
                "--profile",
                "test",
                "--role",
                role.arg(),
                "--settings",
            ])
            .arg(settings)
            .env_remove("RUST_LOG")
            .env_remove("PORT")
            .env_remove("TOPIC")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut process = Pyrowire {
            child,
            lines,
            log: Vec::new(),
            address: String::new(),
            ready: String::new(),
        };
        process.ready = process.wait_for_line(role.ready_line(), STARTUP).await;
        if role != Role::Worker {
            let address = process.ready.split("Listening on ").nth(1).unwrap();
            process.address = address.trim().to_string();
        }
        process
    }

    /// Reads log lines until one contains `needle`; panics with the log when the process exits
    /// or the time is up first.
    async fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let (lines, log, child) = (&self.lines, &mut self.log, &mut self.child);
        let found = poll_until(timeout, || {
            while let Ok(line) = lines.try_recv() {
                log.push(line.clone());
                if line.contains(needle) {
                    return Some(Ok(line));
                }
            }
            child.try_wait().ok().flatten().map(Err)
        })
        .await;
        match found {
            Some(Ok(line)) => line,
            Some(Err(status)) => panic!("exited ({status}) before {needle:?}:\n{}", self.tail()),
            None => panic!(
                "no log line with {needle:?} within {timeout:?}:\n{}",
                self.tail()
            ),
        }
    }

    fn tail(&mut self) -> String {
        self.log.extend(self.lines.try_iter());
        let start = self.log.len().saturating_sub(40);
        self.log[start..].join("\n")
    }

    /// This worker's consumer name, from its "Worker pool started. ... consumer=NAME" line.
    fn consumer(&self) -> String {
        let name = self.ready.split("consumer=").nth(1);
        let name = name.and_then(|rest| rest.split_whitespace().next());
        name.unwrap_or_else(|| panic!("no consumer= in {:?}", self.ready))
            .to_string()
    }

    fn sigkill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn sigterm(&self) {
        signal(&self.child, "TERM");
    }

    fn has_exited(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }

    async fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = &mut self.child;
        poll_until(timeout, || child.try_wait().ok().flatten()).await
    }
}

// ---------------------------------------------------------------------------------------------
// Webhooks, as Twilio sends them
// ---------------------------------------------------------------------------------------------

/// One inbound text; its unique body maps the echo reply back to it.
#[derive(Debug, Clone)]
struct Inbound {
    sid: String,
    from: String,
    body: String,
}

fn numbered_messages(label: &str, count: usize) -> Vec<Inbound> {
    let run: u32 = rand::random();
    (0..count)
        .map(|n| Inbound {
            sid: common::new_sid(),
            from: format!("+1555{n:07}"),
            body: format!("{label} {n} {run:08x}"),
        })
        .collect()
}

/// How pyrowire answered a webhook: accepted (200 with the accept text), another status, or no
/// answer at all (connection refused, reset, timed out).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Answer {
    Accepted,
    Status(u16),
    Unreachable,
}

#[derive(Debug, Clone)]
struct Sent {
    message: Inbound,
    answer: Answer,
    sent_at: Instant,
    answered_at: Instant,
}

type SentLog = Rc<RefCell<Vec<Sent>>>;

fn webhook_client(timeout: Duration) -> awc::Client {
    awc::Client::builder().timeout(timeout).finish()
}

async fn post_webhook(client: &awc::Client, address: &str, message: &Inbound) -> Answer {
    let form = [
        ("From", message.from.as_str()),
        ("To", TWILIO_NUMBER),
        ("MessageSid", message.sid.as_str()),
        ("Body", message.body.as_str()),
    ];
    let url = format!("{address}/queue/{TOPIC}");
    let signature = twilio_signature(AUTH_TOKEN, &url, &form);
    let sent = client
        .post(url)
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .insert_header(("X-Twilio-Signature", signature))
        .send_body(serde_urlencoded::to_string(form).unwrap())
        .await;
    let Ok(mut response) = sent else {
        return Answer::Unreachable;
    };
    let status = response.status().as_u16();
    let body = response.body().await.unwrap_or_default();
    if status == 200 && String::from_utf8_lossy(&body).contains("<Message>ok</Message>") {
        Answer::Accepted
    } else {
        Answer::Status(status)
    }
}

/// `X-Twilio-Signature` for a form POST, from pyrowire's own signer (checked against Twilio's
/// known answers in src/signature.rs and against twilio-python in tests/api/signatures.rs).
fn twilio_signature(token: &str, url: &str, form: &[(&str, &str)]) -> String {
    let params: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    pyrowire::twilio::signature::compute(token, url, &params)
}

/// Senders running as tasks, each posting its share of the messages one after another.
struct Sending {
    log: SentLog,
    stop: Rc<Cell<bool>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Sending {
    fn start(
        address: &str,
        messages: Vec<Inbound>,
        senders: usize,
        pace: Option<Duration>,
    ) -> Self {
        let log = SentLog::default();
        let stop = Rc::new(Cell::new(false));
        let share = messages.len().div_ceil(senders);
        let tasks = messages
            .chunks(share)
            .map(|chunk| {
                let sender = send_in_turn(
                    address.to_string(),
                    chunk.to_vec(),
                    pace,
                    log.clone(),
                    stop.clone(),
                );
                actix_web::rt::spawn(sender)
            })
            .collect();
        Sending { log, stop, tasks }
    }

    fn stop(&self) {
        self.stop.set(true);
    }

    /// Waits for every sender to finish (stopping them when the time is up).
    async fn finish(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        for task in self.tasks.drain(..) {
            let left = deadline.saturating_duration_since(Instant::now());
            if actix_web::rt::time::timeout(left, task).await.is_err() {
                self.stop.set(true);
            }
        }
    }
}

async fn send_in_turn(
    address: String,
    messages: Vec<Inbound>,
    pace: Option<Duration>,
    log: SentLog,
    stop: Rc<Cell<bool>>,
) {
    let client = webhook_client(secs(10));
    for message in messages {
        if stop.get() {
            break;
        }
        let sent_at = Instant::now();
        let answer = post_webhook(&client, &address, &message).await;
        log.borrow_mut().push(Sent {
            message,
            answer,
            sent_at,
            answered_at: Instant::now(),
        });
        if let Some(pace) = pace {
            sleep(pace).await;
        }
    }
}

fn accepted_sids(log: &SentLog) -> Vec<String> {
    let log = log.borrow();
    let accepted = log.iter().filter(|s| s.answer == Answer::Accepted);
    accepted.map(|s| s.message.sid.clone()).collect()
}

fn count_answers(answers: &[Answer]) -> HashMap<Answer, usize> {
    let mut counts = HashMap::new();
    for answer in answers {
        *counts.entry(answer.clone()).or_default() += 1;
    }
    counts
}

fn answer_counts(log: &[Sent]) -> HashMap<Answer, usize> {
    count_answers(&log.iter().map(|s| s.answer.clone()).collect::<Vec<_>>())
}

/// Waits until at least `n` messages that `count` selects were accepted.
async fn wait_for_accepted(
    log: &SentLog,
    count: impl Fn(&Sent) -> bool,
    n: usize,
    timeout: Duration,
) -> bool {
    let enough = poll_until(timeout, || {
        let log = log.borrow();
        let accepted = log
            .iter()
            .filter(|s| s.answer == Answer::Accepted && count(s));
        (accepted.count() >= n).then_some(())
    })
    .await;
    enough.is_some()
}

/// While Redis is down: `GET /health` every 100 ms, for at least `DOWN_AT_LEAST` and until a
/// webhook sent since `down_since` was answered (at most `DOWN_AT_MOST`, as answers may be
/// slow). The statuses (0 for no answer within 5 s) and how long each took.
async fn health_while_down(
    address: &str,
    log: &SentLog,
    down_since: Instant,
) -> Vec<(u16, Duration)> {
    let client = webhook_client(secs(5));
    let mut statuses = Vec::new();
    for _ in 0..DOWN_AT_MOST.as_millis() / 100 {
        let asked_at = Instant::now();
        let answer = client.get(format!("{address}/health")).send().await;
        statuses.push((
            answer.map_or(0, |r| r.status().as_u16()),
            asked_at.elapsed(),
        ));
        let answered = log
            .borrow()
            .iter()
            .filter(|s| s.sent_at >= down_since)
            .count();
        let down_for = down_since.elapsed();
        if (down_for >= DOWN_AT_LEAST && answered >= 1) || down_for >= DOWN_AT_MOST {
            break;
        }
        sleep(Duration::from_millis(100)).await;
    }
    statuses
}

const DOWN_AT_LEAST: Duration = Duration::from_millis(1500);
const DOWN_AT_MOST: Duration = Duration::from_secs(6);

/// Probes sent to a process after SIGTERM.
struct Probes {
    sent: Vec<Sent>,
    /// Probes accepted though sent `PROBE_SETTLE` or more after the signal.
    accepted_late: usize,
    /// Create requests the stand-in had `PROBE_SETTLE` after the signal.
    sent_at_settle: usize,
}

/// Time a process gets to act on a signal before it must refuse new webhooks.
const PROBE_SETTLE: Duration = Duration::from_millis(250);

/// Posts a new webhook (on a new connection) every 50 ms until the process exits.
async fn probe_while_running(
    server: &mut Pyrowire,
    signalled: Instant,
    twilio: &FakeTwilio,
) -> Probes {
    let limit = Duration::from_millis(SHUTDOWN_GRACE_MS + 3000);
    let mut probes = Probes {
        sent: Vec::new(),
        accepted_late: 0,
        sent_at_settle: usize::MAX,
    };
    for message in numbered_messages("probe", 200) {
        if server.has_exited() || signalled.elapsed() > limit {
            break;
        }
        if probes.sent_at_settle == usize::MAX && signalled.elapsed() >= PROBE_SETTLE {
            probes.sent_at_settle = twilio.creates().len();
        }
        let sent_at = Instant::now();
        let answer = post_webhook(&webhook_client(secs(2)), &server.address, &message).await;
        if answer == Answer::Accepted && sent_at - signalled >= PROBE_SETTLE {
            probes.accepted_late += 1;
        }
        let answered_at = Instant::now();
        probes.sent.push(Sent {
            message,
            answer,
            sent_at,
            answered_at,
        });
        sleep(Duration::from_millis(50)).await;
    }
    if probes.sent_at_settle == usize::MAX {
        // The process exited within PROBE_SETTLE: whatever was sent by then was in flight.
        probes.sent_at_settle = twilio.creates().len();
    }
    probes
}

// ---------------------------------------------------------------------------------------------
// What reached the stand-in
// ---------------------------------------------------------------------------------------------

fn bodies(creates: &[fake_twilio::Received]) -> Vec<String> {
    let body = |r: &fake_twilio::Received| r.field("Body").unwrap_or_default().to_string();
    creates.iter().map(body).collect()
}

/// The replies the stand-in created, matched against the webhooks sent.
#[derive(Debug, Default)]
struct Delivery {
    sent: usize,
    accepted: usize,
    /// Accepted messages with at least one reply.
    replied: usize,
    /// Bodies replied to more than once.
    duplicated: Vec<String>,
    /// Accepted messages without a reply.
    lost: Vec<String>,
    /// Replies not addressed to their message's sender.
    misaddressed: Vec<String>,
    /// Replies that match no message sent.
    unknown: Vec<String>,
    /// Messages not answered 200 (the answer was lost) that were replied to all the same.
    replied_without_accept: usize,
    /// Entries left in the queue stream.
    queued: Option<usize>,
    /// Messages-list lookups the stand-in answered (a redelivered job checking for its reply).
    lookups: usize,
}

impl Delivery {
    fn of(log: &[Sent], created: &[Value]) -> Delivery {
        let mut replies: HashMap<&str, Vec<&str>> = HashMap::new();
        for reply in created {
            let body = reply["body"].as_str().unwrap_or_default();
            let to = reply["to"].as_str().unwrap_or_default();
            replies.entry(body).or_default().push(to);
        }
        let by_body: HashMap<&str, &Sent> =
            log.iter().map(|s| (s.message.body.as_str(), s)).collect();
        let accepted: Vec<&Sent> = log
            .iter()
            .filter(|s| s.answer == Answer::Accepted)
            .collect();
        let replied = |s: &Sent| replies.contains_key(s.message.body.as_str());
        let misaddressed = |(body, tos): &(&&str, &Vec<&str>)| {
            by_body
                .get(**body)
                .is_some_and(|s| tos.iter().any(|to| *to != s.message.from))
        };
        Delivery {
            sent: log.len(),
            accepted: accepted.len(),
            replied: accepted.iter().filter(|s| replied(s)).count(),
            duplicated: replies
                .iter()
                .filter(|(_, t)| t.len() > 1)
                .map(|(b, _)| b.to_string())
                .collect(),
            lost: accepted
                .iter()
                .filter(|s| !replied(s))
                .map(|s| s.message.body.clone())
                .collect(),
            misaddressed: replies
                .iter()
                .filter(misaddressed)
                .map(|(b, _)| b.to_string())
                .collect(),
            unknown: replies
                .keys()
                .filter(|b| !by_body.contains_key(*b))
                .map(|b| b.to_string())
                .collect(),
            replied_without_accept: log
                .iter()
                .filter(|s| s.answer != Answer::Accepted && replied(s))
                .count(),
            queued: None,
            lookups: 0,
        }
    }

    fn summary(&self) -> String {
        format!(
            "sent={} accepted={} replied={} duplicated={} lost={} misaddressed={} unknown={} \
             replied_without_200={} left_in_queue={:?} list_lookups={}",
            self.sent,
            self.accepted,
            self.replied,
            self.duplicated.len(),
            self.lost.len(),
            self.misaddressed.len(),
            self.unknown.len(),
            self.replied_without_accept,
            self.queued,
            self.lookups
        )
    }

    fn assert_exactly_one_reply_each(&self) {
        let first = |v: &[String]| v.iter().take(5).cloned().collect::<Vec<_>>();
        assert!(
            self.accepted > 0,
            "nothing was accepted; {}",
            self.summary()
        );
        assert!(
            self.lost.is_empty(),
            "accepted messages without a reply (first {:?}); {}",
            first(&self.lost),
            self.summary()
        );
        assert!(
            self.duplicated.is_empty(),
            "messages replied to more than once (first {:?}); {}",
            first(&self.duplicated),
            self.summary()
        );
        assert!(
            self.misaddressed.is_empty() && self.unknown.is_empty(),
            "replies to the wrong number {:?} or to no message sent {:?}; {}",
            first(&self.misaddressed),
            first(&self.unknown),
            self.summary()
        );
    }
}

/// Waits until every accepted message has a reply and the queue is empty, then watches a little
/// longer for late duplicates; returns what was delivered by then (also when the time is up).
async fn wait_until_settled(
    twilio: &FakeTwilio,
    store: &Store,
    log: &SentLog,
    timeout: Duration,
) -> Delivery {
    let settled = poll_until(timeout, || {
        let delivery = Delivery::of(&log.borrow(), &twilio.created());
        let queued = store.queue_len().ok();
        (delivery.lost.is_empty() && queued == Some(0)).then_some(())
    })
    .await;
    if settled.is_some() {
        // Nothing is left to run, so no reply should come now; a short look confirms it.
        let created = twilio.created().len();
        poll_until(Duration::from_millis(300), || {
            (twilio.created().len() != created).then_some(())
        })
        .await;
    }
    let mut delivery = Delivery::of(&log.borrow(), &twilio.created());
    delivery.queued = store.queue_len().ok();
    delivery.lookups = twilio
        .received()
        .iter()
        .filter(|r| r.method == "GET")
        .count();
    delivery
}

/// Waits until the records of accepted messages name `n` distinct workers; returns the names
/// and how many records each has.
async fn wait_for_workers(
    store: &Store,
    log: &SentLog,
    n: usize,
    timeout: Duration,
) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    poll_until(timeout, || {
        let records = store.records(&accepted_sids(log)).ok()?;
        seen = HashMap::new();
        for record in records.values() {
            *seen.entry(worker_of(record)).or_default() += 1;
        }
        (seen.len() >= n).then_some(())
    })
    .await;
    seen
}

/// Calls `check` every `POLL` until it gives a value or `timeout` passes (bounded by count too).
async fn poll_until<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    let max_polls = timeout.as_millis() / POLL.as_millis() + 2;
    for _ in 0..max_polls {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            break;
        }
        sleep(POLL).await;
    }
    None
}
