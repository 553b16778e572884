//! Events to the application (`events_url`, `events_secret`): what happened to its texts and its
//! numbers, POSTed as JSON signed the Standard Webhooks way.
//!
//! ```text
//! status callback ─► Recorder ─ record_status.lua ─┐
//! STOP / START ────► Recorder ─ opt_out.lua ───────┼─► {topic}:events (Stream, in the same
//! Twilio 21610 ────► Sender ─── opt_out.lua ───────┤   script or MULTI as the change itself)
//! dead letter ─────► Recorder ─ MULTI + emit ──────┘            │
//!                                                               ▼
//!            EventsDispatcher (one per worker process; per topic, the holder of
//!            {topic}:events:lease) ─ XRANGE oldest ─► POST events_url ─► 2xx: XDEL
//!                                                          └─ else: again after a backoff,
//!                                                             same webhook-id, number waits
//! ```
//!
//! An event is written exactly when its change is (`emit_fn.lua`), delivered at least once (a
//! crash between the POST and the XDEL sends it again, under the same `webhook-id`), in order per
//! number (a number's next event waits until the one before it was taken), and never in the way
//! of webhooks or replies: the dispatcher only reads the stream and posts from its own actor.

mod dispatcher;
mod event;
mod lease;
mod post;
mod secret;
mod turns;

pub(crate) use dispatcher::{EventsDispatcher, EventsTopic};
pub(crate) use event::{Emit, EventKind, StreamEntries, MAX_BACKLOG};
pub(crate) use secret::EventsKey;

/// The Lua function the scripts that emit an event open with.
pub(crate) const EMIT_FN: &str = include_str!("emit_fn.lua");

/// Logs an event the topic's stream had no room for (`emit_event` answered -1); the scripts
/// count it in the topic's `events_dropped`.
pub(crate) fn note_emitted(answer: i64, topic: &str, kind: &str) {
    if answer < 0 {
        log::warn!(
            "Event dropped: the topic's event backlog is full ({MAX_BACKLOG}); is its events_url answering? topic={topic} type={kind}"
        );
    }
}
