//! Delivery status of sent messages, from Twilio's answer and its status callbacks. Callbacks
//! arrive out of order, so a status only moves forward: a late `sent` never overwrites
//! `delivered`. Kept per outbound message in [`crate::store::keys::Keys::delivery`].

use std::sync::LazyLock;

use redis::Script;

use crate::events::{Emit, EventKind, EMIT_FN};

/// The functions the delivery scripts open with: `status_fn.lua` moves a delivery hash forward,
/// `sent_fn.lua` stores a sent message (the recorder's completion opens with them too).
pub(crate) const SENT_FNS: &str =
    concat!(include_str!("status_fn.lua"), include_str!("sent_fn.lua"));

/// See `record_status.lua` (after `status_fn.lua` and `emit_fn.lua`).
static RECORD_STATUS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{}{EMIT_FN}{}",
        include_str!("status_fn.lua"),
        include_str!("record_status.lua")
    ))
});

/// See `store_sent.lua`.
static STORE_SENT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{SENT_FNS}{}", include_str!("store_sent.lua"))));

/// A sent message's Twilio SID and first status, to store on its send marker and delivery hash:
/// with the job's completion (one call with its record), or, when the attempt failed after it,
/// on its own ([`store_sent`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SidStore {
    /// The send marker.
    pub(crate) mark: String,
    /// The delivery hash.
    pub(crate) delivery: String,
    /// Twilio's SID.
    pub(crate) sid: String,
    /// Twilio's status, or empty.
    pub(crate) status: String,
    /// Twilio's `num_segments`, or empty.
    pub(crate) segments: String,
    /// The recipient.
    pub(crate) to: String,
    /// The job it was sent for (an inbound MessageSid, an outbound id, a reply-timeout id).
    pub(crate) job: String,
}

impl SidStore {
    /// The five script arguments of one send (sid, status, segments, rank, recipient), as
    /// `sent_fn.lua` takes them.
    pub(crate) fn args(&self) -> [String; 5] {
        [
            self.sid.clone(),
            self.status.clone(),
            self.segments.clone(),
            rank(&self.status).to_string(),
            self.to.clone(),
        ]
    }
}

/// Stores `sends`, one script call each (the failure path: a completed job's sends go with its
/// record), each kept for `ttl_s`.
pub(crate) async fn store_sent(
    conn: &mut crate::store::connection::RedisConn,
    sends: &[SidStore],
    ttl_s: u64,
) -> redis::RedisResult<()> {
    let now = crate::domain::clock::now_ms();
    for send in sends {
        let [sid, status, segments, rank, to] = send.args();
        STORE_SENT
            .key(&send.mark)
            .key(&send.delivery)
            .arg(sid)
            .arg(status)
            .arg(segments)
            .arg(ttl_s)
            .arg(rank)
            .arg(now)
            .arg(to)
            .arg(&send.job)
            .invoke_async::<i64>(conn)
            .await?;
    }
    Ok(())
}

/// How far along a status is; a status with a lower or equal rank does not replace a higher one.
/// Final statuses share the top ranks, so the first final status wins.
pub(crate) fn rank(status: &str) -> u8 {
    match status {
        "accepted" | "scheduled" => 1,
        "queued" => 2,
        "sending" => 3,
        "sent" => 4,
        "partially_delivered" => 5,
        "delivered" | "undelivered" | "failed" | "canceled" => 6,
        "read" => 7,
        _ => 0,
    }
}

/// One status callback to record (see [`record_status`]).
pub(crate) struct StatusUpdate<'a> {
    /// The outbound message's delivery hash.
    pub(crate) delivery: String,
    /// The topic's event stream and totals.
    pub(crate) events: [String; 2],
    /// Twilio's SID of the message.
    pub(crate) sid: &'a str,
    /// Its status.
    pub(crate) status: &'a str,
    /// Twilio's error code.
    pub(crate) error_code: Option<&'a str>,
    /// The callback's `To`, for an event when the send stored no recipient.
    pub(crate) to: Option<&'a str>,
    /// Whether the topic sends events (`events_url`).
    pub(crate) emit: bool,
}

/// Builds the script invocation that records a status callback for one outbound message; with
/// `known_only`, only for a SID whose send was stored (see `record_status.lua`). A final status
/// (delivered, undelivered, failed) that moved is an event too when `update.emit`.
pub(crate) fn record_status(
    update: &StatusUpdate<'_>,
    ttl_s: u64,
    known_only: bool,
) -> redis::ScriptInvocation<'static> {
    let now = crate::domain::clock::now_ms();
    let event = match EventKind::of_status(update.status) {
        Some(kind) if update.emit => Emit {
            number: update.to.unwrap_or_default().to_string(),
            twilio_sid: update.sid.to_string(),
            status: update.status.to_string(),
            error_code: update.error_code.unwrap_or_default().to_string(),
            ..Emit::of(true, kind)
        },
        _ => Emit::none(),
    };
    let mut invocation = RECORD_STATUS.prepare_invoke();
    invocation
        .key(&update.delivery)
        .key(&update.events[0])
        .key(&update.events[1])
        .arg(update.status)
        .arg(rank(update.status))
        .arg(update.error_code.unwrap_or_default())
        .arg(now)
        .arg(ttl_s)
        .arg(if known_only { "1" } else { "0" })
        .arg(&event.args(now)[..]);
    invocation
}

/// What recording a status callback did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeliveryRecorded {
    /// The SID is not one pyrowire stored, and only stored ones were taken: nothing was written.
    Unknown,
    /// Recorded (or older than what was stored); `to` is the recipient stored with the send.
    Recorded {
        /// The recipient, when the send stored one.
        to: Option<String>,
    },
}

impl DeliveryRecorded {
    /// Reads the script's answer `{moved, to, event}` (the event's outcome logged).
    pub(crate) fn from_reply((moved, to, event): (i64, String, i64), topic: &str) -> Self {
        if event < 0 {
            crate::events::note_emitted(event, topic, "message.*");
        }
        if moved < 0 {
            DeliveryRecorded::Unknown
        } else {
            DeliveryRecorded::Recorded {
                to: Some(to).filter(|to| !to.is_empty()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_only_move_forward() {
        assert!(rank("queued") < rank("sent"));
        assert!(rank("sent") < rank("delivered"));
        assert_eq!(rank("delivered"), rank("failed"));
        assert!(rank("delivered") < rank("read"));
        assert_eq!(rank("bogus"), 0);
    }
}
