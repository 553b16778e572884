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

    /// List of reasons, one per failed attempt, with a TTL of `record_ttl_s`: how often a job
    /// failed so far, kept in Redis so that the count survives a crash or a claim by another
    /// process. Appended by the recorder; deleted when the job is completed or dead-lettered.
    pub fn attempts(&self, topic: &str, sid: &str) -> String {
        self.key(topic, &format!("attempts:{sid}"))
    }

    /// Hash, with a TTL of `record_ttl_s`: the at-most-once marker of one outbound message
    /// (`kind` is `accept` or `reply`). `marked_at` (ms) is written before the POST to Twilio,
    /// `sid`, `status` and `num_segments` after it succeeded. Read and written by the sender.
    pub fn send_mark(&self, topic: &str, sid: &str, kind: &str) -> String {
        self.key(topic, &format!("send:{sid}:{kind}"))
    }

    /// List of stream ids, oldest first: the unfinished jobs of one sender (`number`), so that a
    /// sender's messages are handled in arrival order by whichever process holds them. Appended
    /// by the enqueue script; an id is removed when its job is completed or dead-lettered; the
    /// worker pools dispatch a job only when it is at the head.
    pub fn sender(&self, topic: &str, number: &str) -> String {
        self.key(topic, &format!("sender:{number}"))
    }

    /// Hash, with a TTL of `record_ttl_s`: the delivery status of one outbound message
    /// (`outbound_sid` is Twilio's SID of the reply): `status`, `rank`, `history` (every status it
    /// moved through, comma-separated), `error_code`, `updated_at`. Written by the sender (the
    /// status in Twilio's answer) and by status callbacks, moving only forward.
    pub fn delivery(&self, topic: &str, outbound_sid: &str) -> String {
        self.key(topic, &format!("delivery:{outbound_sid}"))
    }

    /// Hash of numbers that opted out of the topic (STOP, or Twilio error 21610), each with the
    /// time (ms). Written by ingress (STOP / START) and the sender (21610); the sender sends
    /// nothing to a number in it.
    pub fn opt_outs(&self, topic: &str) -> String {
        self.key(topic, "optout")
    }

    /// String: the rate limiter's theoretical arrival time (ms) of the topic's next send, shared
    /// by every process; see `max_sends_per_second`.
    pub fn rate(&self, topic: &str) -> String {
        self.key(topic, "rate")
    }

    /// Hash of running totals, `completed` and `dead_lettered`, across all processes. Written by
    /// the recorder; read by the dashboard and `pyrowire status`.
    pub fn stats(&self, topic: &str) -> String {
        self.key(topic, "stats")
    }

    /// Hash of one minute's `completed` and `dead_lettered` counts (`minute_ms` is the start of
    /// the minute in ms), with a TTL of two hours. Written by the recorder; read by the dashboard.
    pub fn minute_stats(&self, topic: &str, minute_ms: u64) -> String {
        self.key(topic, &format!("stats:{minute_ms}"))
    }

    /// Sorted set of dead-lettered MessageSids scored by when they died (ms), trimmed to
    /// `max_dead_letters`. Written by the recorder; read and re-queued by `pyrowire dead`.
    pub fn dead(&self, topic: &str) -> String {
        self.key(topic, "dead")
    }

    /// String, with a TTL of `dead_letter_ttl_s`: one dead letter as JSON (the job, every
    /// attempt's reason, when it died). Written by the recorder; read by `pyrowire dead`.
    pub fn dead_entry(&self, topic: &str, sid: &str) -> String {
        self.key(topic, &format!("dead:{sid}"))
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
        assert_eq!(keys.attempts("sample", "SM1"), "px:{sample}:attempts:SM1");
        assert_eq!(
            keys.send_mark("sample", "SM1", "reply"),
            "px:{sample}:send:SM1:reply"
        );
        assert_eq!(keys.sender("sample", "+1555"), "px:{sample}:sender:+1555");
        assert_eq!(keys.dead("sample"), "px:{sample}:dead");
        assert_eq!(keys.delivery("sample", "SM2"), "px:{sample}:delivery:SM2");
        assert_eq!(keys.opt_outs("sample"), "px:{sample}:optout");
        assert_eq!(keys.rate("sample"), "px:{sample}:rate");
        assert_eq!(keys.stats("sample"), "px:{sample}:stats");
        assert_eq!(
            keys.minute_stats("sample", 60_000),
            "px:{sample}:stats:60000"
        );
        assert_eq!(keys.dead_entry("sample", "SM1"), "px:{sample}:dead:SM1");
    }
}
