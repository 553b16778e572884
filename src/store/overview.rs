//! A snapshot of every topic read from Redis, so it is the same whichever process serves it:
//! queue depth, jobs in flight, running totals, live sessions, the last hour per minute, dead
//! letters and the latest messages (numbers masked). The dashboard's JSON, `pyrowire status` and
//! the queue and session gauges of `/metrics` come from here.

use std::collections::HashMap;

use crate::store::connection::RedisConn;
use redis::AsyncCommands;
use serde::Serialize;

use crate::domain::clock::now_ms;
use crate::domain::record::{DeadLetter, Record};
use crate::domain::{mask_number, MessageSid, SendKind};
use crate::store::keys::{Keys, GROUP};

/// Minutes of history in a snapshot.
pub(crate) const HISTORY_MINUTES: u64 = 60;

/// How many dead letters and recent messages a snapshot lists per topic.
pub(crate) const LISTED: isize = 20;

/// Every topic's snapshot.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Overview {
    /// When it was read (ms).
    pub generated_at: u64,
    /// One entry per topic, in settings order.
    pub topics: Vec<TopicOverview>,
}

/// One topic's snapshot.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TopicOverview {
    /// The topic.
    pub name: String,
    /// Jobs waiting or running in the interactive queue.
    pub queue_depth: u64,
    /// Bulk texts waiting or running.
    pub bulk_depth: u64,
    /// Jobs taken by a worker, not yet finished (both queues).
    pub in_flight: u64,
    /// Jobs completed, in total.
    pub completed: u64,
    /// Jobs dead-lettered, in total.
    pub dead_lettered: u64,
    /// Senders whose session has not expired.
    pub sessions: u64,
    /// Events waiting for the topic's `events_url`.
    pub events_backlog: u64,
    /// Seconds since the oldest waiting event happened (0 when none waits).
    pub events_oldest_age_s: u64,
    /// Events dropped because the backlog was full, in total.
    pub events_dropped: u64,
    /// The last hour, per minute, oldest first.
    pub history: Vec<Minute>,
    /// The newest dead letters.
    pub dead_letters: Vec<DeadSummary>,
    /// The newest completed messages.
    pub recent: Vec<RecentSummary>,
}

/// One minute's counts.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Minute {
    /// Start of the minute (ms).
    pub minute: u64,
    /// Jobs completed in it.
    pub completed: u64,
    /// Jobs dead-lettered in it.
    pub dead_lettered: u64,
}

/// A dead letter as the dashboard shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DeadSummary {
    /// Its MessageSid.
    pub sid: MessageSid,
    /// The sender, masked.
    pub number: String,
    /// The text.
    pub message: String,
    /// When it died (ms).
    pub dead_at: u64,
    /// Every attempt's reason.
    pub reasons: Vec<String>,
}

/// A recent message as the dashboard shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RecentSummary {
    /// Its MessageSid.
    pub sid: MessageSid,
    /// The sender, masked.
    pub number: String,
    /// The text.
    pub message: String,
    /// The reply text, if any.
    pub reply: Option<String>,
    /// `completed` or `dead_lettered`.
    pub outcome: String,
    /// When its record was written (ms).
    pub finished_at: u64,
    /// What was sent: kind, Twilio SID, status.
    pub sent: Vec<SentSummary>,
}

/// One sent message in a summary.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SentSummary {
    /// `reply`, `accept`, ...
    pub kind: SendKind,
    /// Twilio's SID.
    pub sid: String,
    /// The latest status known.
    pub status: Option<String>,
}

/// Reads the snapshot of `topics`.
pub(crate) async fn overview(
    conn: &mut RedisConn,
    keys: &Keys,
    topics: &[String],
) -> redis::RedisResult<Overview> {
    let mut out = Vec::new();
    for topic in topics {
        out.push(topic_overview(conn, keys, topic).await?);
    }
    Ok(Overview {
        generated_at: now_ms(),
        topics: out,
    })
}

/// Queue depth and in-flight jobs of a topic's interactive queue (for the gauges).
pub(crate) async fn depth(
    conn: &mut RedisConn,
    keys: &Keys,
    topic: &str,
) -> redis::RedisResult<(u64, u64)> {
    stream_depth(conn, &keys.queue(topic)).await
}

/// Depth and in-flight jobs of a topic's bulk queue.
pub(crate) async fn bulk_depth(
    conn: &mut RedisConn,
    keys: &Keys,
    topic: &str,
) -> redis::RedisResult<(u64, u64)> {
    stream_depth(conn, &keys.bulk_queue(topic)).await
}

async fn stream_depth(conn: &mut RedisConn, stream: &str) -> redis::RedisResult<(u64, u64)> {
    let answer: redis::RedisResult<(u64, redis::Value)> = redis::pipe()
        .xlen(stream)
        .cmd("XPENDING")
        .arg(stream)
        .arg(GROUP)
        .query_async(conn)
        .await;
    let (depth, pending) = match answer {
        Ok(answer) => answer,
        // No worker has created the group yet (a web-only process, or none started): the jobs
        // queued so far are all waiting, none in flight. The pipeline's error hides its XLEN.
        Err(e) if e.code() == Some("NOGROUP") => (conn.xlen(stream).await?, redis::Value::Nil),
        Err(e) => return Err(e),
    };
    let in_flight = match pending {
        redis::Value::Array(items) => match items.first() {
            Some(redis::Value::Int(n)) => *n as u64,
            _ => 0,
        },
        _ => 0,
    };
    Ok((depth, in_flight))
}

