//! The only place a Redis key is built. Every key starts with the configured prefix and carries
//! the topic as a hash tag (`pyrowire:{sample}:queue`), so all of a topic's keys live in one
//! Redis Cluster slot and the enqueue script may touch them together.

/// Consumer group that every worker process of a topic joins on the topic's stream.
pub(crate) const GROUP: &str = "workers";

/// Builds keys under one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `prefix` (default `pyrowire`).
    pub(crate) fn new(prefix: impl Into<String>) -> Self {
        Keys {
            prefix: prefix.into(),
        }
    }

    /// `{prefix}:{{topic}}:{rest}`, built in one allocation (`rest` is written straight into
    /// it: pass `format_args!` for a key with a variable part).
    fn key(&self, topic: &str, rest: impl std::fmt::Display) -> String {
        format!("{}:{{{}}}:{}", self.prefix, topic, rest)
    }

    /// Stream: the topic's durable job queue, one entry (`job` = JSON [`crate::domain::Job`]) per
    /// accepted message. Ingress appends (XADD, in the enqueue script), as does a re-queued dead
    /// letter; worker pools read it through the consumer group [`GROUP`] and the recorder removes
    /// an entry (XACK + XDEL) once its outcome is recorded.
    pub(crate) fn queue(&self, topic: &str) -> String {
        self.key(topic, "queue")
    }

    /// Stream: the topic's bulk queue, one entry (`job`, as in [`Keys::queue`]) per outbound
    /// text sent as `bulk` (`"priority": "bulk"`, a CSV broadcast). Written by the outbound
    /// scripts, read through the consumer group [`GROUP`] only while the interactive queue
    /// leaves a worker free, bounded by `max_bulk_depth` apart from `max_queue_depth`.
    pub(crate) fn bulk_queue(&self, topic: &str) -> String {
        self.key(topic, "bulk")
    }

    /// String, with a TTL of `dedup_ttl_s`: the stream id a MessageSid was queued as, or
    /// `keyword` for an opt-out or opt-in keyword. Written by the enqueue script and the
    /// recorder's opt-out script; a webhook whose MessageSid has one is answered but not queued
    /// (or acted on) again.
    pub(crate) fn seen(&self, topic: &str, sid: &str) -> String {
        self.key(topic, format_args!("seen:{sid}"))
    }

    /// String, with a TTL of `record_ttl_s`: the JSON [`crate::domain::record::Record`] of one
    /// inbound message, whose `outcome` is `completed` or `dead_lettered`. Written by the
    /// recorder; read by `pyrowire recent` and the dashboard.
    pub(crate) fn record(&self, topic: &str, sid: &str) -> String {
        self.key(topic, format_args!("record:{sid}"))
    }

    /// List, newest first, trimmed to `recent_records`: MessageSids of completed messages.
    /// Written by the recorder; read by `pyrowire recent` and the dashboard.
    pub(crate) fn completed(&self, topic: &str) -> String {
        self.key(topic, "completed")
    }

    /// List of reasons, one per failed attempt, with a TTL of `record_ttl_s`: how often a job
    /// failed so far, kept in Redis so that the count survives a crash or a claim by another
    /// process. Appended by the recorder and read by workers; deleted when the job is completed,
    /// dead-lettered or re-queued from the dead letters.
    pub(crate) fn attempts(&self, topic: &str, sid: &str) -> String {
        self.key(topic, format_args!("attempts:{sid}"))
    }

    /// Hash, with a TTL of `record_ttl_s`: the at-most-once marker of one outbound message.
    /// `kind` is `accept` (send_on_accept), `reply`, `reply-2`, `reply-3`... (the parts of a long
    /// reply) or `extra-1`, `extra-2`... (texts the handler sent itself). `marked_at` (ms) is
    /// written before the POST to Twilio, `sid`, `status` and `num_segments` after it succeeded.
    /// Read and written by the sender.
    pub(crate) fn send_mark(&self, topic: &str, sid: &str, kind: &str) -> String {
        self.key(topic, format_args!("send:{sid}:{kind}"))
    }

    /// List of stream ids, oldest first: the unfinished jobs of one sender (`number`), so that a
    /// sender's messages are handled in arrival order by whichever process holds them. Appended
    /// by the enqueue script and by a re-queued dead letter; an id is removed by the recorder
    /// when its job is completed or dead-lettered (or by a worker pool when its entry vanished
    /// from the stream); the worker pools dispatch a job only when it is at the head.
    pub(crate) fn sender(&self, topic: &str, number: &str) -> String {
        self.key(topic, format_args!("sender:{number}"))
    }

    /// List of stream ids, oldest first: one recipient's unfinished jobs in the bulk queue, kept
    /// as [`Keys::sender`] keeps the interactive queue's, so bulk texts to a number go out in
    /// the order they were queued.
    pub(crate) fn bulk_sender(&self, topic: &str, number: &str) -> String {
        self.key(topic, format_args!("bulksender:{number}"))
    }

    /// Hash, with a TTL of `record_ttl_s`: the delivery status of one outbound message
    /// (`outbound_sid` is Twilio's SID of the sent message): `to`, `job` (the job it was sent
    /// for, named by its events), `status`, `rank`, `history` (every
    /// status it moved through, comma-separated), `error_code`, `updated_at`. Written by the
    /// sender (the status in Twilio's answer) and by the recorder (status callbacks), moving only
    /// forward; read by `pyrowire recent` and the dashboard.
    pub(crate) fn delivery(&self, topic: &str, outbound_sid: &str) -> String {
        self.key(topic, format_args!("delivery:{outbound_sid}"))
    }

    /// Hash of numbers that opted out of the topic (STOP, or Twilio error 21610), each with the
    /// time (ms). Written by the recorder (STOP / START at ingress, a status callback with
    /// 21610) and the sender (21610); the sender sends nothing to a number in it.
    pub(crate) fn opt_outs(&self, topic: &str) -> String {
        self.key(topic, "optout")
    }

    /// String: the pacing script's theoretical arrival time of the topic's next send, in µs on
    /// Redis's clock, shared by every process; it expires about a second after that time passes.
    /// Read and written by the sender; see `max_sends_per_second`.
    pub(crate) fn rate(&self, topic: &str) -> String {
        self.key(topic, "rate")
    }

    /// Hash of running totals, `completed` and `dead_lettered`, across all processes (and
    /// `events_dropped`: events not kept because the topic's event backlog was full). Written by
    /// the recorder (and the scripts that emit events); read by the dashboard, `/metrics` and
    /// `pyrowire status`.
    pub(crate) fn stats(&self, topic: &str) -> String {
        self.key(topic, "stats")
    }

    /// Hash of one minute's `completed` and `dead_lettered` counts (`minute_ms` is the start of
    /// the minute in ms), with a TTL of two hours. Written by the recorder; read by the dashboard
    /// and `pyrowire status`.
    pub(crate) fn minute_stats(&self, topic: &str, minute_ms: u64) -> String {
        self.key(topic, format_args!("stats:{minute_ms}"))
    }

    /// String, with a TTL of the topic's `session_ttl_s`: one sender's session (`number`), a JSON
    /// object of at most 16 KiB. Read by workers before each attempt and by `pyrowire session`;
    /// written (SET EX, EXPIRE or DEL) only by the recorder, in the transaction that records the
    /// job's completion; deleted by an opt-out (STOP, or Twilio's 21610) and by
    /// `pyrowire session --clear`.
    pub(crate) fn session(&self, topic: &str, number: &str) -> String {
        self.key(topic, format_args!("session:{number}"))
    }

    /// Sorted set of the numbers that have a session, each scored by when it expires (ms): the
    /// dashboard, `pyrowire status` and `/metrics` count the live ones (scored after now).
    /// Written beside each session (same writers); entries past their time are trimmed when a
    /// session is saved.
    pub(crate) fn sessions(&self, topic: &str) -> String {
        self.key(topic, "sessions")
    }

    /// Sorted set of the numbers a handler waits to hear from (`expect_reply_within`), each scored
    /// by when the wait ends (ms). Written by the recorder with the completion that asks (and
    /// cleared by the sender's next completion or an opt-out); the scheduler takes the due ones.
    pub(crate) fn waiting(&self, topic: &str) -> String {
        self.key(topic, "waiting")
    }

    /// String: the `reply_timeout` job (JSON) to queue when the wait for `number` ends, beside its
    /// entry in [`Keys::waiting`]; expires a day after the wait.
    pub(crate) fn waiting_job(&self, topic: &str, number: &str) -> String {
        self.key(topic, format_args!("waiting:{number}"))
    }

    /// Stream of events for the application (`events_url`), oldest first, one entry per change it
    /// hears of (fields `id`, `type`, `at`, `number`, `job`, `twilio_sid`, `status`,
    /// `error_code`, `error`): appended by the scripts that make the change (opt-outs, delivery
    /// statuses, dead letters), at most `events::MAX_BACKLOG`; delivered and deleted (XDEL) by
    /// the dispatcher that holds [`Keys::events_lease`].
    pub(crate) fn events(&self, topic: &str) -> String {
        self.key(topic, "events")
    }

    /// String, with a TTL of a few seconds, renewed while held: the consumer name of the one
    /// process that delivers the topic's events (so that events of one number go out in order).
    pub(crate) fn events_lease(&self, topic: &str) -> String {
        self.key(topic, "events:lease")
    }

    /// Hash: one outbound text (`id` is its `OB...` id): `to`, `status` (`scheduled`, `queued`,
    /// `opted_out` or `cancelled` as queued; later statuses come from its record and delivery),
    /// `created_at`, `send_at` (ms), `idempotency_key`, and while scheduled `job` (the JSON job
    /// to queue when due). TTL `record_ttl_s` after its time. Written by the outbound enqueue,
    /// due and cancel scripts; read by the outbound API.
    pub(crate) fn outbound(&self, topic: &str, id: &str) -> String {
        self.key(topic, format_args!("out:{id}"))
    }

    /// Hash, kept as long as its longest-kept text: one broadcast (`POST .../broadcasts`, a CSV
    /// of `pyrowire send`): `created_at`, `total` (texts in it), `cancelled_at` once cancelled.
    /// Written by the outbound enqueue script and the broadcast cancel script; read by `GET`.
    pub(crate) fn broadcast(&self, topic: &str, id: &str) -> String {
        self.key(topic, format_args!("broadcast:{id}"))
    }

    /// List of the text ids of one broadcast, in the order they were queued (each once), kept
    /// as long as its hash. Appended by the enqueue script; read by `GET` (counts by status) and
    /// `DELETE` (cancel every text not yet sent).
    pub(crate) fn broadcast_texts(&self, topic: &str, id: &str) -> String {
        self.key(topic, format_args!("broadcast:{id}:texts"))
    }

    /// Sorted set of scheduled outbound texts, member `{id}|{to}`, scored by when each is due
    /// (ms). Added to by the outbound enqueue script; the due script moves members to the queue
    /// (once: it removes them in the same script); the cancel script removes one.
    pub(crate) fn scheduled(&self, topic: &str) -> String {
        self.key(topic, "scheduled")
    }

    /// String, with a TTL of `dedup_ttl_s`: the id of the outbound text first queued with an
    /// idempotency key (`digest` is the key's SHA-256, hex). Written and read by the outbound
    /// enqueue script: a repeated key queues nothing.
    pub(crate) fn idempotency(&self, topic: &str, digest: &str) -> String {
        self.key(topic, format_args!("idem:{digest}"))
    }

    /// Sorted set of dead-lettered MessageSids scored by when they died (ms), trimmed to
    /// `max_dead_letters`. Written by the recorder; read by `pyrowire dead`, `pyrowire recent`
    /// and the dashboard; a re-queue removes its MessageSid.
    pub(crate) fn dead(&self, topic: &str) -> String {
        self.key(topic, "dead")
    }

    /// String, with a TTL of `dead_letter_ttl_s`: one dead letter as JSON (the job, every
    /// attempt's reason, when it died). Written by the recorder; read by `pyrowire dead` and the
    /// dashboard; deleted by a re-queue.
    pub(crate) fn dead_entry(&self, topic: &str, sid: &str) -> String {
        self.key(topic, format_args!("dead:{sid}"))
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
        assert_eq!(keys.bulk_queue("sample"), "px:{sample}:bulk");
        assert_eq!(
            keys.bulk_sender("sample", "+1555"),
            "px:{sample}:bulksender:+1555"
        );
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
        assert_eq!(keys.session("sample", "+1555"), "px:{sample}:session:+1555");
        assert_eq!(keys.sessions("sample"), "px:{sample}:sessions");
        assert_eq!(keys.outbound("sample", "OB1"), "px:{sample}:out:OB1");
        assert_eq!(keys.scheduled("sample"), "px:{sample}:scheduled");
        assert_eq!(keys.broadcast("sample", "BC1"), "px:{sample}:broadcast:BC1");
        assert_eq!(
            keys.broadcast_texts("sample", "BC1"),
            "px:{sample}:broadcast:BC1:texts"
        );
        assert_eq!(keys.idempotency("sample", "ab"), "px:{sample}:idem:ab");
    }

    /// The architecture document, whose "Redis keys" table this module's tests check.
    const ARCHITECTURE: &str = include_str!("../../docs/architecture.md");
    const TABLE_HEADING: &str = "## Redis keys";

    /// This file's source, to find every builder and the Redis type its doc comment names.
    const SOURCE: &str = include_str!("keys.rs");

    /// Redis types a builder's doc comment may open with, longest first.
    const TYPES: &[&str] = &["Sorted set", "Stream", "String", "List", "Hash", "Set"];

    /// A minute that cannot be mistaken for any other part of a key.
    const MINUTE: u64 = 4_242_424_242;

    /// Every builder, called with the placeholders the document uses, under the default prefix.
    fn documented_keys() -> Vec<(&'static str, String)> {
        let keys = Keys::new("pyrowire");
        let (topic, sid) = ("topic", "{MessageSid}");
        vec![
            ("queue", keys.queue(topic)),
            ("seen", keys.seen(topic, sid)),
            ("record", keys.record(topic, sid)),
            ("completed", keys.completed(topic)),
            ("attempts", keys.attempts(topic, sid)),
            ("send_mark", keys.send_mark(topic, sid, "{kind}")),
            ("sender", keys.sender(topic, "{number}")),
            ("bulk_queue", keys.bulk_queue(topic)),
            ("bulk_sender", keys.bulk_sender(topic, "{number}")),
            ("delivery", keys.delivery(topic, "{OutboundSid}")),
            ("opt_outs", keys.opt_outs(topic)),
            ("rate", keys.rate(topic)),
            ("stats", keys.stats(topic)),
            (
                "minute_stats",
                keys.minute_stats(topic, MINUTE)
                    .replace(&MINUTE.to_string(), "{minute_ms}"),
            ),
            ("dead", keys.dead(topic)),
            ("dead_entry", keys.dead_entry(topic, sid)),
            ("session", keys.session(topic, "{number}")),
            ("sessions", keys.sessions(topic)),
            ("waiting", keys.waiting(topic)),
            ("waiting_job", keys.waiting_job(topic, "{number}")),
            ("events", keys.events(topic)),
            ("events_lease", keys.events_lease(topic)),
            ("outbound", keys.outbound(topic, "{id}")),
            ("scheduled", keys.scheduled(topic)),
            ("broadcast", keys.broadcast(topic, "{id}")),
            ("broadcast_texts", keys.broadcast_texts(topic, "{id}")),
            ("idempotency", keys.idempotency(topic, "{digest}")),
        ]
    }

    /// Each key builder in this file (`pub fn name(&self, ...)`) with the Redis type its doc
    /// comment opens with (`None` when it names none).
    fn builders_in_source() -> Vec<(String, Option<&'static str>)> {
        let mut builders = Vec::new();
        let mut doc: Vec<&str> = Vec::new();
        for line in SOURCE.lines().map(str::trim) {
            if let Some(text) = line.strip_prefix("///") {
                doc.push(text.trim());
                continue;
            }
            if let Some(rest) = line
                .strip_prefix("pub(crate) fn ")
                .or_else(|| line.strip_prefix("pub fn "))
            {
                if let Some((name, args)) = rest.split_once('(') {
                    if args.starts_with("&self") {
                        let first = doc.first().copied().unwrap_or_default();
                        let kind = TYPES.iter().copied().find(|t| {
                            first.strip_prefix(t).is_some_and(|after| {
                                !after.starts_with(|c: char| c.is_alphanumeric())
                            })
                        });
                        builders.push((name.to_string(), kind));
                    }
                }
            }
            doc.clear();
        }
        builders
    }

    /// The rows of the document's key table: (key, type).
    fn table_rows() -> Vec<(String, String)> {
        let mut lines = ARCHITECTURE
            .lines()
            .skip_while(|line| line.trim() != TABLE_HEADING)
            .skip(1)
            .skip_while(|line| !line.trim_start().starts_with('|'));
        let mut rows = Vec::new();
        // The header row and the separator row.
        lines.next();
        lines.next();
        for line in lines.take_while(|line| line.trim_start().starts_with('|')) {
            let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
            assert!(cells.len() >= 2, "a key table row without a type: {line}");
            let key = cells[0].trim().trim_matches('`').to_string();
            rows.push((key, cells[1].trim().to_string()));
        }
        rows
    }

    #[test]
    fn every_builder_has_a_documented_sample_and_a_redis_type() {
        // Arrange
        let mut sampled: Vec<&str> = documented_keys().iter().map(|(name, _)| *name).collect();
        sampled.sort_unstable();

        // Act
        let builders = builders_in_source();
        let mut found: Vec<&str> = builders.iter().map(|(name, _)| name.as_str()).collect();
        found.sort_unstable();

        // Assert
        assert_eq!(
            found, sampled,
            "every key builder needs a sample in `documented_keys` and a row in docs/architecture.md"
        );
        for (name, kind) in &builders {
            assert!(
                kind.is_some(),
                "the doc comment of `Keys::{name}` must open with its Redis type ({TYPES:?})"
            );
        }
    }

    #[test]
    fn the_architecture_key_table_matches_the_keys_built_here() {
        // Arrange
        let types: std::collections::HashMap<String, &str> = builders_in_source()
            .into_iter()
            .filter_map(|(name, kind)| Some((name, kind?)))
            .collect();
        let built = documented_keys();

        // Act
        let rows = table_rows();

        // Assert
        assert!(
            !rows.is_empty(),
            "docs/architecture.md has no table under `{TABLE_HEADING}`"
        );
        for (name, key) in &built {
            let documented: Vec<&(String, String)> =
                rows.iter().filter(|(k, _)| k == key).collect();
            assert_eq!(
                documented.len(),
                1,
                "`Keys::{name}` builds `{key}`: docs/architecture.md needs exactly one row for it"
            );
            let expected = types.get(*name).map(|t| t.to_lowercase());
            assert_eq!(
                Some(&documented[0].1),
                expected.as_ref(),
                "the Redis type of `{key}` in docs/architecture.md differs from `Keys::{name}`'s doc comment"
            );
        }
        for (key, _) in &rows {
            assert!(
                built.iter().any(|(_, k)| k == key),
                "docs/architecture.md lists `{key}`, which no `Keys` builder makes"
            );
        }
        assert!(
            ARCHITECTURE.contains(&format!("consumer group `{GROUP}`")),
            "docs/architecture.md must name the consumer group `{GROUP}`"
        );
    }
}
