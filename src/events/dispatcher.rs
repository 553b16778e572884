//! `EventsDispatcher`: delivers the events of the topics worked in this process that have an
//! `events_url`. Per topic, only the holder of the topic's lease delivers (so a number's events
//! go out in order across processes); it reads the oldest [`WINDOW`] events, posts each number's
//! oldest one (at most [`MAX_IN_FLIGHT`] at once), deletes each the endpoint took, and tries a
//! failed one again after a backoff (1 s, doubling, at most [`MAX_BACKOFF`]) under the same
//! `webhook-id` while that number's later events wait. It reads again four times a second, and
//! at once after a delivery, while there is work.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, ActorFutureExt, AsyncContext, Context, WrapFuture};

use super::event::{StoredEvent, StreamEntries};
use super::lease;
use super::post::{client, post};
use super::secret::EventsKey;
use super::turns::{ready, Standing};
use crate::errors::Chain;
use crate::metrics::Metrics;
use crate::store::connection::RedisConn;
use crate::store::keys::Keys;

/// How often each topic's events are looked for when nothing is going on.
pub(crate) const TICK: Duration = Duration::from_millis(250);

/// How many of the oldest events one read takes.
pub(crate) const WINDOW: usize = 512;

/// Most events of one topic posted at once.
pub(crate) const MAX_IN_FLIGHT: usize = 32;

/// Longest wait before an event is tried again.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// One topic whose events this process may deliver.
pub(crate) struct EventsTopic {
    /// The topic.
    pub name: String,
    /// Its `events_url`.
    pub url: String,
    /// Its key (`events_secret`).
    pub key: EventsKey,
}

/// How a failed event stands.
struct Retry {
    attempts: u32,
    next: Instant,
}

/// One topic's delivery, in this process.
struct TopicState {
    topic: EventsTopic,
    url: Arc<str>,
    key: Arc<EventsKey>,
    stream: String,
    lease: String,
    reading: bool,
    /// Reads started so far: a deletion done before a read started is seen by it.
    reads: u64,
    in_flight: HashSet<String>,
    retries: HashMap<String, Retry>,
    /// Events the endpoint took: `None` while their deletion runs, then the reads count when it
    /// was done (a read started after that no longer returns them).
    taken: HashMap<String, Option<u64>>,
}

impl TopicState {
    fn standing(&self, event: &StoredEvent, now: Instant) -> Standing {
        if self.taken.contains_key(&event.entry) {
            return Standing::Taken;
        }
        if self.in_flight.contains(&event.entry) {
            return Standing::Busy;
        }
        match self.retries.get(&event.entry) {
            Some(retry) if retry.next > now => Standing::Busy,
            _ => Standing::Ready,
        }
    }
}

/// Delivers events of some topics.
pub(crate) struct EventsDispatcher {
    conn: RedisConn,
    consumer: String,
    metrics: Metrics,
    topics: Vec<TopicState>,
    http: Option<awc::Client>,
}

impl EventsDispatcher {
    /// A dispatcher for `topics`, as the process `consumer` (its lease holder name).
    pub(crate) fn new(
        conn: RedisConn,
        keys: &Keys,
        consumer: String,
        metrics: Metrics,
        topics: Vec<EventsTopic>,
    ) -> Self {
        let topics = topics
            .into_iter()
            .map(|topic| TopicState {
                url: topic.url.as_str().into(),
                key: Arc::new(topic.key.clone()),
                stream: keys.events(&topic.name),
                lease: keys.events_lease(&topic.name),
                topic,
                reading: false,
                reads: 0,
                in_flight: HashSet::new(),
                retries: HashMap::new(),
                taken: HashMap::new(),
            })
            .collect();
        EventsDispatcher {
            conn,
            consumer,
            metrics,
            topics,
            http: None,
        }
    }

    /// Reads topic `index`'s oldest events (holding its lease) unless a read runs.
    fn read(&mut self, index: usize, ctx: &mut Context<Self>) {
        let state = &mut self.topics[index];
        if state.reading {
            return;
        }
        state.reading = true;
        state.reads += 1;
        let started = state.reads;
        let (mut conn, me) = (self.conn.clone(), self.consumer.clone());
        let (stream, lease) = (state.stream.clone(), state.lease.clone());
        let reading = async move {
            if !lease::hold(&mut conn, &lease, &me).await? {
                return Ok(None);
            }
            let entries: StreamEntries = redis::cmd("XRANGE")
                .arg(&stream)
                .arg("-")
                .arg("+")
                .arg("COUNT")
                .arg(WINDOW)
                .query_async(&mut conn)
                .await?;
            Ok(Some(entries))
        };
        ctx.spawn(
            reading
                .into_actor(self)
                .map(move |read: redis::RedisResult<_>, act, ctx| {
                    let state = &mut act.topics[index];
                    state.reading = false;
                    match read {
                        Ok(Some(entries)) => act.start(index, started, entries, ctx),
                        Ok(None) => {}
                        Err(e) => log::warn!(
                            "Failed to read events; trying again. topic={} error={}",
                            state.topic.name,
                            Chain(&e)
                        ),
                    }
                }),
        );
    }

