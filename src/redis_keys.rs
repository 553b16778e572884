//! The only place a Redis key is built. Every key starts with the configured prefix and carries
//! the topic as a hash tag (`pyrowire:{sample}:queue`), so all of a topic's keys live in one
//! Redis Cluster slot and the enqueue script may touch them together.

/// Consumer group that every worker process of a topic joins on the topic's stream.
pub const GROUP: &str = "workers";

/// Builds keys under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `prefix` (default `pyrowire`).
    pub fn new(prefix: impl Into<String>) -> Self {
        Keys {
            prefix: prefix.into(),
        }
    }

    fn key(&self, topic: &str, rest: &str) -> String {
        format!("{}:{{{}}}:{}", self.prefix, topic, rest)
    }

    /// Stream: the topic's durable job queue, one entry (`job` = JSON [`crate::domain::Job`]) per
    /// accepted message. Ingress appends (XADD); workers read it through the consumer group
    /// [`GROUP`] and remove an entry (XACK + XDEL) once its outcome is recorded.
    pub fn queue(&self, topic: &str) -> String {
        self.key(topic, "queue")
    }

    /// String, with a TTL of `dedup_ttl_s`: the stream id a MessageSid was queued as. Written by
    /// the enqueue script; a webhook whose MessageSid has one is answered but not queued again.
    pub fn seen(&self, topic: &str, sid: &str) -> String {
        self.key(topic, &format!("seen:{sid}"))
    }

    /// String, with a TTL of `record_ttl_s`: the JSON record of one inbound message's outcome
    /// (completed or error). Written by the recorder; read by people and tools.
    pub fn record(&self, topic: &str, sid: &str) -> String {
        self.key(topic, &format!("record:{sid}"))
    }

    /// List, newest first, trimmed to `recent_records`: MessageSids of completed messages.
    /// Written by the recorder.
    pub fn completed(&self, topic: &str) -> String {
        self.key(topic, "completed")
    }

    /// List, newest first, trimmed to `recent_records`: MessageSids whose handling failed.
    /// Written by the recorder.
    pub fn errors(&self, topic: &str) -> String {
        self.key(topic, "errors")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_the_prefix_and_the_topic_as_hash_tag() {
        let keys = Keys::new("px");
        assert_eq!(keys.queue("sample"), "px:{sample}:queue");
        assert_eq!(keys.seen("sample", "SM1"), "px:{sample}:seen:SM1");
        assert_eq!(keys.record("sample", "SM1"), "px:{sample}:record:SM1");
        assert_eq!(keys.completed("sample"), "px:{sample}:completed");
        assert_eq!(keys.errors("sample"), "px:{sample}:errors");
    }
}
