//! Delivery status of sent messages, from Twilio's answer and its status callbacks. Callbacks
//! arrive out of order, so a status only moves forward: a late `sent` never overwrites
//! `delivered`. Kept per outbound message in [`crate::store::keys::Keys::delivery`].

use std::sync::LazyLock;

use redis::Script;

/// The functions the delivery scripts open with: `status_fn.lua` moves a delivery hash forward,
/// `sent_fn.lua` stores a sent message (the recorder's completion opens with them too).
pub(crate) const SENT_FNS: &str =
    concat!(include_str!("status_fn.lua"), include_str!("sent_fn.lua"));

/// See `record_status.lua`.
static RECORD_STATUS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
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

/// Builds the script invocation that records `status` for one outbound message; with
/// `known_only`, only for a SID whose send was stored (see `record_status.lua`).
pub(crate) fn record_status(
    key: &str,
    status: &str,
    error_code: Option<&str>,
    ttl_s: u64,
    known_only: bool,
) -> redis::ScriptInvocation<'static> {
    let mut invocation = RECORD_STATUS.prepare_invoke();
    invocation
        .key(key)
        .arg(status)
        .arg(rank(status))
        .arg(error_code.unwrap_or_default())
        .arg(crate::domain::clock::now_ms())
        .arg(ttl_s)
        .arg(if known_only { "1" } else { "0" });
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
    /// Reads the script's answer `{moved, to}`.
    pub(crate) fn from_reply((moved, to): (i64, String)) -> Self {
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
