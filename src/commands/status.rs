//! `pyrowire status`: each topic's queue depth, in-flight jobs, totals, dead letters, live
//! sessions and recent rates, read from Redis, for people without the dashboard.

use std::fmt::Write;

use crate::metrics::RedisEvents;
use crate::settings::Settings;
use crate::store::connection::{connect, COMMAND_TIMEOUT};
use crate::store::keys::Keys;
use crate::store::overview::{overview, TopicOverview};
use crate::store::target::RedisTarget;

/// Why the status could not be read.
#[derive(Debug, thiserror::Error)]
#[error("failed to read status from redis at {url}")]
pub struct StatusError {
    /// The Redis URL, password removed.
    url: String,
    /// What Redis or the connection said.
    #[source]
    source: redis::RedisError,
}

/// One topic's line of `pyrowire status` (and of `--json`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TopicStatus {
    /// The topic.
    pub topic: String,
    /// Jobs waiting or running (the queue depth).
    pub queued: u64,
    /// Bulk texts waiting or running (the bulk queue's depth; JSON only).
    pub bulk_queued: u64,
    /// Jobs taken by a worker, not yet finished.
    pub in_flight: u64,
    /// Jobs completed, in total.
    pub completed: u64,
    /// Jobs dead-lettered, in total (`dead` in the table).
    pub dead_lettered: u64,
    /// Senders whose session has not expired.
    pub sessions: u64,
    /// Messages completed in the current minute.
    pub completed_last_minute: u64,
    /// Messages completed in the last five minutes.
    pub completed_last_5_minutes: u64,
    /// Events waiting for the topic's `events_url` (`events` in the table).
    pub events_backlog: u64,
    /// Seconds since the oldest waiting event happened.
    pub events_oldest_age_s: u64,
    /// Events dropped because the backlog was full, in total.
    pub events_dropped: u64,
}

/// What `pyrowire status` shows: every topic, in settings order.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusReport {
    /// One entry per topic.
    pub topics: Vec<TopicStatus>,
}

/// Reads every topic's status and formats it as a table.
pub fn status(settings: &Settings) -> Result<String, StatusError> {
    status_report(settings).map(|report| report.table())
}

/// Reads every topic's status.
pub fn status_report(settings: &Settings) -> Result<StatusReport, StatusError> {
    let (target, url) = RedisTarget::for_tools_named(&settings.profile);
    let keys = Keys::new(settings.profile.redis_prefix.clone());
    let topics: Vec<String> = settings.topics.keys().cloned().collect();
    let redis_error = |source| StatusError { url, source };
    let snapshot = actix_rt::System::new().block_on(async {
        let mut conn = connect(&target?, COMMAND_TIMEOUT, RedisEvents::default()).await?;
        overview(&mut conn, &keys, &topics).await
    });
    let snapshot = snapshot.map_err(redis_error)?;
    let topics = snapshot.topics.iter().map(|topic| {
        let (last, five) = rates(topic);
        TopicStatus {
            topic: topic.name.clone(),
            queued: topic.queue_depth,
            bulk_queued: topic.bulk_depth,
            in_flight: topic.in_flight,
            completed: topic.completed,
            dead_lettered: topic.dead_lettered,
            sessions: topic.sessions,
            completed_last_minute: last,
            completed_last_5_minutes: five,
            events_backlog: topic.events_backlog,
            events_oldest_age_s: topic.events_oldest_age_s,
            events_dropped: topic.events_dropped,
        }
    });
    Ok(StatusReport {
        topics: topics.collect(),
    })
}

impl StatusReport {
    /// The report as the table `pyrowire status` prints.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<20} {:>8} {:>9} {:>10} {:>6} {:>8} {:>9} {:>9} {:>7}",
            "topic",
            "queued",
            "in flight",
            "completed",
            "dead",
            "sessions",
            "last min",
            "last 5m",
            "events"
        );
        for t in &self.topics {
            let _ = writeln!(
                out,
                "{:<20} {:>8} {:>9} {:>10} {:>6} {:>8} {:>9} {:>9} {:>7}",
                t.topic,
                t.queued,
                t.in_flight,
                t.completed,
                t.dead_lettered,
                t.sessions,
                t.completed_last_minute,
                t.completed_last_5_minutes,
                t.events_backlog
            );
        }
        let _ = writeln!(
            out,
            "(sessions: senders whose session has not expired; last min / last 5m: messages \
             completed in that time; events: waiting for the topic's events_url)"
        );
        for t in self.topics.iter().filter(|t| t.events_dropped > 0) {
            let _ = writeln!(
                out,
                "{}: {} events dropped in total (the backlog was full)",
                t.topic, t.events_dropped
            );
        }
        out
    }
}

/// Completed in the current minute and in the last five minutes.
fn rates(topic: &TopicOverview) -> (u64, u64) {
    let history = &topic.history;
    let last = history.last().map_or(0, |m| m.completed);
    let five = history.iter().rev().take(5).map(|m| m.completed).sum();
    (last, five)
}