/// Events waiting for the topic's `events_url`, and the age of the oldest (seconds, from its
/// stream id's time).
pub(crate) async fn event_backlog(
    conn: &mut RedisConn,
    keys: &Keys,
    topic: &str,
) -> redis::RedisResult<(u64, u64)> {
    let stream = keys.events(topic);
    let (length, oldest): (u64, crate::events::StreamEntries) = redis::pipe()
        .xlen(&stream)
        .cmd("XRANGE")
        .arg(&stream)
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .query_async(conn)
        .await?;
    let born = oldest
        .first()
        .and_then(|(id, _)| id.split('-').next()?.parse::<u64>().ok());
    let age = born.map_or(0, |ms| now_ms().saturating_sub(ms) / 1000);
    Ok((length, age))
}

/// Sessions not yet expired: the entries of the topic's `sessions` set scored after now. A
/// session past its time may keep its entry until the next save trims the set, so the count
/// goes by the score, not by the set's size.
pub(crate) async fn live_sessions(
    conn: &mut RedisConn,
    keys: &Keys,
    topic: &str,
) -> redis::RedisResult<u64> {
    conn.zcount(keys.sessions(topic), format!("({}", now_ms()), "+inf")
        .await
}

async fn topic_overview(
    conn: &mut RedisConn,
    keys: &Keys,
    topic: &str,
) -> redis::RedisResult<TopicOverview> {
    let (queue_depth, in_flight) = depth(conn, keys, topic).await?;
    let (bulk_depth, bulk_in_flight) = bulk_depth(conn, keys, topic).await?;
    let totals: HashMap<String, u64> = conn.hgetall(keys.stats(topic)).await?;
    let (events_backlog, events_oldest_age_s) = event_backlog(conn, keys, topic).await?;
    let this_minute = now_ms() / 60_000 * 60_000;
    let minutes: Vec<u64> = (0..HISTORY_MINUTES)
        .rev()
        .map(|back| this_minute - back * 60_000)
        .collect();
    let mut pipe = redis::pipe();
    for minute in &minutes {
        pipe.hgetall(keys.minute_stats(topic, *minute));
    }
    let counts: Vec<HashMap<String, u64>> = pipe.query_async(conn).await?;
    let history = minutes
        .iter()
        .zip(counts)
        .map(|(minute, counts)| Minute {
            minute: *minute,
            completed: counts.get("completed").copied().unwrap_or(0),
            dead_lettered: counts.get("dead_lettered").copied().unwrap_or(0),
        })
        .collect();
    Ok(TopicOverview {
        name: topic.to_string(),
        queue_depth,
        bulk_depth,
        in_flight: in_flight + bulk_in_flight,
        completed: totals.get("completed").copied().unwrap_or(0),
        dead_lettered: totals.get("dead_lettered").copied().unwrap_or(0),
        sessions: live_sessions(conn, keys, topic).await?,
        events_backlog,
        events_oldest_age_s,
        events_dropped: totals.get("events_dropped").copied().unwrap_or(0),
        history,
        dead_letters: dead_letters(conn, keys, topic).await?,
        recent: recent(conn, keys, topic).await?,
    })
}

async fn dead_letters(
    conn: &mut RedisConn,
    keys: &Keys,
    topic: &str,
) -> redis::RedisResult<Vec<DeadSummary>> {
    let sids: Vec<String> = conn.zrevrange(keys.dead(topic), 0, LISTED - 1).await?;
    let entries = get_all(
        conn,
        sids.iter().map(|s| keys.dead_entry(topic, s)).collect(),
    )
    .await?;
    Ok(entries
        .into_iter()
        .filter_map(|raw| serde_json::from_str::<DeadLetter>(&raw?).ok())
        .map(|letter| DeadSummary {
            sid: letter.job.message.sid.clone(),
            number: mask_number(&letter.job.message.number),
            message: letter.job.message.message.clone(),
            dead_at: letter.dead_at,
            reasons: letter.reasons,
        })
        .collect())
}

async fn recent(
    conn: &mut RedisConn,
    keys: &Keys,
    topic: &str,
) -> redis::RedisResult<Vec<RecentSummary>> {
    let sids: Vec<String> = conn.lrange(keys.completed(topic), 0, LISTED - 1).await?;
    let records = get_all(conn, sids.iter().map(|s| keys.record(topic, s)).collect()).await?;
    let records: Vec<Record> = records
        .into_iter()
        .filter_map(|raw| serde_json::from_str(&raw?).ok())
        .collect();
    // Every sent message's latest delivery status, in one round trip.
    let mut pipe = redis::pipe();
    for s in records.iter().flat_map(|r| &r.sent) {
        pipe.hget(keys.delivery(topic, &s.sid), "status");
    }
    let latest: Vec<Option<String>> = if pipe.is_empty() {
        Vec::new()
    } else {
        pipe.query_async(conn).await?
    };
    let mut latest = latest.into_iter();
    let summaries = records
        .into_iter()
        .map(|record| {
            let sent = record
                .sent
                .iter()
                .map(|s| SentSummary {
                    kind: s.kind,
                    sid: s.sid.clone(),
                    status: latest.next().flatten().or_else(|| s.status.clone()),
                })
                .collect();
            RecentSummary {
                sid: record.message.sid.clone(),
                number: mask_number(&record.message.number),
                message: record.message.message.clone(),
                reply: record.reply.text.clone(),
                outcome: record.outcome.as_str().to_string(),
                finished_at: record.timings.finished_at,
                sent,
            }
        })
        .collect();
    Ok(summaries)
}

async fn get_all(
    conn: &mut RedisConn,
    keys: Vec<String>,
) -> redis::RedisResult<Vec<Option<String>>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for key in &keys {
        pipe.get(key);
    }
    pipe.query_async(conn).await
}
