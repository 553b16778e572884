//! Delivery status of sent messages, from Twilio's answer and its status callbacks. Callbacks
//! arrive out of order, so a status only moves forward: a late `sent` never overwrites
//! `delivered`. Kept per outbound message in [`crate::store::keys::Keys::delivery`].

use std::sync::LazyLock;

use redis::Script;

/// Both scripts open with `status_fn.lua`, the function that moves a delivery hash forward.
macro_rules! with_status_fn {
    ($script:literal) => {
        concat!(include_str!("status_fn.lua"), include_str!($script))
    };
}

/// See `record_status.lua`.
static RECORD_STATUS: LazyLock<Script> =
    LazyLock::new(|| Script::new(with_status_fn!("record_status.lua")));

/// See `store_sent.lua`.
pub(crate) static STORE_SENT: LazyLock<Script> =
    LazyLock::new(|| Script::new(with_status_fn!("store_sent.lua")));

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
