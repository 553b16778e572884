//! At most one reply per inbound message, even across crashes: the send is marked in Redis
//! before the POST to Twilio and its Twilio SID recorded after, with the job's completion (one
//! call with its record) or, when the attempt fails after it, on its own. So a send costs one
//! round trip before the POST (the marker, the opt-out check and the pace, in one script) and
//! none of its own after. A redelivered job whose send has a SID is not sent again; one whose send was marked without a SID (the crash or an uncertain
//! failure fell between the two) is looked up in Twilio's Messages list first (see
//! [`crate::outbound::interrupted`]), and sent only when Twilio has no message with the same To,
//! sender and body created after the mark, in any status.
//!
//! It is also where the sender's other rules apply: nothing goes to a number that opted out
//! (Twilio's error 21610 records such an opt-out, as a STOP does), and sends are paced to the
//! topic's `max_sends_per_second`.

use redis::AsyncCommands;

use crate::domain::clock::now_ms;
use crate::domain::record::SentSms;
use crate::domain::{Lane, MessageSid, PhoneNumber, SendKind};
use crate::errors::Chain;
use crate::outbound::claims::{ClaimRequest, Claims};
use crate::outbound::delivery::SidStore;
use crate::outbound::interrupted::{look_up, Interrupted, Lookup};
use crate::outbound::pacing::{self, interval_us};
pub(crate) use crate::outbound::send_error::SendError;
use crate::store::connection::RedisConn;
use crate::store::keys::Keys;
use crate::store::opt_outs::{self, Cause, Change};
use crate::twilio::client::{
    MessageResource, OutboundSms, TwilioClient, TwilioError, UNSUBSCRIBED,
};
use crate::twilio::segments::SegmentInfo;

/// Which outbound message this is and the rules it is sent under.
pub(crate) struct SendContext {
    /// Key builder.
    pub keys: Keys,
    /// The topic.
    pub topic: String,
    /// The inbound MessageSid.
    pub inbound_sid: MessageSid,
    /// Which of the job's sends this is (`accept`, `reply`, `reply-N`, `extra-N`).
    pub kind: SendKind,
    /// TTL of markers and delivery records (seconds).
    pub ttl_s: u64,
    /// The topic's `max_sends_per_second`.
    pub max_per_second: Option<f64>,
    /// How opt-outs are written (Twilio's 21610).
    pub ledger: std::sync::Arc<crate::store::opt_outs::Ledger>,
    /// The job's lane: a bulk send takes the pace only when no other send waits for it.
    pub lane: Lane,
    /// For a re-queued job whose markers may have expired: a fresh claim is not trusted, and the
    /// send is looked up in Twilio's list from this time (ms) as an interrupted one is.
    pub unsure_since: Option<u64>,
}

impl SendContext {
    /// This send's at-most-once marker.
    fn mark(&self) -> String {
        self.keys
            .send_mark(&self.topic, &self.inbound_sid, &self.kind.to_string())
    }

    /// A send answered without a call to Twilio: nothing to store.
    fn answered(
        &self,
        sid: String,
        status: Option<String>,
        segments: Option<String>,
        info: SegmentInfo,
    ) -> Sent {
        Sent {
            sms: SentSms::new(self.kind, sid, status, segments, false, info),
            store: None,
        }
    }
}

/// A send's outcome: what the record shows, and the Twilio SID still to store (with the job's
/// completion) when Twilio took it now.
#[derive(Debug)]
pub(crate) struct Sent {
    /// The send as the record shows it.
    pub(crate) sms: SentSms,
    /// Its SID and first status, to store on its marker and delivery hash.
    pub(crate) store: Option<SidStore>,
}

/// What the marker said when the send was claimed.
enum Claim {
    /// Fresh: now marked (and its pace reserved), to be sent after `wait`.
    Fresh { wait: std::time::Duration },
    /// Sent before: Twilio's SID (and status, segments) are on the marker.
    Sent {
        sid: String,
        status: Option<String>,
        segments: Option<String>,
    },
    /// The recipient opted out: nothing is sent.
    OptedOut,
    /// Marked at `marked_at` without a SID: the send may have reached Twilio.
    Interrupted { marked_at: u64 },
    /// A bulk send while the pace is taken: not marked; claim again after `wait`.
    Held { wait: std::time::Duration },
    /// A text of a cancelled broadcast (its marker says `cancelled`, no send was claimed): not
    /// sent.
    Cancelled,
}

