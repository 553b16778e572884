//! At most one reply per inbound message, even across crashes: the send is marked in Redis
//! before the POST to Twilio and its Twilio SID recorded after. A redelivered job whose send has
//! a SID is not sent again; one whose send was marked without a SID (the crash or an uncertain
//! failure fell between the two) is looked up in Twilio's Messages list first (see
//! [`crate::outbound::interrupted`]), and sent only when Twilio has no message with the same To,
//! sender and body created after the mark, in any status.
//!
//! It is also where the sender's other rules apply: nothing goes to a number that opted out
//! (Twilio's error 21610 records such an opt-out), and sends are paced to the topic's
//! `max_sends_per_second`.

use std::sync::LazyLock;

use crate::store::breaker::is_outage;
use crate::store::connection::{RedisConn, ReplicationError};
use redis::{AsyncCommands, Script};

use crate::domain::clock::now_ms;
use crate::domain::record::SentSms;
use crate::domain::{MessageSid, SendKind};
use crate::outbound::delivery::{rank, STORE_SENT};
use crate::outbound::interrupted::{look_up, Interrupted, Lookup};
use crate::outbound::pacing;
use crate::store::keys::Keys;
use crate::twilio::client::{
    MessageResource, OutboundSms, TwilioClient, TwilioError, UNSUBSCRIBED,
};
use crate::twilio::segments::SegmentInfo;

/// Which outbound message this is and the rules it is sent under.
pub struct SendContext {
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

/// See `claim_send.lua`.
const CLAIM_LUA: &str = include_str!("claim_send.lua");
static CLAIM: LazyLock<Script> = LazyLock::new(|| Script::new(CLAIM_LUA));

/// Why a send did not go out.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Twilio refused it or could not be reached.
    #[error(transparent)]
    Twilio(#[from] TwilioError),
    /// The send marker could not be written (Redis down, demoted, between primaries) or not
    /// confirmed on `min_replica_acks` replicas. Nothing was sent, and the attempt does not
    /// count against the job.
    #[error("redis unavailable for the send marker: {0}")]
    Store(String),
    /// The send was interrupted before, and Twilio's list could not be read back to its mark
    /// within the bound: nothing was sent, rather than risk a second copy.
    #[error(
        "could not tell whether an interrupted send reached twilio: its message list was read \
         for {pages} pages without reaching the send's mark"
    )]
    Unconfirmed {
        /// Pages of Twilio's list read.
        pages: usize,
    },
}

/// Sends `sms` unless the marker shows (or Twilio confirms) that it went out already, or the
/// recipient opted out.
pub async fn send_once(
    conn: &mut RedisConn,
    client: &TwilioClient,
    cx: &SendContext,
    sms: &OutboundSms,
) -> Result<SentSms, SendError> {
    let mark = cx
        .keys
        .send_mark(&cx.topic, &cx.inbound_sid, &cx.kind.to_string());
    let (opted_out, fields) = claim(conn, cx, &mark, &sms.to).await?;
    let info = sms.segments();
    let sent =
        |sid, status, num_segments| SentSms::new(cx.kind, sid, status, num_segments, false, info);
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if let Some(sid) = field("sid") {
        return Ok(sent(sid, field("status"), field("num_segments")));
    }
    if opted_out {
        return Ok(sent(String::new(), Some("opted_out".into()), None));
    }
    if let Some(marked_at) = field("marked_at").and_then(|m| m.parse::<u64>().ok()) {
        // Marked before, without a SID: ask Twilio whether it went out, then mark anew.
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
                return Ok(store_sent(conn, cx, &mark, &sms.to, &found, info).await);
            }
            Lookup::Unsure { pages } => return Err(SendError::Unconfirmed { pages }),
            Lookup::NotSent => {}
        }
        let _: () = redis::pipe()
            .hset(&mark, "marked_at", now_ms())
            .expire(&mark, cx.ttl_s as i64)
            .query_async(conn)
            .await
            .map_err(redis_error)?;
    }
    pace(conn, cx, info.segments).await;
    match client.send(sms).await {
        Ok(resource) => Ok(store_sent(conn, cx, &mark, &sms.to, &resource, info).await),
        Err(error) => {
            if !error.maybe_sent() {
                // Surely not created: forget the mark so a retry sends without asking Twilio.
                let _: Result<(), _> = conn.del(&mark).await;
            }
            if matches!(
                error,
                TwilioError::Api {
                    code: Some(UNSUBSCRIBED),
                    ..
                }
            ) {
                let opt_outs = cx.keys.opt_outs(&cx.topic);
                let _: Result<(), _> = conn.hset(&opt_outs, &sms.to, now_ms()).await;
                return Ok(sent(String::new(), Some("opted_out".into()), None));
            }
            Err(error.into())
        }
    }
}

/// Runs `claim_send.lua`: whether the number opted out, and the marker's fields before the call.
async fn claim(
    conn: &mut RedisConn,
    cx: &SendContext,
    mark: &str,
    to: &str,
) -> Result<(bool, Vec<(String, String)>), SendError> {
    // With `min_replica_acks`, the mark must be on replicas before Twilio is called: a mark
    // only a dead primary held would let the same reply go out twice. Not confirmed = not sent.
    let keys = [mark.to_string(), cx.keys.opt_outs(&cx.topic)];
    let args = [
        to.as_bytes().to_vec(),
        now_ms().to_string().into_bytes(),
        cx.ttl_s.to_string().into_bytes(),
    ];
    let reply: Vec<redis::Value> = conn
        .run_script(&CLAIM, CLAIM_LUA, &keys, &args)
        .await
        .map_err(|e| match e {
            ReplicationError::Redis(e) => redis_error(e),
            unconfirmed => SendError::Store(unconfirmed.to_string()),
        })?;
    let opted_out = matches!(reply.first(), Some(redis::Value::Int(1)));
    let text = |v: &redis::Value| redis::from_redis_value::<String>(v).unwrap_or_default();
    let fields = reply[1.min(reply.len())..]
        .chunks(2)
        .filter(|pair| pair.len() == 2)
        .map(|pair| (text(&pair[0]), text(&pair[1])))
        .collect();
    Ok((opted_out, fields))
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
            "Failed to pace a send; sending now. topic={} error={e}",
            cx.topic
        ),
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
        log::warn!("Failed to store the Twilio SID of a sent message. sid={sid} error={e}");
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

/// Redis failing before the POST means nothing was sent.
/// A Redis failure that passes (the node is down, demoted, loading, or between primaries) makes
/// the send wait without counting as an attempt; any other (out of memory, a full disk) counts.
fn redis_error(error: redis::RedisError) -> SendError {
    let passing = is_outage(&error)
        || matches!(
            error.code(),
            Some("READONLY" | "MASTERDOWN" | "LOADING" | "TRYAGAIN" | "CLUSTERDOWN")
        );
    if passing {
        SendError::Store(error.to_string())
    } else {
        TwilioError::not_sent(format!("redis refused the send marker: {error}")).into()
    }
}
