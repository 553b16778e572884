//! Webhooks as Twilio sends them (signed form POSTs), sent by concurrent senders whose every
//! answer is logged.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix_web::rt::task::JoinHandle;
use actix_web::rt::time::sleep;

use crate::common::{new_sid, poll_until, AUTH_TOKEN, FROM_NUMBER};
use crate::{secs, TOPIC};

/// One inbound text; its unique body maps the echo reply back to it.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub sid: String,
    pub from: String,
    pub body: String,
}

pub fn numbered_messages(label: &str, count: usize) -> Vec<Inbound> {
    let run: u32 = rand::random();
    (0..count)
        .map(|n| Inbound {
            sid: new_sid(),
            from: format!("+1555{n:07}"),
            body: format!("{label} {n} {run:08x}"),
        })
        .collect()
}

/// How pyrowire answered a webhook: accepted (200 with the accept text), another status, or no
/// answer at all (connection refused, reset, timed out).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Answer {
    Accepted,
    Status(u16),
    Unreachable,
}

#[derive(Debug, Clone)]
pub struct Sent {
    pub message: Inbound,
    pub answer: Answer,
    pub sent_at: Instant,
    pub answered_at: Instant,
}

pub type SentLog = Rc<RefCell<Vec<Sent>>>;

pub fn webhook_client(timeout: Duration) -> awc::Client {
    awc::Client::builder().timeout(timeout).finish()
}

pub async fn post_webhook(client: &awc::Client, address: &str, message: &Inbound) -> Answer {
    let form = [
        ("From", message.from.as_str()),
        ("To", FROM_NUMBER),
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
pub fn twilio_signature(token: &str, url: &str, form: &[(&str, &str)]) -> String {
    let params: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    pyrowire::twilio::signature::compute(token, url, &params)
}

/// Senders running as tasks, each posting its share of the messages one after another.
pub struct Sending {
    pub log: SentLog,
    stop: Rc<Cell<bool>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Sending {
    pub fn start(
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

    pub fn stop(&self) {
        self.stop.set(true);
    }

    /// Waits for every sender to finish (stopping them when the time is up).
    pub async fn finish(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        for task in self.tasks.drain(..) {
            let left = deadline.saturating_duration_since(Instant::now());
            if actix_web::rt::time::timeout(left, task).await.is_err() {
                self.stop.set(true);
            }
        }
    }
}

pub async fn send_in_turn(
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

pub fn accepted_sids(log: &SentLog) -> Vec<String> {
    let log = log.borrow();
    let accepted = log.iter().filter(|s| s.answer == Answer::Accepted);
    accepted.map(|s| s.message.sid.clone()).collect()
}

pub fn count_answers(answers: &[Answer]) -> HashMap<Answer, usize> {
    let mut counts = HashMap::new();
    for answer in answers {
        *counts.entry(answer.clone()).or_default() += 1;
    }
    counts
}

pub fn answer_counts(log: &[Sent]) -> HashMap<Answer, usize> {
    count_answers(&log.iter().map(|s| s.answer.clone()).collect::<Vec<_>>())
}

/// Waits until at least `n` messages that `count` selects were accepted.
pub async fn wait_for_accepted(
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
