//! At most one reply per inbound message, even across crashes: the send is marked in Redis
//! before the POST to Twilio and its Twilio SID recorded after. A redelivered job whose send has
//! a SID is not sent again; one whose send was marked without a SID (the crash or an uncertain
//! failure fell between the two) is looked up in Twilio's Messages list first, and sent only when
//! Twilio has no message with the same To, From and body created after the mark.

use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use crate::clock::{now_ms, parse_twilio_date, utc_day};
use crate::record::SentSms;
use crate::twilio::{ListedMessage, OutboundSms, TwilioClient, TwilioError};

/// Twilio's clock and ours may differ a little; a listed message created this long before the
/// mark still counts as ours.
const CLOCK_SKEW_MS: u64 = 5_000;

/// Where one outbound message's marker lives and how long it is kept.
pub struct Mark {
    /// The marker's key ([`crate::redis_keys::Keys::send_mark`]).
    pub key: String,
    /// Its TTL in seconds.
    pub ttl_s: u64,
    /// `accept` or `reply`.
    pub kind: &'static str,
}

/// Sends `sms` unless the marker shows (or Twilio confirms) that it went out already.
pub async fn send_once(
    conn: &mut ConnectionManager,
    client: &TwilioClient,
    mark: &Mark,
    sms: &OutboundSms,
) -> Result<SentSms, TwilioError> {
    let fields: Vec<(String, String)> = conn.hgetall(&mark.key).await.map_err(redis_error)?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if let Some(sid) = field("sid") {
        return Ok(sent(mark, sid, field("status"), field("num_segments")));
    }
    if let Some(marked_at) = field("marked_at").and_then(|m| m.parse::<u64>().ok()) {
        let listed = client
            .list_messages(
                &sms.to,
                &sms.from,
                &utc_day(marked_at.saturating_sub(CLOCK_SKEW_MS)),
            )
            .await?;
        if let Some(found) = find_sent(&listed, sms, marked_at) {
            log::info!(
                "Reply found at Twilio after an interrupted send; not sending again. sid={}",
                found.sid
            );
            store_sid(conn, mark, &found.sid, &found.status, &found.num_segments).await?;
            return Ok(sent(
                mark,
                found.sid.clone(),
                found.status.clone(),
                found.num_segments.clone(),
            ));
        }
    }
    let _: () = redis::pipe()
        .hset(&mark.key, "marked_at", now_ms())
        .expire(&mark.key, mark.ttl_s as i64)
        .query_async(conn)
        .await
        .map_err(redis_error)?;
    match client.send(sms).await {
        Ok(resource) => {
            store_sid(
                conn,
                mark,
                &resource.sid,
                &resource.status,
                &resource.num_segments,
            )
            .await?;
            Ok(sent(
                mark,
                resource.sid,
                resource.status,
                resource.num_segments,
            ))
        }
        Err(error) => {
            if !error.maybe_sent() {
                // Surely not created: forget the mark so a retry sends without asking Twilio.
                let _: Result<(), _> = conn.del(&mark.key).await;
            }
            Err(error)
        }
    }
}

fn find_sent<'a>(
    listed: &'a [ListedMessage],
    sms: &OutboundSms,
    marked_at: u64,
) -> Option<&'a ListedMessage> {
    let body = sms.body.as_deref().unwrap_or_default();
    listed.iter().find(|m| {
        m.body.as_deref().unwrap_or_default() == body
            && m.date_created
                .as_deref()
                .and_then(parse_twilio_date)
                .is_some_and(|created| created + CLOCK_SKEW_MS >= marked_at)
    })
}

async fn store_sid(
    conn: &mut ConnectionManager,
    mark: &Mark,
    sid: &str,
    status: &Option<String>,
    segments: &Option<String>,
) -> Result<(), TwilioError> {
    let mut pipe = redis::pipe();
    pipe.hset(&mark.key, "sid", sid);
    if let Some(status) = status {
        pipe.hset(&mark.key, "status", status);
    }
    if let Some(segments) = segments {
        pipe.hset(&mark.key, "num_segments", segments);
    }
    pipe.expire(&mark.key, mark.ttl_s as i64);
    let stored: redis::RedisResult<()> = pipe.query_async(conn).await;
    if let Err(e) = stored {
        // The message went out; without the SID a redelivery asks Twilio's list instead.
        log::warn!("Failed to store the Twilio SID of a sent message. sid={sid} error={e}");
    }
    Ok(())
}

fn sent(mark: &Mark, sid: String, status: Option<String>, segments: Option<String>) -> SentSms {
    SentSms {
        kind: mark.kind.to_string(),
        sid,
        status,
        num_segments: segments,
        dry_run: false,
    }
}

/// Redis failing before the POST means nothing was sent.
fn redis_error(error: redis::RedisError) -> TwilioError {
    TwilioError::not_sent(format!("redis unavailable for the send marker: {error}"))
}
