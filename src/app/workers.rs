//! The worker side of a process: the sender and a supervised worker pool per topic worked here,
//! each pool with its own reading connection.

use std::sync::Arc;

use actix::{Actor, Addr};

use crate::actors::pool::{PoolConnections, WorkerPool, READ_BLOCK};
use crate::actors::recorder::{Recorder, Retention};
use crate::actors::scheduler::Scheduler;
use crate::actors::sender::{SenderOptions, TwilioSender};
use crate::actors::worker::WorkerDeps;
use crate::events::{EventsDispatcher, EventsKey, EventsTopic};
use crate::metrics::Metrics;
use crate::settings::{Profile, Settings};
use crate::store::connection::{connect, RedisConn, COMMAND_TIMEOUT};
use crate::store::keys::Keys;
use crate::store::target::RedisTarget;
use crate::topics::Topics;

/// What starting the pools needs from [`App::build`].
pub(super) struct Parts<'a> {
    pub(super) settings: &'a Settings,
    pub(super) target: &'a RedisTarget,
    pub(super) keys: &'a Keys,
    pub(super) shared: &'a RedisConn,
    pub(super) recorder: &'a Addr<Recorder>,
    pub(super) metrics: &'a Metrics,
    /// How opt-outs are written (and which topics send events).
    pub(super) ledger: Arc<crate::store::opt_outs::Ledger>,
}

/// The actors of the worker side.
#[derive(Default)]
pub(super) struct Workers {
    /// A pool per worked topic.
    pub(super) pools: Vec<Addr<WorkerPool>>,
    /// Moves due texts and ended waits to their queues (held, so that it lives on).
    pub(super) _scheduler: Option<Addr<Scheduler>>,
    /// Delivers the worked topics' events, when any has an `events_url` (held too).
    pub(super) _events: Option<Addr<EventsDispatcher>>,
}

/// The worker side: the pools (see [`start_pools`]), the scheduler that moves the worked
/// topics' due texts to their queues, and their events' dispatcher.
pub(super) async fn start_workers(
    parts: &Parts<'_>,
    topics: &Arc<Topics>,
    only: &[String],
) -> redis::RedisResult<Workers> {
    let pools = start_pools(parts, topics, only).await?;
    let worked: Vec<String> = topics
        .keys()
        .filter(|t| only.is_empty() || only.contains(*t))
        .cloned()
        .collect();
    let keep = parts.settings.profile.record_ttl_s;
    let events = start_events(parts, &worked);
    let scheduler = Scheduler::new(parts.shared.clone(), parts.keys.clone(), worked, keep);
    Ok(Workers {
        pools,
        _scheduler: Some(scheduler.start()),
        _events: events,
    })
}

/// Starts the dispatcher of the worked topics' events (those with an `events_url`), if any.
/// Settings validation checked each secret; a topic whose secret still does not parse is left
/// out, logged.
fn start_events(parts: &Parts<'_>, worked: &[String]) -> Option<Addr<EventsDispatcher>> {
    let mut topics = Vec::new();
    for name in worked {
        let Some(settings) = parts.settings.topics.get(name) else {
            continue;
        };
        let (Some(url), Some(secret)) = (&settings.events_url, &settings.events_secret) else {
            continue;
        };
        match EventsKey::parse(secret.expose()) {
            Ok(key) => topics.push(EventsTopic {
                name: name.clone(),
                url: url.clone(),
                key,
            }),
            Err(problem) => {
                log::error!("Events not delivered: events_secret {problem}. topic={name}")
            }
        }
    }
    if topics.is_empty() {
        return None;
    }
    let names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
    log::info!("Delivering events. topics={}", names.join(","));
    let dispatcher = EventsDispatcher::new(
        parts.shared.clone(),
        parts.keys,
        consumer_name(),
        parts.metrics.clone(),
        topics,
    );
    Some(dispatcher.start())
}

/// Starts the sender and a supervised worker pool for each topic worked here (`only`: the
/// topics given with `--topic`; empty means all), each pool with its own reading connection.
async fn start_pools(
    parts: &Parts<'_>,
    topics: &Arc<Topics>,
    only: &[String],
) -> redis::RedisResult<Vec<Addr<WorkerPool>>> {
    let (profile, target, keys) = (&parts.settings.profile, parts.target, parts.keys);
    let (shared, recorder, metrics) = (parts.shared, parts.recorder, parts.metrics);
    let events = metrics.redis.clone();
    let mut pools = Vec::new();
    // The sender has a connection of its own: with `min_replica_acks`, each mark's WAIT
    // holds the connection it runs on, and must not hold up records and heartbeats.
    let sender_conn = if target.min_replica_acks > 0 {
        connect(target, COMMAND_TIMEOUT, events.clone()).await?
    } else {
        shared.clone()
    };
    let sender = TwilioSender::new(
        topics.clone(),
        sender_conn,
        keys.clone(),
        SenderOptions {
            timeout: profile.twilio_timeout(),
            dry_run: profile.dry_run,
            mark_ttl_s: profile.record_ttl_s,
            max_connections: profile.twilio_max_connections,
            metrics: metrics.clone(),
            ledger: parts.ledger.clone(),
        },
    )
    .start();
    let consumer = consumer_name();
    for topic in topics.values() {
        let wanted = only.is_empty() || only.contains(&topic.name);
        if !wanted || topic.settings.workers == 0 {
            continue;
        }
        let reader = connect(target, READ_BLOCK + COMMAND_TIMEOUT, events.clone()).await?;
        let bulk_reader = connect(target, READ_BLOCK + COMMAND_TIMEOUT, events.clone()).await?;
        let deps = WorkerDeps {
            topic: topic.clone(),
            sender: sender.clone(),
            recorder: recorder.clone(),
            consumer: consumer.clone(),
            record_patience: profile.claim_idle(),
            record_ttl_s: profile.record_ttl_s,
            metrics: metrics.clone(),
            status_callback: (!profile.public_url.is_empty()).then(|| {
                format!(
                    "{}/status/{}",
                    profile.public_url.trim_end_matches('/'),
                    topic.name
                )
            }),
        };
        let conns = PoolConnections {
            reader,
            bulk_reader,
            shared: shared.clone(),
        };
        let size = topic.settings.workers;
        pools.push(WorkerPool::new(deps, keys.clone(), conns, size, profile.claim_idle()).start());
    }

    Ok(pools)
}

pub(super) fn retention(profile: &Profile) -> Retention {
    Retention {
        record_ttl_s: profile.record_ttl_s,
        recent: profile.recent_records,
        dead_letter_ttl_s: profile.dead_letter_ttl_s,
        max_dead_letters: profile.max_dead_letters,
    }
}

/// A consumer name unique to this process run: host, pid and a random suffix.
fn consumer_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "pyrowire".into());
    format!(
        "{host}-{}-{:04x}",
        std::process::id(),
        rand::random::<u16>()
    )
}
