//! Waiting on what the app does, by polling with a deadline: a message's record.

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use serde_json::Value;

use super::TestApp;

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
}
