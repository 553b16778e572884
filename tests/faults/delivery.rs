//! What reached the stand-in, matched against the webhooks sent: every accepted message should
//! have exactly one reply, addressed to its sender.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use crate::common::{poll_until, FakeTwilio, Received};
use crate::setup::Store;
use crate::webhooks::{accepted_sids, Answer, Sent, SentLog};

pub fn bodies(creates: &[Received]) -> Vec<String> {
    let body = |r: &Received| r.field("Body").unwrap_or_default().to_string();
    creates.iter().map(body).collect()
}

/// The replies the stand-in created, matched against the webhooks sent.
#[derive(Debug, Default)]
pub struct Delivery {
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

    /// Accepted messages without a reply.
    pub fn lost(&self) -> usize {
        self.lost.len()
    }

    /// Messages replied to more than once.
    pub fn duplicated(&self) -> usize {
        self.duplicated.len()
    }

    /// Messages answered 200.
    pub fn accepted(&self) -> usize {
        self.accepted
    }

    pub fn summary(&self) -> String {
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

    pub fn assert_exactly_one_reply_each(&self) {
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
pub async fn wait_until_settled(
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
pub async fn wait_for_workers(
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

pub fn worker_of(record: &Value) -> String {
    record["worker"].as_str().unwrap_or("<none>").to_string()
}