    /// Posts what the read `started` found that may go now.
    fn start(
        &mut self,
        index: usize,
        started: u64,
        entries: StreamEntries,
        ctx: &mut Context<Self>,
    ) {
        let Some(http) = self.http.clone() else {
            return;
        };
        let state = &mut self.topics[index];
        // Deletions done before this read started are behind it: their events are gone.
        state
            .taken
            .retain(|_, done| done.is_none_or(|reads| reads >= started));
        let window: Vec<StoredEvent> = entries
            .into_iter()
            .map(|(entry, fields)| StoredEvent::from_entry(entry, fields))
            .collect();
        let present: HashSet<&str> = window.iter().map(|e| e.entry.as_str()).collect();
        state
            .retries
            .retain(|entry, _| present.contains(entry.as_str()));
        let now = Instant::now();
        let room = MAX_IN_FLIGHT.saturating_sub(state.in_flight.len());
        let go: Vec<StoredEvent> = ready(&window, |e| state.standing(e, now), room)
            .into_iter()
            .cloned()
            .collect();
        for event in go {
            let state = &mut self.topics[index];
            state.in_flight.insert(event.entry.clone());
            let (url, key) = (state.url.clone(), state.key.clone());
            let (id, body) = (event.webhook_id(), event.body(&state.topic.name));
            let http = http.clone();
            let posting = async move { post(&http, &url, &key, &id, body).await };
            ctx.spawn(
                posting
                    .into_actor(self)
                    .map(move |result, act, ctx| act.posted(index, event, result, ctx)),
            );
        }
    }

    /// What one post did: a taken event is deleted, a failed one waits out its backoff.
    fn posted(
        &mut self,
        index: usize,
        event: StoredEvent,
        result: Result<(), String>,
        ctx: &mut Context<Self>,
    ) {
        let state = &mut self.topics[index];
        state.in_flight.remove(&event.entry);
        let topic = state.topic.name.clone();
        match result {
            Ok(()) => {
                state.retries.remove(&event.entry);
                state.taken.insert(event.entry.clone(), None);
                self.metrics
                    .events_delivered
                    .with_label_values(&[&topic, &event.kind])
                    .inc();
                self.delete(index, event.entry, ctx);
                self.read(index, ctx);
            }
            Err(error) => {
                let retry = state.retries.entry(event.entry.clone()).or_insert(Retry {
                    attempts: 0,
                    next: Instant::now(),
                });
                retry.attempts += 1;
                let wait = backoff(retry.attempts);
                retry.next = Instant::now() + wait;
                self.metrics
                    .events_failed
                    .with_label_values(&[&topic])
                    .inc();
                log::warn!(
                    "Event not taken by the events_url; trying again in {}s. topic={topic} type={} id={} attempt={} error={error}",
                    wait.as_secs(),
                    event.kind,
                    event.webhook_id(),
                    retry.attempts
                );
            }
        }
    }

    /// Deletes an event the endpoint took; if that fails it is posted again later (at least
    /// once).
    fn delete(&mut self, index: usize, entry: String, ctx: &mut Context<Self>) {
        let mut conn = self.conn.clone();
        let stream = self.topics[index].stream.clone();
        let id = entry.clone();
        let deleting = async move {
            redis::AsyncCommands::xdel::<_, _, i64>(&mut conn, &stream, &[&id]).await
        };
        ctx.spawn(deleting.into_actor(self).map(move |result, act, _| {
            let state = &mut act.topics[index];
            match result {
                Ok(_) => {
                    state.taken.insert(entry, Some(state.reads));
                }
                Err(e) => {
                    state.taken.remove(&entry);
                    log::warn!(
                        "Failed to delete a delivered event; it will be delivered again. topic={} error={}",
                        state.topic.name,
                        Chain(&e)
                    );
                }
            }
        }));
    }
}

/// The wait after the `attempts`-th failure: 1 s, doubling, at most [`MAX_BACKOFF`].
pub(crate) fn backoff(attempts: u32) -> Duration {
    let doubled = 1u64 << attempts.saturating_sub(1).min(20);
    Duration::from_secs(doubled).min(MAX_BACKOFF)
}

impl Actor for EventsDispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.http = Some(client(MAX_IN_FLIGHT));
        ctx.run_interval(TICK, |act, ctx| {
            for index in 0..act.topics.len() {
                act.read(index, ctx);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_a_second_to_ten_minutes() {
        let waits: Vec<u64> = (1..=12).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }
}
