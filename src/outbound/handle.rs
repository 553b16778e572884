//! [`Outbox`]: the handle a Rust program uses to queue texts through a running pyrowire, look
//! them up and cancel scheduled ones: the same Redis, topics and durable path as the outbound
//! API.

use super::broadcast::BroadcastView;
use super::lookup::{lookup, OutboundView};
use super::outbox::{queue, Accepted, OutboxError};
use super::schedule::{cancel, Cancelled};
use std::collections::HashMap;

use super::window::hold;
use crate::domain::window::TopicWindow;
use crate::domain::{now_ms, NewText};
use crate::store::connection::RedisConn;
use crate::store::keys::Keys;
use crate::store::limits::QueueLimits;

/// A handle Rust programs use to queue texts through a running pyrowire: the same Redis, the
/// same topics, the same durable path as the outbound API.
#[derive(Clone)]
pub struct Outbox {
    conn: RedisConn,
    keys: Keys,
    limits: QueueLimits,
    /// Each topic's `send_window`, if any.
    topics: HashMap<String, Option<TopicWindow>>,
}

impl Outbox {
    /// Connects to the profile's Redis.
    pub async fn connect(
        settings: &crate::settings::Settings,
    ) -> Result<Outbox, redis::RedisError> {
        let target = crate::store::target::RedisTarget::for_tools(&settings.profile)?;
        let conn = crate::store::connection::connect(
            &target,
            crate::store::connection::COMMAND_TIMEOUT,
            crate::metrics::RedisEvents::default(),
        )
        .await?;
        Ok(Outbox {
            conn,
            keys: Keys::new(settings.profile.redis_prefix.clone()),
            limits: QueueLimits::of(&settings.profile),
            topics: settings
                .topics
                .iter()
                .map(|(name, topic)| (name.clone(), topic.window()))
                .collect(),
        })
    }

    /// Queues `texts` on `topic` (all or none; at most 1000 per call).
    pub async fn send(&self, topic: &str, texts: &[NewText]) -> Result<Vec<Accepted>, OutboxError> {
        let Some(window) = self.topics.get(topic) else {
            return Err(OutboxError::UnknownTopic(topic.to_string()));
        };
        let mut texts = texts.to_vec();
        hold(&mut texts, window.as_ref(), now_ms());
        let mut conn = self.conn.clone();
        queue(&mut conn, &self.keys, topic, &texts, self.limits).await
    }

    /// Queues `texts` on `topic` as one broadcast (all or none; at most 1000 per call): its id
    /// and each text's id and status. `into` continues a broadcast made before (the next 1000
    /// texts of a larger one, or a retry).
    pub async fn broadcast(
        &self,
        topic: &str,
        texts: &[NewText],
        into: Option<&str>,
    ) -> Result<(String, Vec<Accepted>), OutboxError> {
        let id = into.map_or_else(super::broadcast::new_id, str::to_string);
        let texts: Vec<NewText> = texts
            .iter()
            .cloned()
            .map(|mut text| {
                text.broadcast = Some(id.clone());
                text
            })
            .collect();
        let accepted = self.send(topic, &texts).await?;
        Ok((id, accepted))
    }

    /// A broadcast's texts counted by status, if it exists.
    pub async fn broadcast_status(
        &self,
        topic: &str,
        id: &str,
    ) -> redis::RedisResult<Option<BroadcastView>> {
        let mut conn = self.conn.clone();
        super::broadcast::view(&mut conn, &self.keys, topic, id).await
    }

    /// Cancels every text of a broadcast not yet sent: how many it cancelled, `None` for no
    /// such broadcast.
    pub async fn cancel_broadcast(&self, topic: &str, id: &str) -> redis::RedisResult<Option<u64>> {
        let mut conn = self.conn.clone();
        super::broadcast::cancel(&mut conn, &self.keys, topic, id, self.limits.record_ttl_s).await
    }

    /// One text's status, if it exists.
    pub async fn status(&self, topic: &str, id: &str) -> redis::RedisResult<Option<OutboundView>> {
        let mut conn = self.conn.clone();
        lookup(&mut conn, &self.keys, topic, id).await
    }

    /// Cancels a scheduled text.
    pub async fn cancel(&self, topic: &str, id: &str) -> Result<Cancelled, OutboxError> {
        let mut conn = self.conn.clone();
        cancel(&mut conn, &self.keys, topic, id).await
    }
}
