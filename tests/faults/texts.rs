//! Texts posted to the outbound API as a client program does (one request, bearer token), and
//! what the stand-in received matched against them: every number should get exactly one text,
//! with its body, at its time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{poll_until, FakeTwilio};
use crate::setup::Store;
use crate::webhooks::webhook_client;
use crate::{secs, TOPIC};

/// The token the outbound tests' profile sets.
pub const API_TOKEN: &str = "fault-api-token-0123456789abcdef";
/// A scheduled text may go out this long after its time (the scheduler ticks every 250 ms).
const LATE_AT_MOST: Duration = Duration::from_secs(3);
/// Two instants that should be one: `send_at` (ms on the wall clock) read back as an `Instant`.
const CLOCK_SLACK: Duration = Duration::from_millis(10);

/// One text of a request: its recipient, a body unique to the run, and when to send it.
#[derive(Debug, Clone)]
pub struct Text {
    to: String,
    body: String,
    send_at: Option<String>,
}

impl Text {
    /// `count` texts to distinct numbers.
    pub fn numbered(label: &str, count: usize, send_at: Option<&str>) -> Vec<Text> {
        let run: u32 = rand::random();
        (0..count)
            .map(|n| Text {
                to: format!("+1555300{n:04}"),
                body: format!("{label} {n} {run:08x}"),
                send_at: send_at.map(str::to_string),
            })
            .collect()
    }

    fn json(&self) -> Value {
        match &self.send_at {
            Some(at) => json!({"to": self.to, "body": self.body, "send_at": at}),
            None => json!({"to": self.to, "body": self.body}),
        }
    }
}

/// POSTs every text in one request; panics unless all are accepted. Answers their ids.
pub async fn post_texts(address: &str, texts: &[Text]) -> Vec<String> {
    let body = json!({ "messages": texts.iter().map(Text::json).collect::<Vec<_>>() });
    let url = format!("{address}/api/topics/{TOPIC}/messages");
    let mut response = webhook_client(secs(10))
        .post(url)
        .insert_header(("Authorization", format!("Bearer {API_TOKEN}")))
        .send_json(&body)
        .await
        .expect("the API answers");
    let status = response.status().as_u16();
    let answer: Value = response.json().limit(1 << 20).await.unwrap_or(Value::Null);
    assert_eq!(status, 202, "{answer}");
    let accepted = answer["messages"].as_array().expect("a list of texts");
    assert_eq!(accepted.len(), texts.len(), "{answer}");
    let expected = if texts[0].send_at.is_some() {
        "scheduled"
    } else {
        "queued"
    };
    assert!(
        accepted.iter().all(|m| m["status"] == expected),
        "every text should be {expected}: {answer}"
    );
    let id = |m: &Value| m["id"].as_str().unwrap().to_string();
    accepted.iter().map(id).collect()
}

/// Waits until every number has a text and every text has its completion record, with nothing
/// left queued or scheduled, then watches a little longer for late duplicates; answers what the
/// stand-in received by then (also when the time is up).
pub async fn wait_until_sent(
    twilio: &FakeTwilio,
    store: &Store,
    texts: &[Text],
    ids: &[String],
    timeout: Duration,
) -> Sent {
    let settled = poll_until(timeout, || {
        let sent = Sent::of(twilio, texts);
        let idle = store.queue_len().ok() == Some(0) && store.scheduled_len().ok() == Some(0);
        let recorded = || store.records(ids).is_ok_and(|r| r.len() == ids.len());
        (sent.missing.is_empty() && idle && recorded()).then_some(())
    })
    .await;
    if settled.is_some() {
        // Nothing is left to send, so no text should come now; a short look confirms it.
        let created = twilio.creates().len();
        poll_until(Duration::from_millis(300), || {
            (twilio.creates().len() != created).then_some(())
        })
        .await;
    }
    let mut sent = Sent::of(twilio, texts);
    sent.settled = settled.is_some();
    sent
}

/// The create requests the stand-in received, matched against the texts posted.
#[derive(Debug)]
pub struct Sent {
    /// When each number's texts arrived, in order.
    arrivals: HashMap<String, Vec<Instant>>,
    /// Numbers without a text.
    missing: Vec<String>,
    /// Numbers texted more than once.
    duplicated: Vec<String>,
    /// Creates to a number not posted, or with another body than its text's.
    wrong: Vec<String>,
    /// Every create's arrival, oldest first.
    all: Vec<Instant>,
    /// Messages-list lookups (a redelivered text checking whether it went out).
    lookups: usize,
    /// Whether every text was recorded as done, with nothing left queued or scheduled.
    settled: bool,
}