/// Shortest pause of a held bulk send before it claims again.
const MIN_HOLD: std::time::Duration = std::time::Duration::from_millis(1);

/// Sends `sms` unless the marker shows (or Twilio confirms) that it went out already, the
/// recipient opted out, or the text expired (before its claim, or while it waited for its turn
/// under the pace: then its fresh mark is taken back).
pub(crate) async fn send_once(
    conn: &mut RedisConn,
    claims: &Claims,
    client: &TwilioClient,
    cx: &SendContext,
    sms: &OutboundSms,
) -> Result<Sent, SendError> {
    let mark = cx.mark();
    let info = sms.segments();
    let expired = || sms.expires_at.is_some_and(|at| now_ms() >= at);
    // An expired text is claimed all the same (it may have gone out before a crash), but takes
    // no turn under the pace; nor does a claim whose freshness is not trusted (below): its
    // lookup paces the send, once, when Twilio has none like it.
    let takes_turn = || cx.unsure_since.is_none() && !expired();
    let mut paced = takes_turn();
    let mut claimed = claim(claims, cx, &mark, &sms.to, info.segments, paced).await?;
    // A bulk send waits while other sends (replies first) hold the pace; it stays unmarked.
    while let Claim::Held { wait } = claimed {
        actix_rt::time::sleep(wait.max(MIN_HOLD)).await;
        paced = takes_turn();
        claimed = claim(claims, cx, &mark, &sms.to, info.segments, paced).await?;
    }
    // No marker, but the job was re-queued after its markers may have expired: the send may
    // have been made by an earlier run, so Twilio's list decides, as for an interrupted send.
    if let (Claim::Fresh { .. }, Some(since)) = (&claimed, cx.unsure_since) {
        claimed = Claim::Interrupted { marked_at: since };
    }
    match claimed {
        Claim::Sent {
            sid,
            status,
            segments,
        } => return Ok(cx.answered(sid, status, segments, info)),
        Claim::OptedOut => {
            let status = Some("opted_out".to_string());
            return Ok(cx.answered(String::new(), status, None, info));
        }
        Claim::Cancelled => {
            return Ok(cx.answered(String::new(), Some(CANCELLED.into()), None, info));
        }
        Claim::Interrupted { marked_at } => {
            if let Some(found) = recover(conn, client, cx, sms, &mark, marked_at).await? {
                return Ok(sent(cx, &mark, &sms.to, &found, info));
            }
            // Not sent, and cancelled since (its broadcast): it never will be.
            if cancelled_meanwhile(conn, cx, &mark).await {
                unmark(conn, cx, &mark).await;
                return Ok(cx.answered(String::new(), Some(CANCELLED.into()), None, info));
            }
            if !expired() {
                pace(conn, cx, info.segments).await;
            }
        }
        Claim::Fresh { wait } if paced && !wait.is_zero() => {
            actix_rt::time::sleep(wait).await;
            // Cancelled while it waited for its turn: take the mark back, send nothing.
            if cancelled_meanwhile(conn, cx, &mark).await {
                unmark(conn, cx, &mark).await;
                return Ok(cx.answered(String::new(), Some(CANCELLED.into()), None, info));
            }
        }
        Claim::Fresh { .. } | Claim::Held { .. } => {}
    }
    if expired() {
        unmark(conn, cx, &mark).await;
        return Ok(cx.answered(String::new(), Some(EXPIRED.into()), None, info));
    }
    post(conn, client, cx, sms, &mark, info).await
}

/// The status of a text not sent because it expired.
pub(crate) const EXPIRED: &str = "expired";

/// The status of a text not sent because its broadcast was cancelled.
pub(crate) const CANCELLED: &str = "cancelled";

