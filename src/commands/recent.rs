//! `pyrowire recent TOPIC`: print a topic's latest completed messages from Redis, so that a
//! person can see replies (including dry-run ones) without a Redis client.

use std::fmt::Write;

use redis::Commands;

use super::Direction;
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

/// One record as `pyrowire recent` shows it (numbers masked).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecentEntry {
    /// The inbound MessageSid, or the outbound text's id.
    pub sid: String,
    /// False when the record has expired: nothing but the SID is left.
    pub found: bool,
    /// `inbound` (a message received) or `outbound` (a text sent first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// The sender (inbound) or recipient (outbound), masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// What the sender wrote (inbound).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The reply's text (inbound) or the text sent (outbound).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// The reply's media URLs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<String>,
    /// Every message sent for it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sent: Vec<RecentSend>,
    /// The last error, for a dead letter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Milliseconds from webhook (or queueing) to record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub took_ms: Option<u64>,
}

/// One message sent for a record.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecentSend {
    /// `accept`, `reply`, `reply-N`, `extra-N` or `outbound`.
    pub kind: String,
    /// Twilio's SID (`SMdryrun...` for a dry run).
    pub sid: String,
    /// Twilio's status when it answered (`opted_out`: not sent).
    pub status: Option<String>,
    /// Recorded, not sent (the profile's `dry_run`).
    pub dry_run: bool,
    /// The delivery statuses Twilio reported, oldest first.
    pub history: Vec<String>,
}

/// What `pyrowire recent TOPIC` shows: the newest completed and dead-lettered records.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecentReport {
    /// The topic.
    pub topic: String,
    /// Completed, newest first.
    pub completed: Vec<RecentEntry>,
    /// Dead-lettered, newest first.
    pub dead_lettered: Vec<RecentEntry>,
}

/// The newest `limit` completed records of `topic`, formatted for a terminal.
pub fn recent(settings: &Settings, topic: &str, limit: usize) -> Result<String, RecentError> {
    recent_report(settings, topic, limit).map(|report| report.text())
}

/// The newest `limit` completed and dead-lettered records of `topic`.
pub fn recent_report(
    settings: &Settings,
    topic: &str,
    limit: usize,
) -> Result<RecentReport, RecentError> {
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
    let last = limit.saturating_sub(1) as isize;
    let completed: Vec<String> = conn
        .lrange(keys.completed(topic), 0, last)
        .map_err(redis_error)?;
    let dead: Vec<String> = conn
        .zrevrange(keys.dead(topic), 0, last)
        .map_err(redis_error)?;
    let mut entries = |sids: Vec<String>| -> Result<Vec<RecentEntry>, RecentError> {
        sids.into_iter()
            .map(|sid| {
                let raw: Option<String> =
                    conn.get(keys.record(topic, &sid)).map_err(redis_error)?;
                Ok(
                    match raw.and_then(|r| serde_json::from_str::<Record>(&r).ok()) {
                        Some(record) => {
                            let statuses = delivery_history(&mut conn, &keys, topic, &record);
                            entry(&record, statuses)
                        }
                        None => RecentEntry::expired(sid),
                    },
                )
            })
            .collect()
    };
    Ok(RecentReport {
        topic: topic.to_string(),
        completed: entries(completed)?,
        dead_lettered: entries(dead)?,
    })
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

/// A record as `recent` shows it.
fn entry(record: &Record, statuses: Vec<Option<String>>) -> RecentEntry {
    let message = &record.message;
    let outbound = is_outbound_id(&message.sid);
    let sent = record.sent.iter().zip(statuses).map(|(sent, history)| {
        let history = history.unwrap_or_default();
        RecentSend {
            kind: sent.kind.to_string(),
            sid: sent.sid.clone(),
            status: sent.status.clone(),
            dry_run: sent.dry_run,
            history: history
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        }
    });
    RecentEntry {
        sid: message.sid.to_string(),
        found: true,
        direction: Some(Direction::of(outbound)),
        number: Some(mask_number(&message.number)),
        message: (!outbound).then(|| message.message.clone()),
        reply: record.reply.text.clone(),
        media: record.reply.media_urls.clone(),
        sent: sent.collect(),
        error: record.error.clone(),
        took_ms: Some(record.timings.total_ms()),
    }
}

impl RecentEntry {
    fn expired(sid: String) -> Self {
        RecentEntry {
            sid,
            found: false,
            direction: None,
            number: None,
            message: None,
            reply: None,
            media: Vec::new(),
            sent: Vec::new(),
            error: None,
            took_ms: None,
        }
    }
}

impl RecentReport {
    /// The report as `pyrowire recent` prints it.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (title, entries) in [
            ("completed", &self.completed),
            ("dead-lettered", &self.dead_lettered),
        ] {
            let _ = writeln!(out, "{title} ({} shown, newest first):", entries.len());
            for entry in entries {
                describe(&mut out, entry);
            }
        }
        out
    }
}

fn describe(out: &mut String, entry: &RecentEntry) {
    if !entry.found {
        let _ = writeln!(out, "  {}: record expired", entry.sid);
        return;
    }
    let outbound = entry.direction == Some(Direction::Outbound);
    let number = entry.number.as_deref().unwrap_or_default();
    match &entry.message {
        Some(text) => {
            let _ = writeln!(out, "  {} from {number}: {text:?}", entry.sid);
        }
        None => {
            let _ = writeln!(out, "  {} to {number}: outbound text", entry.sid);
        }
    }
    if let Some(text) = &entry.reply {
        let label = if outbound { "text" } else { "reply" };
        let _ = writeln!(out, "    {label}: {text:?}");
    }
    for url in &entry.media {
        let _ = writeln!(out, "    media: {url}");
    }
    for sent in &entry.sent {
        let how = match (
            sent.dry_run,
            sent.status.as_deref(),
            sent.history.is_empty(),
        ) {
            (true, _, _) => " (dry run, not sent)".to_string(),
            (_, Some("opted_out"), _) => " (not sent: the number opted out)".to_string(),
            (_, _, false) => format!(" ({})", sent.history.join(" → ")),
            _ => String::new(),
        };
        let _ = writeln!(out, "    sent {} as {}{how}", sent.kind, sent.sid);
    }
    if let Some(error) = &entry.error {
        let _ = writeln!(out, "    error: {error}");
    }
    let from = if outbound { "queued" } else { "webhook" };
    let took = entry.took_ms.unwrap_or_default();
    let _ = writeln!(out, "    took {took} ms from {from} to record");
}
