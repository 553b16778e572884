//! Where an outbound text stands: its hash (as queued), then its record and its delivery status
//! once a worker sent it.

use std::collections::HashMap;

use redis::AsyncCommands;

use crate::domain::record::{Outcome, Record};
use crate::domain::{rfc3339, Lane, OutboundStatus};
use crate::store::connection::RedisConn;
use crate::store::keys::Keys;

/// An outbound text as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboundView {
    /// Its id.
    pub id: String,
    /// The recipient.
    pub to: String,
    /// Where it stands.
    pub status: OutboundStatus,
    /// When it is due (RFC 3339, UTC), while it is `scheduled`.
    pub send_at: Option<String>,
    /// Its lane: `interactive` or `bulk`.
    pub priority: Lane,
    /// Twilio's SID, once Twilio took it.
    pub twilio_sid: Option<String>,
    /// Every status Twilio reported for it, in order.
    pub history: Vec<String>,
    /// Why it failed, when it was dead-lettered.
    pub error: Option<String>,
}

/// Reads one text's status: its hash, then its record and delivery status.
pub(crate) async fn lookup(
    conn: &mut RedisConn,
    keys: &Keys,
    topic: &str,
    id: &str,
) -> redis::RedisResult<Option<OutboundView>> {
    let hash: HashMap<String, String> = conn.hgetall(keys.outbound(topic, id)).await?;
    let (Some(to), Some(status)) = (hash.get("to"), hash.get("status")) else {
        return Ok(None);
    };
    let mut view = OutboundView {
        id: id.to_string(),
        to: to.clone(),
        status: OutboundStatus::parse(status).unwrap_or(OutboundStatus::Queued),
        send_at: None,
        priority: match hash.get("lane").map(String::as_str) {
            Some("bulk") => Lane::Bulk,
            _ => Lane::Interactive,
        },
        twilio_sid: None,
        history: Vec::new(),
        error: None,
    };
    if view.status == OutboundStatus::Scheduled {
        view.send_at = hash
            .get("send_at")
            .and_then(|ms| ms.parse().ok())
            .map(rfc3339);
        return Ok(Some(view));
    }
    let raw: Option<String> = conn.get(keys.record(topic, id)).await?;
    let Some(record) = raw.and_then(|raw| serde_json::from_str::<Record>(&raw).ok()) else {
        return Ok(Some(view));
    };
    if record.outcome == Outcome::DeadLettered {
        view.status = OutboundStatus::DeadLettered;
        view.error = record.error;
        return Ok(Some(view));
    }
    let Some(sent) = record.sent.first() else {
        return Ok(Some(view));
    };
    match sent.status.as_deref() {
        Some("opted_out") => {
            view.status = OutboundStatus::OptedOut;
            return Ok(Some(view));
        }
        Some("expired") => {
            view.status = OutboundStatus::Expired;
            return Ok(Some(view));
        }
        Some("cancelled") => {
            view.status = OutboundStatus::Cancelled;
            return Ok(Some(view));
        }
        _ => {}
    }
    view.status = OutboundStatus::Sent;
    view.twilio_sid = Some(sent.sid.clone()).filter(|sid| !sid.is_empty());
    if let Some(sid) = &view.twilio_sid {
        let delivery: HashMap<String, String> = conn.hgetall(keys.delivery(topic, sid)).await?;
        if let Some(history) = delivery.get("history") {
            view.history = history.split(',').map(str::to_string).collect();
        }
        // The delivery hash only moves forward (`read` ranks after `delivered`), so neither
        // does this.
        view.status = match delivery.get("status").map(String::as_str) {
            Some("delivered") => OutboundStatus::Delivered,
            Some("read") => OutboundStatus::Read,
            Some("undelivered") => OutboundStatus::Undelivered,
            Some("failed") => OutboundStatus::Failed,
            _ => OutboundStatus::Sent,
        };
    }
    Ok(Some(view))
}
