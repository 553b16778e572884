//! Queueing checked texts for `pyrowire send`: the connection to the profile's Redis, and a
//! CSV's rows in batches of [`CSV_BATCH`], each batch all or nothing, counted by how the enqueue
//! script answered each row.

use indicatif::ProgressBar;

use super::rows::Sheet;
use super::{invalid, SendError};
use crate::domain::{NewText, OutboundStatus};
use crate::metrics::RedisEvents;
use crate::outbound::outbox::{self, OutboxError};
use crate::settings::Settings;
use crate::store::connection::{connect, RedisConn, COMMAND_TIMEOUT};
use crate::store::keys::Keys;
use crate::store::limits::QueueLimits;
use crate::store::target::RedisTarget;

/// Rows per script call. Each call holds Redis while it runs (about 35 µs a text), so a
/// broadcast goes in small steps that webhooks on the same Redis slip between; every row has its
/// own idempotency key, so a run stopped between batches is finished by running it again.
pub(super) const CSV_BATCH: usize = crate::outbound::outbox::CHUNK_TEXTS;

/// How the script answered for each row.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub(super) queued: u64,
    pub(super) scheduled: u64,
    pub(super) opted_out: u64,
    /// Answered `duplicate`: queued by an earlier run.
    pub(super) duplicates: u64,
}

impl Tally {
    fn count(&mut self, answer: &[(String, String, String)]) {
        for (_, _, status) in answer {
            match status.as_str() {
                "scheduled" => self.scheduled += 1,
                "opted_out" => self.opted_out += 1,
                "duplicate" => self.duplicates += 1,
                // `queued`, the script's one other answer.
                _ => self.queued += 1,
            }
        }
    }

    fn rows(&self) -> u64 {
        self.queued + self.scheduled + self.opted_out + self.duplicates
    }
}

/// A checked CSV on its way into Redis.
pub(super) struct CsvRun<'a> {
    pub(super) topic: &'a str,
    pub(super) sheet: &'a Sheet<'a>,
    pub(super) name: &'a str,
    pub(super) total: u64,
    pub(super) progress: &'a ProgressBar,
}

impl CsvRun<'_> {
    /// Queues the rows batch by batch, each batch all or nothing.
    pub(super) async fn queue(&self, settings: &Settings, now: u64) -> Result<Tally, SendError> {
        let mut queuer = Queuer::connect(settings, self.topic).await?;
        let mut tally = Tally::default();
        let mut rows = self.sheet.rows(now);
        loop {
            // Every row was checked on the same bytes, so none fails here.
            let batch: Vec<NewText> = rows
                .by_ref()
                .take(CSV_BATCH)
                .collect::<Result<_, _>>()
                .map_err(|p| invalid(vec![p], "stopped queueing"))?;
            if batch.is_empty() {
                return Ok(tally);
            }
            let answer = queuer.queue(&batch).await.map_err(|source| {
                let what = format!(
                    "the rows of `{}` on `{}` at {} ({} of {} rows were queued before; the \
                     same command run again queues only the rest)",
                    self.name,
                    self.topic,
                    queuer.url,
                    tally.rows(),
                    self.total
                );
                SendError::Queue { what, source }
            })?;
            tally.count(&answer);
            self.progress.inc(batch.len() as u64);
        }
    }
}

/// A connection to the profile's Redis and what a batch is queued with.
pub(super) struct Queuer {
    conn: RedisConn,
    keys: Keys,
    limits: QueueLimits,
    topic: String,
    /// The topic's `send_window`, if any.
    window: Option<crate::domain::window::TopicWindow>,
    /// The Redis URL, password removed, for messages.
    pub(super) url: String,
}

impl Queuer {
    pub(super) async fn connect(settings: &Settings, topic: &str) -> Result<Queuer, SendError> {
        let profile = &settings.profile;
        let (target, url) = RedisTarget::for_tools_named(profile);
        let conn = match target {
            Ok(target) => connect(&target, COMMAND_TIMEOUT, RedisEvents::default()).await,
            Err(error) => Err(error),
        };
        let conn = conn.map_err(|source| SendError::Connect {
            url: url.clone(),
            source,
        })?;
        Ok(Queuer {
            conn,
            keys: Keys::new(profile.redis_prefix.clone()),
            limits: QueueLimits::of(profile),
            topic: topic.to_string(),
            window: settings.topics.get(topic).and_then(|t| t.window()),
            url,
        })
    }

    /// One batch, all or nothing: each text's id, recipient and the script's status.
    pub(super) async fn queue(
        &mut self,
        texts: &[NewText],
    ) -> Result<Vec<(String, String, String)>, OutboxError> {
        let mut texts = texts.to_vec();
        crate::outbound::window::hold(&mut texts, self.window.as_ref(), crate::domain::now_ms());
        outbox::enqueue(&mut self.conn, &self.keys, &self.topic, &texts, self.limits).await
    }

    /// A text's status now (`None` when it is gone or Redis failed: only for a message).
    pub(super) async fn status(&mut self, id: &str) -> Option<OutboundStatus> {
        let view =
            crate::outbound::lookup::lookup(&mut self.conn, &self.keys, &self.topic, id).await;
        view.ok().flatten().map(|view| view.status)
    }
}
