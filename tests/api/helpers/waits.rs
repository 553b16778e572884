//! Waiting on what the app does, by polling with a deadline: a message's record, its outcome,
//! a queue drained, the app draining or stopped. To show that something did not happen (no
//! second send), a test first waits for the event that proves the work is over, then checks.

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use serde_json::Value;

use super::{Answer, TestApp};

/// How often the waits look again.
const POLL: Duration = Duration::from_millis(20);

impl TestApp {
    /// The record of a message, once it exists (polls up to `timeout`).
    pub async fn wait_record(&self, topic: &str, sid: &str, timeout: Duration) -> Value {
        let key = self.key(topic, &format!("record:{sid}"));
        let deadline = Instant::now() + timeout;
        let mut redis = self.redis.clone();
        loop {
            let raw: Option<String> = redis.get(&key).await.unwrap();
            if let Some(raw) = raw {
                return serde_json::from_str(&raw).unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "no record at {key} within {timeout:?}"
            );
            actix_web::rt::time::sleep(POLL).await;
        }
    }

    /// The record of a message once its outcome is `outcome` (a re-queued job's record is
    /// replaced when it runs again); panics after `timeout`.
    pub async fn wait_outcome(
        &self,
        topic: &str,
        sid: &str,
        outcome: &str,
        timeout: Duration,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let record = self.wait_record(topic, sid, timeout).await;
            if record["outcome"] == outcome {
                return record;
            }
            assert!(
                Instant::now() < deadline,
                "the record of {sid} is not {outcome:?} within {timeout:?}: {record}"
            );
            actix_web::rt::time::sleep(POLL).await;
        }
    }

    /// Waits until the topic's queue stream is empty: every job queued so far has its outcome
    /// recorded, as a job leaves the stream only once its record is written.
    pub async fn wait_until_drained(&self, topic: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let queued = self.queue_len(topic).await;
            if queued == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{queued} job(s) still queued on {topic} after {timeout:?}"
            );
            actix_web::rt::time::sleep(POLL).await;
        }
    }

    /// Asks `/health` until it answers `status` or `timeout` passes; the last answer.
    pub async fn wait_for_health(&self, status: u16, timeout: Duration) -> Answer {
        let deadline = Instant::now() + timeout;
        loop {
            let answer = self.get_path("/health").await;
            if answer.status == status || Instant::now() >= deadline {
                return answer;
            }
            actix_web::rt::time::sleep(POLL).await;
        }
    }

    /// Waits until the app's run returned after a shutdown: in-flight jobs finished, the worker
    /// pools drained (they start nothing more) and the HTTP server stopped.
    pub async fn wait_stopped(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.stopped.get() {
            assert!(
                Instant::now() < deadline,
                "the app did not stop within {timeout:?}"
            );
            actix_web::rt::time::sleep(POLL).await;
        }
    }
}