/// Whether a text sent first was cancelled (its broadcast marks its send's marker) while its
/// send waited for its turn; a Redis failure answers no (the send was claimed before the cancel
/// could see it). Replies are never cancelled.
async fn cancelled_meanwhile(conn: &mut RedisConn, cx: &SendContext, mark: &str) -> bool {
    if cx.kind != SendKind::Outbound {
        return false;
    }
    let cancelled: redis::RedisResult<bool> = conn.hexists(mark, CANCELLED).await;
    matches!(cancelled, Ok(true))
}

/// Takes back the mark of a send that is not made after all (it expired or was cancelled while
/// it waited, or Twilio surely did not take it): its `marked_at` goes, so a marker that says
/// `cancelled` keeps saying so (and one that says nothing else is gone); should it fail, the
/// mark only outlives its job.
async fn unmark(conn: &mut RedisConn, cx: &SendContext, mark: &str) {
    if let Err(e) = conn.hdel::<_, _, ()>(mark, "marked_at").await {
        log::warn!(
            "Failed to clear the mark of a send that expired before it was made. topic={} error={}",
            cx.topic,
            Chain(&e)
        );
    }
}

/// Claims the send (`claim_send.lua`, batched with the topic's other claims): whether the number
/// opted out, and the marker as it was; a fresh send takes its turn under the pace when
/// `paced`.
async fn claim(
    claims: &Claims,
    cx: &SendContext,
    mark: &str,
    to: &str,
    segments: u32,
    paced: bool,
) -> Result<Claim, SendError> {
    // The interval is the topic's (one per batch of claims); an unpaced claim costs no segments.
    let request = ClaimRequest {
        mark: mark.to_string(),
        to: to.to_string(),
        segments: if paced { segments } else { 0 },
        interval_us: cx.max_per_second.map_or(0, interval_us),
        bulk: cx.lane.is_bulk(),
    };
    let reply = claims.claim(&cx.topic, request).await?;
    let text = |v: &redis::Value| redis::from_redis_value::<String>(v).unwrap_or_default();
    let wait_us = match reply.get(1) {
        Some(redis::Value::Int(us)) => u64::try_from(*us).unwrap_or(0),
        _ => 0,
    };
    let fields: Vec<(String, String)> = reply[2.min(reply.len())..]
        .chunks(2)
        .filter(|pair| pair.len() == 2)
        .map(|pair| (text(&pair[0]), text(&pair[1])))
        .collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if field("held").is_some() {
        return Ok(Claim::Held {
            wait: std::time::Duration::from_micros(wait_us),
        });
    }
    if field("sid").is_none() && field("marked_at").is_none() && field(CANCELLED).is_some() {
        return Ok(Claim::Cancelled);
    }
    Ok(match (field("sid"), reply.first()) {
        (Some(sid), _) => Claim::Sent {
            sid,
            status: field("status"),
            segments: field("num_segments"),
        },
        (None, Some(redis::Value::Int(1))) => Claim::OptedOut,
        _ => match field("marked_at").and_then(|m| m.parse().ok()) {
            Some(marked_at) => Claim::Interrupted { marked_at },
            None => Claim::Fresh {
                wait: std::time::Duration::from_micros(wait_us),
            },
        },
    })
}

/// Asks Twilio whether an interrupted send went out: the message when it did; when it did not,
/// the send is marked anew (from now) and answered `None`, to be sent.
async fn recover(
    conn: &mut RedisConn,
    client: &TwilioClient,
    cx: &SendContext,
    sms: &OutboundSms,
    mark: &str,
    marked_at: u64,
) -> Result<Option<MessageResource>, SendError> {
    let interrupted = Interrupted {
        sms,
        marked_at,
        keys: &cx.keys,
        topic: &cx.topic,
    };
    match look_up(conn, client, &interrupted).await? {
        Lookup::Found(found) => {
            log::info!(
                "Reply found at Twilio after an interrupted send; not sending again. topic={} sid={} status={}",
                cx.topic,
                found.sid,
                found.status.as_deref().unwrap_or_default()
            );
            Ok(Some(found))
        }
        Lookup::Unsure { pages } => Err(SendError::Unconfirmed { pages }),
        Lookup::NotSent => {
            let _: () = redis::pipe()
                .hset(mark, "marked_at", now_ms())
                .expire(mark, cx.ttl_s as i64)
                .query_async(conn)
                .await
                .map_err(SendError::of_redis)?;
            Ok(None)
        }
    }
}

