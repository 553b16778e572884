//! Quiet hours at the outbox: a text due outside its topic's `send_window` (in the recipient's
//! local time, see [`crate::domain::window`]) is held until the window next opens, as a
//! scheduled text; a worker that reaches a queued text once the window has closed puts it back
//! the same way (`hold.lua`). Replies are never held.

use std::sync::LazyLock;

use crate::domain::window::{zone_named, TopicWindow};
use crate::domain::NewText;
use crate::store::connection::RedisConn;
use crate::store::keys::{Keys, GROUP};

/// A text that reaches a worker this little before the window opens is not held again.
const HOLD_SLACK_MS: u64 = 1_000;

/// Sets `held_until` on every text of `texts` due while `window` is closed for its recipient.
pub(crate) fn hold(texts: &mut [NewText], window: Option<&TopicWindow>, now: u64) {
    let Some(window) = window else {
        return;
    };
    for text in texts {
        let due = text.send_at.unwrap_or(now).max(now);
        let opens = opening(window, text.to.as_str(), text.timezone.as_deref(), due);
        text.held_until = (opens > due).then_some(opens);
    }
}

/// When the window opens for `to` (in `timezone`, when given and known) from `due` on.
fn opening(window: &TopicWindow, to: &str, timezone: Option<&str>, due: u64) -> u64 {
    let zone = timezone.and_then(|name| zone_named(name).ok());
    window.opening(to, zone.as_ref(), due).0
}

/// When a queued text to `to` must wait for, if the window is closed for it at `now`.
pub(crate) fn closed_until(
    window: &TopicWindow,
    to: &str,
    timezone: Option<&str>,
    now: u64,
) -> Option<u64> {
    let opens = opening(window, to, timezone, now);
    (opens > now + HOLD_SLACK_MS).then_some(opens)
}

static HOLD: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(HOLD_LUA));
const HOLD_LUA: &str = include_str!("hold.lua");

/// A queued text a worker puts back until its window opens.
#[derive(Debug)]
pub(crate) struct Held {
    /// Its topic.
    pub topic: String,
    /// Its id.
    pub id: String,
    /// Its recipient.
    pub to: String,
    /// Its stream entry.
    pub entry_id: String,
    /// The lane it was read from.
    pub lane: crate::domain::Lane,
    /// Its job, as JSON.
    pub job: String,
    /// When the window opens (ms since the epoch).
    pub until: u64,
    /// How long its status is kept after that (seconds).
    pub record_ttl_s: u64,
}

/// Takes the text out of the queue and schedules it for `held.until`, in one script call.
pub(crate) async fn put_back(
    conn: &mut RedisConn,
    keys: &Keys,
    held: &Held,
) -> redis::RedisResult<()> {
    let script_keys = [
        keys.lane_queue(&held.topic, held.lane),
        keys.lane_sender(&held.topic, &held.to, held.lane),
        keys.outbound(&held.topic, &held.id),
        keys.scheduled(&held.topic),
    ];
    let args: Vec<Vec<u8>> = [
        held.entry_id.to_string(),
        GROUP.to_string(),
        format!("{}|{}", held.id, held.to),
        held.until.to_string(),
        held.job.clone(),
        held.record_ttl_s.to_string(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect();
    let _: i64 = conn
        .run_script(&HOLD, HOLD_LUA, &script_keys, &args)
        .await
        .map_err(|e| e.into_redis("a held text was put back but not confirmed by replicas"))?;
    Ok(())
}
