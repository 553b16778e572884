//! `pyrowire recent TOPIC`: print a topic's latest completed messages from Redis, so that a
//! person can see replies (including dry-run ones) without a Redis client.

use std::fmt::Write;

use redis::Commands;

use crate::domain::record::Record;
use crate::domain::{is_outbound_id, mask_number};
use crate::settings::Settings;
use crate::store::blocking::{connect_for_tools, BlockingConn};
use crate::store::keys::Keys;

/// Why the records could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecentError {
    /// No such topic in the settings.
    #[error("unknown topic `{0}`")]
    UnknownTopic(String),
    /// Redis could not be read.
    #[error("failed to read records from redis at {url}")]
    Redis {
        /// The Redis URL, password removed.
        url: String,
        /// What Redis or the connection said.
        #[source]
        source: redis::RedisError,
    },
}

/// The newest `limit` completed records of `topic`, formatted for a terminal.
pub fn recent(settings: &Settings, topic: &str, limit: usize) -> Result<String, RecentError> {
    if !settings.topics.contains_key(topic) {
        return Err(RecentError::UnknownTopic(topic.to_string()));
    }
    let (conn, url) = connect_for_tools(&settings.profile);
    let redis_error = |source| RecentError::Redis {
        url: url.clone(),
        source,
    };
    let mut conn = conn.map_err(redis_error)?;
    let keys = Keys::new(settings.profile.redis_prefix.clone());
    let mut out = String::new();
    let last = limit.saturating_sub(1) as isize;
    let completed: Vec<String> = conn
        .lrange(keys.completed(topic), 0, last)
        .map_err(redis_error)?;
    let dead: Vec<String> = conn
        .zrevrange(keys.dead(topic), 0, last)
        .map_err(redis_error)?;
    for (title, sids) in [("completed", completed), ("dead-lettered", dead)] {
        let _ = writeln!(out, "{title} ({} shown, newest first):", sids.len());
        for sid in sids {
            let raw: Option<String> = conn.get(keys.record(topic, &sid)).map_err(redis_error)?;
            match raw.and_then(|r| serde_json::from_str::<Record>(&r).ok()) {
                Some(record) => {
                    let statuses = delivery_history(&mut conn, &keys, topic, &record);
                    describe(&mut out, &record, &statuses)
                }
                None => {
                    let _ = writeln!(out, "  {sid}: record expired");
                }
            }
        }
    }
    Ok(out)
}

/// Each sent message's delivery history (`queued,sent,delivered`), when Twilio reported one.
fn delivery_history(
    conn: &mut BlockingConn,
    keys: &Keys,
    topic: &str,
    record: &Record,
) -> Vec<Option<String>> {
    record
        .sent
        .iter()
        .map(|sent| {
            if sent.sid.is_empty() || sent.dry_run {
                return None;
            }
            conn.hget(keys.delivery(topic, &sent.sid), "history")
                .ok()
                .flatten()
        })
        .collect()
}

fn describe(out: &mut String, record: &Record, statuses: &[Option<String>]) {
    let message = &record.message;
    let outbound = is_outbound_id(&message.sid);
    if outbound {
        let to = mask_number(&message.number);
        let _ = writeln!(out, "  {} to {to}: outbound text", message.sid);
    } else {
        let from = mask_number(&message.number);
        let _ = writeln!(out, "  {} from {from}: {:?}", message.sid, message.message);
    }
    if let Some(text) = &record.reply.text {
        let label = if outbound { "text" } else { "reply" };
        let _ = writeln!(out, "    {label}: {text:?}");
    }
    for url in &record.reply.media_urls {
        let _ = writeln!(out, "    media: {url}");
    }
    for (sent, history) in record.sent.iter().zip(statuses) {
        let how = match (sent.dry_run, sent.status.as_deref(), history) {
            (true, _, _) => " (dry run, not sent)".to_string(),
            (_, Some("opted_out"), _) => " (not sent: the number opted out)".to_string(),
            (_, _, Some(history)) => format!(" ({})", history.replace(',', " → ")),
            _ => String::new(),
        };
        let _ = writeln!(out, "    sent {} as {}{how}", sent.kind, sent.sid);
    }
    if let Some(error) = &record.error {
        let _ = writeln!(out, "    error: {error}");
    }
    let took = record.timings.total_ms();
    let from = if outbound { "queued" } else { "webhook" };
    let _ = writeln!(out, "    took {took} ms from {from} to record");
}