/// Waits for this send's turn (`segments` of it) under the topic's pace, for a send whose claim did
/// not reserve it (one resumed after a lookup); a Redis failure does not hold it up.
async fn pace(conn: &mut RedisConn, cx: &SendContext, segments: u32) {
    let Some(per_second) = cx.max_per_second else {
        return;
    };
    match pacing::reserve(conn, &cx.keys.rate(&cx.topic), per_second, segments).await {
        Ok(wait) if !wait.is_zero() => actix_rt::time::sleep(wait).await,
        Ok(_) => {}
        Err(e) => log::warn!(
            "Failed to pace a send; sending now. topic={} error={}",
            cx.topic,
            Chain(&e)
        ),
    }
}

/// The POST to Twilio, and what its answer leaves in Redis: the SID to store with the completion;
/// no marker for a send that surely was not created; an opt-out for error 21610.
async fn post(
    conn: &mut RedisConn,
    client: &TwilioClient,
    cx: &SendContext,
    sms: &OutboundSms,
    mark: &str,
    info: SegmentInfo,
) -> Result<Sent, SendError> {
    let error = match client.send(sms).await {
        Ok(resource) => return Ok(sent(cx, mark, &sms.to, &resource, info)),
        Err(error) => error,
    };
    if !error.maybe_sent() {
        // Surely not created: forget the mark so a retry sends without asking Twilio (a
        // `cancelled` its broadcast wrote meanwhile stays, and the retry sends nothing).
        if let Err(e) = conn.hdel::<_, _, ()>(mark, "marked_at").await {
            log::warn!("Failed to clear the mark of a send Twilio refused; a retry will ask Twilio's list first. topic={} error={}", cx.topic, Chain(&e));
        }
    }
    if !matches!(
        error,
        TwilioError::Api {
            code: Some(UNSUBSCRIBED),
            ..
        }
    ) {
        return Err(error.into());
    }
    record_unsubscribed(conn, cx, &sms.to).await;
    let status = Some("opted_out".to_string());
    Ok(cx.answered(String::new(), status, None, info))
}

/// Twilio's 21610: the recipient unsubscribed. Recorded as a STOP is; the send counts as done
/// (status `opted_out`) whether or not the ledger could be written.
async fn record_unsubscribed(conn: &mut RedisConn, cx: &SendContext, to: &str) {
    let Ok(number) = PhoneNumber::parse("To", to) else {
        return;
    };
    let cause = Cause::Unsubscribed {
        job: cx.inbound_sid.to_string(),
        twilio_sid: String::new(),
    };
    let change = opt_outs::apply(conn, &cx.ledger, &cx.topic, &number, Change::OptOut, &cause);
    if let Err(e) = change.await {
        log::warn!(
            "Failed to record an opt-out Twilio reported (21610); the next send to the number will learn it again. topic={} error={}",
            cx.topic,
            Chain(&e)
        );
    }
}

/// A message Twilio has: sent, its SID (and status, segments) to store with the completion.
fn sent(
    cx: &SendContext,
    mark: &str,
    to: &str,
    message: &MessageResource,
    info: SegmentInfo,
) -> Sent {
    let store = SidStore {
        mark: mark.to_string(),
        delivery: cx.keys.delivery(&cx.topic, &message.sid),
        sid: message.sid.clone(),
        status: message.status.clone().unwrap_or_default(),
        segments: message.num_segments.clone().unwrap_or_default(),
        to: to.to_string(),
        job: cx.inbound_sid.to_string(),
    };
    let sms = SentSms::new(
        cx.kind,
        message.sid.clone(),
        message.status.clone(),
        message.num_segments.clone(),
        false,
        info,
    );
    Sent {
        sms,
        store: Some(store),
    }
}
