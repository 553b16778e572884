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

/// Reads every topic's status and formats it as a table.
pub fn status(settings: &Settings) -> Result<String, StatusError> {
    let (target, url) = RedisTarget::for_tools_named(&settings.profile);
    let keys = Keys::new(settings.profile.redis_prefix.clone());
    let topics: Vec<String> = settings.topics.keys().cloned().collect();
    let redis_error = |source| StatusError { url, source };
    let snapshot = actix_rt::System::new().block_on(async {
        let mut conn = connect(&target?, COMMAND_TIMEOUT, RedisEvents::default()).await?;
        overview(&mut conn, &keys, &topics).await
    });
    let snapshot = snapshot.map_err(redis_error)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<20} {:>8} {:>9} {:>10} {:>6} {:>8} {:>9} {:>9}",
        "topic", "queued", "in flight", "completed", "dead", "sessions", "last min", "last 5m"
    );
    for topic in &snapshot.topics {
        let (last, five) = rates(topic);
        let _ = writeln!(
            out,
            "{:<20} {:>8} {:>9} {:>10} {:>6} {:>8} {:>9} {:>9}",
            topic.name,
            topic.queue_depth,
            topic.in_flight,
            topic.completed,
            topic.dead_lettered,
            topic.sessions,
            last,
            five
        );
    }
    let _ = writeln!(
        out,
        "(sessions: senders whose session has not expired; last min / last 5m: messages \
         completed in that time)"
    );
    Ok(out)
}

/// Completed in the current minute and in the last five minutes.
fn rates(topic: &TopicOverview) -> (u64, u64) {
    let history = &topic.history;
    let last = history.last().map_or(0, |m| m.completed);
    let five = history.iter().rev().take(5).map(|m| m.completed).sum();
    (last, five)
}