impl Sent {
    fn of(twilio: &FakeTwilio, texts: &[Text]) -> Sent {
        let body_of: HashMap<&str, &str> = texts
            .iter()
            .map(|t| (t.to.as_str(), t.body.as_str()))
            .collect();
        let mut arrivals: HashMap<String, Vec<Instant>> = HashMap::new();
        let mut wrong = Vec::new();
        let received = twilio.received();
        let (creates, lookups): (Vec<_>, Vec<_>) =
            received.iter().partition(|r| r.method == "POST");
        for create in &creates {
            let to = create.field("To").unwrap_or_default();
            if body_of.get(to).copied() != create.field("Body") {
                wrong.push(format!("{to}: {:?}", create.field("Body")));
            }
            arrivals.entry(to.to_string()).or_default().push(create.at);
        }
        let count = |t: &&Text| arrivals.get(&t.to).map_or(0, Vec::len);
        let numbers = |keep: fn(usize) -> bool| -> Vec<String> {
            let chosen = texts.iter().filter(|t| keep(count(t)));
            chosen.map(|t| t.to.clone()).collect()
        };
        Sent {
            missing: numbers(|n| n == 0),
            duplicated: numbers(|n| n > 1),
            wrong,
            all: creates.iter().map(|c| c.at).collect(),
            arrivals,
            lookups: lookups.len(),
            settled: false,
        }
    }

    /// First create to last.
    pub fn span(&self) -> Duration {
        match (self.all.first(), self.all.last()) {
            (Some(first), Some(last)) => last.duration_since(*first),
            _ => Duration::ZERO,
        }
    }

    /// The most creates that arrived within any one second.
    fn busiest_second(&self) -> usize {
        let within = |(i, start): (usize, &Instant)| {
            let rest = self.all[i..].iter();
            rest.take_while(|at| at.duration_since(*start) < secs(1))
                .count()
        };
        self.all.iter().enumerate().map(within).max().unwrap_or(0)
    }

    pub fn summary(&self) -> String {
        format!(
            "creates={} numbers={} missing={} duplicated={} wrong={} span={:?} busiest second={} \
             list lookups={} settled={}",
            self.all.len(),
            self.arrivals.len(),
            self.missing.len(),
            self.duplicated.len(),
            self.wrong.len(),
            self.span(),
            self.busiest_second(),
            self.lookups,
            self.settled
        )
    }

    /// The summary, with how long after `due` the first and last texts arrived (negative:
    /// before).
    pub fn timing(&self, due: Instant) -> String {
        let after = |at: Option<&Instant>| {
            at.map(|at| match at.checked_duration_since(due) {
                Some(late) => format!("+{late:?}"),
                None => format!("-{:?}", due.duration_since(*at)),
            })
        };
        format!(
            "{}; first {:?} last {:?} after its time",
            self.summary(),
            after(self.all.first()),
            after(self.all.last())
        )
    }

    pub fn assert_one_each(&self) {
        let first = |v: &[String]| v.iter().take(5).cloned().collect::<Vec<_>>();
        assert!(
            self.missing.is_empty(),
            "numbers without a text (first {:?}); {}",
            first(&self.missing),
            self.summary()
        );
        assert!(
            self.duplicated.is_empty(),
            "numbers texted more than once (first {:?}); {}",
            first(&self.duplicated),
            self.summary()
        );
        assert!(
            self.wrong.is_empty(),
            "texts to a number not posted or with another body (first {:?}); {}",
            first(&self.wrong),
            self.summary()
        );
        assert!(
            self.settled,
            "texts were left queued, scheduled or without their completion record; {}",
            self.summary()
        );
    }

    /// Every text arrived at or after `due`, and at most [`LATE_AT_MOST`] after.
    pub fn assert_on_time(&self, due: Instant) {
        let early = self.all.iter().filter(|at| **at + CLOCK_SLACK < due);
        assert_eq!(early.count(), 0, "texts sent early; {}", self.timing(due));
        let late = self.all.iter().filter(|at| **at > due + LATE_AT_MOST);
        assert_eq!(late.count(), 0, "texts sent late; {}", self.timing(due));
    }
}
