//! At most one reply per inbound message, even across crashes: the send is marked in Redis
//! before the POST to Twilio and its Twilio SID recorded after. A redelivered job whose send has
//! a SID is not sent again; one whose send was marked without a SID (the crash or an uncertain
//! failure fell between the two) is looked up in Twilio's Messages list first (see
//! [`crate::outbound::interrupted`]), and sent only when Twilio has no message with the same To,
//! sender and body created after the mark, in any status.
//!
//! It is also where the sender's other rules apply: nothing goes to a number that opted out
//! (Twilio's error 21610 records such an opt-out, as a STOP does), and sends are paced to the
//! topic's `max_sends_per_second`.

use std::sync::LazyLock;

use redis::{AsyncCommands, Script};

use crate::domain::clock::now_ms;
use crate::domain::record::SentSms;
use crate::domain::{MessageSid, PhoneNumber, SendKind};
use crate::errors::Chain;
use crate::outbound::delivery::{rank, STORE_SENT};
use crate::outbound::interrupted::{look_up, Interrupted, Lookup};
use crate::outbound::pacing;
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
}

impl SendContext {
    /// This send's at-most-once marker.
    fn mark(&self) -> String {
        self.keys
            .send_mark(&self.topic, &self.inbound_sid, &self.kind.to_string())
    }

    /// A send answered without a call to Twilio.
    fn answered(
        &self,
        sid: String,
        status: Option<String>,
        segments: Option<String>,
        info: SegmentInfo,
    ) -> SentSms {
        SentSms::new(self.kind, sid, status, segments, false, info)
    }
}

/// See `claim_send.lua`.
const CLAIM_LUA: &str = include_str!("claim_send.lua");
static CLAIM: LazyLock<Script> = LazyLock::new(|| Script::new(CLAIM_LUA));

/// What the marker said when the send was claimed.
enum Claim {
    /// Fresh: now marked, to be sent.
    Fresh,
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
}

/// Sends `sms` unless the marker shows (or Twilio confirms) that it went out already, or the
/// recipient opted out.
pub(crate) async fn send_once(
    conn: &mut RedisConn,
    client: &TwilioClient,
    cx: &SendContext,
    sms: &OutboundSms,
) -> Result<SentSms, SendError> {
    let mark = cx.mark();
    let info = sms.segments();
    match claim(conn, cx, &mark, &sms.to).await? {
        Claim::Sent {
            sid,
            status,
            segments,
        } => return Ok(cx.answered(sid, status, segments, info)),
        Claim::OptedOut => {
            return Ok(cx.answered(String::new(), Some("opted_out".into()), None, info))
        }
        Claim::Interrupted { marked_at } => {
            if let Some(found) = recover(conn, client, cx, sms, &mark, marked_at).await? {
                return Ok(store_sent(conn, cx, &mark, &sms.to, &found, info).await);
            }
        }
        Claim::Fresh => {}
    }
    pace(conn, cx, info.segments).await;
    post(conn, client, cx, sms, &mark, info).await
}

/// Runs `claim_send.lua`: whether the number opted out, and the marker as it was.
async fn claim(
    conn: &mut RedisConn,
    cx: &SendContext,
    mark: &str,
    to: &str,
) -> Result<Claim, SendError> {
    let keys = [mark.to_string(), cx.keys.opt_outs(&cx.topic)];
    let args = [
        to.as_bytes().to_vec(),
        now_ms().to_string().into_bytes(),
        cx.ttl_s.to_string().into_bytes(),
    ];
    let reply: Vec<redis::Value> = conn.run_script(&CLAIM, CLAIM_LUA, &keys, &args).await?;
    let text = |v: &redis::Value| redis::from_redis_value::<String>(v).unwrap_or_default();
    let fields: Vec<(String, String)> = reply[1.min(reply.len())..]
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
    Ok(match (field("sid"), reply.first()) {
        (Some(sid), _) => Claim::Sent {
            sid,
            status: field("status"),
            segments: field("num_segments"),
        },
        (None, Some(redis::Value::Int(1))) => Claim::OptedOut,
        _ => match field("marked_at").and_then(|m| m.parse().ok()) {
            Some(marked_at) => Claim::Interrupted { marked_at },
            None => Claim::Fresh,
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

/// Waits for this send's turn (`segments` of it) under the topic's pace; a Redis failure does not
/// hold it up.
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

/// The POST to Twilio, and what its answer leaves in Redis: the SID on the marker; no marker
/// for a send that surely was not created; an opt-out for error 21610.
async fn post(
    conn: &mut RedisConn,
    client: &TwilioClient,
    cx: &SendContext,
    sms: &OutboundSms,
    mark: &str,
    info: SegmentInfo,
) -> Result<SentSms, SendError> {
    let error = match client.send(sms).await {
        Ok(resource) => return Ok(store_sent(conn, cx, mark, &sms.to, &resource, info).await),
        Err(error) => error,
    };
    if !error.maybe_sent() {
        // Surely not created: forget the mark so a retry sends without asking Twilio.
        if let Err(e) = conn.del::<_, ()>(mark).await {
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
    Ok(cx.answered(String::new(), Some("opted_out".into()), None, info))
}

/// Twilio's 21610: the recipient unsubscribed. Recorded as a STOP is; the send counts as done
/// (status `opted_out`) whether or not the ledger could be written.
async fn record_unsubscribed(conn: &mut RedisConn, cx: &SendContext, to: &str) {
    let Ok(number) = PhoneNumber::parse("To", to) else {
        return;
    };
    let change = opt_outs::apply(
        conn,
        &cx.keys,
        &cx.topic,
        &number,
        Change::OptOut,
        Cause::Unsubscribed,
    );
    if let Err(e) = change.await {
        log::warn!(
            "Failed to record an opt-out Twilio reported (21610); the next send to the number will learn it again. topic={} error={}",
            cx.topic,
            Chain(&e)
        );
    }
}

/// Stores the SID (and status, segments) of a message Twilio has on the marker, and answers it as
/// sent.
async fn store_sent(
    conn: &mut RedisConn,
    cx: &SendContext,
    mark: &str,
    to: &str,
    message: &MessageResource,
    info: SegmentInfo,
) -> SentSms {
    let sid = message.sid.as_str();
    let status = message.status.as_deref().unwrap_or_default();
    let stored: redis::RedisResult<i64> = STORE_SENT
        .key(mark)
        .key(cx.keys.delivery(&cx.topic, sid))
        .arg(sid)
        .arg(status)
        .arg(message.num_segments.as_deref().unwrap_or_default())
        .arg(cx.ttl_s)
        .arg(rank(status))
        .arg(now_ms())
        .arg(to)
        .invoke_async(conn)
        .await;
    if let Err(e) = stored {
        // The message went out; without the SID a redelivery asks Twilio's list instead.
        log::warn!(
            "Failed to store the Twilio SID of a sent message. topic={} sid={sid} error={}",
            cx.topic,
            Chain(&e)
        );
    }
    SentSms::new(
        cx.kind,
        message.sid.clone(),
        message.status.clone(),
        message.num_segments.clone(),
        false,
        info,
    )
}
