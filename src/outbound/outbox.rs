//! The outbox: texts pyrowire sends first, queued into the same durable path as replies. A
//! request is checked whole first (`check_outbound.lua`: a reused idempotency key, room in the
//! queue), then written in chunks of [`CHUNK_TEXTS`], each one script call
//! (`enqueue_outbound.lua`) taking its chunk whole or not at all, so that a request of 1000
//! texts never holds Redis for more than a few milliseconds at a time and webhooks on the same
//! Redis slip between. A chunk that fails after others were written is answered with the ids
//! already queued; the same request again, with the same idempotency keys, completes it.
//! Scheduled texts are moved and cancelled in `schedule`; a text's status is read in `lookup`.
//!
//! The outbound API, `pyrowire send` and Rust programs (`handle::Outbox`) all queue through
//! here.

use sha2::{Digest, Sha256};

use super::lookup::lookup;
use crate::domain::outbound::OUTBOUND_ID_PREFIX;
use crate::domain::{now_ms, Job, MessageSid, NewText, OutboundStatus};
use crate::store::connection::{RedisConn, ReplicationError};
use crate::store::keys::Keys;
use crate::store::limits::QueueLimits;

/// Most texts in one request or script call.
pub(crate) const MAX_BATCH_TEXTS: usize = 1000;

/// Texts written per script call. About 35 µs of Redis a text: a chunk holds Redis ~2 ms.
pub(crate) const CHUNK_TEXTS: usize = 50;

static ENQUEUE: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(ENQUEUE_LUA));
/// See `enqueue_outbound.lua` (after `plan_fn.lua`).
const ENQUEUE_LUA: &str = concat!(
    include_str!("plan_fn.lua"),
    include_str!("enqueue_outbound.lua")
);

static CHECK: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(CHECK_LUA));
/// See `check_outbound.lua` (after `plan_fn.lua`).
const CHECK_LUA: &str = concat!(
    include_str!("plan_fn.lua"),
    include_str!("check_outbound.lua")
);

/// What happened to one text of a batch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Accepted {
    /// The text's id (the first text's, for a repeated idempotency key).
    pub id: String,
    /// The recipient.
    pub to: String,
    /// `queued`, `scheduled` or `opted_out` (for a repeat: the first text's status now).
    pub status: OutboundStatus,
    /// Whether the text repeated an idempotency key used before: nothing new was queued.
    #[serde(skip)]
    pub repeated: bool,
}

/// Why a batch was not queued.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The queue has no room for the batch's texts due now; nothing was queued.
    #[error("the queue of topic `{0}` has no room for these texts")]
    Full(String),
    /// The bulk queue (`max_bulk_depth`) has no room for the batch's bulk texts due now;
    /// nothing was queued.
    #[error("the bulk queue of topic `{0}` has no room for these texts (max_bulk_depth)")]
    BulkFull(String),
    /// Redis failed (nothing, or the whole batch, was written: the script is atomic).
    #[error("failed to reach redis")]
    Redis(#[from] redis::RedisError),
    /// `WAIT` did not see `min_replica_acks` replicas hold the batch in time.
    #[error("the write was not confirmed by enough replicas")]
    NotReplicated(#[source] ReplicationError),
    /// A job could not be encoded.
    #[error("failed to encode a text")]
    Encode(#[from] serde_json::Error),
    /// A text repeats an idempotency key that was used with another message (another `to`,
    /// body, media or time); nothing was queued.
    #[error("text {index} repeats an idempotency key used with another message")]
    KeyReused {
        /// The text's place in the batch (0-based).
        index: usize,
    },
    /// Part of the request was queued (`queued`, in request order) before a chunk failed; the
    /// same request again, with the same idempotency keys, queues the rest.
    #[error("{} texts were queued before the rest failed", queued.len())]
    Partial {
        /// The texts queued.
        queued: Vec<Accepted>,
        /// Why the rest was not.
        #[source]
        source: Box<OutboxError>,
    },
    /// The script answered something it never answers.
    #[error("unexpected answer from the outbound script")]
    Unexpected,
    /// No topic of that name in the settings.
    #[error("unknown topic `{0}`")]
    UnknownTopic(String),
}

impl From<ReplicationError> for OutboxError {
    fn from(error: ReplicationError) -> Self {
        match error {
            ReplicationError::Redis(e) => OutboxError::from(e),
            other => OutboxError::NotReplicated(other),
        }
    }
}

/// A new text id: `OB` and 32 hex digits.
fn new_id() -> MessageSid {
    let id = format!("{OUTBOUND_ID_PREFIX}{:032x}", rand::random::<u128>());
    MessageSid::parse("id", &id).expect("a generated id is well formed")
}

/// An idempotency key as its Redis key stores it: its SHA-256, hex (so a stranger's key of any
/// form makes a short, plain Redis key).
fn idempotency_digest(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a repeat of a text's idempotency key must match: its recipient, content, time and the
/// session it opens, as a SHA-256 (hex, the first 16 bytes). A text without a session hashes as
/// before sessions existed, so keys stored by an earlier release still match.
/// The expiry is left out: a retry with `validity_s` computes another one, and must still count
/// as the same text.
fn fingerprint(text: &NewText) -> String {
    let mut hasher = Sha256::new();
    let mut fields = serde_json::json!([
        text.to.as_str(),
        text.content.text,
        text.content.media_urls,
        text.send_at,
    ]);
    if let (Some(session), Some(fields)) = (&text.session, fields.as_array_mut()) {
        fields.push(serde_json::to_value(session).unwrap_or_default());
    }
    hasher.update(fields.to_string().as_bytes());
    hex(&hasher.finalize()[..16])
}

/// The keys and arguments of `enqueue_outbound.lua` for `texts` of `topic`.
fn enqueue_call(
    keys: &Keys,
    topic: &str,
    texts: &[NewText],
    limits: QueueLimits,
    now: u64,
    with_jobs: bool,
) -> Result<(Vec<String>, Vec<Vec<u8>>), serde_json::Error> {
    let broadcast = texts.first().and_then(|t| t.broadcast.clone());
    debug_assert!(
        texts.iter().all(|t| t.broadcast == broadcast),
        "one broadcast per call"
    );
    let (broadcast_hash, broadcast_list) = match &broadcast {
        Some(id) => (keys.broadcast(topic, id), keys.broadcast_texts(topic, id)),
        None => (keys.queue(topic), keys.queue(topic)),
    };
    let mut script_keys = vec![
        keys.queue(topic),
        keys.opt_outs(topic),
        keys.scheduled(topic),
        keys.bulk_queue(topic),
        broadcast_hash,
        broadcast_list,
    ];
    let mut args: Vec<Vec<u8>> = [
        limits.dedup_ttl_s,
        limits.max_queue_depth,
        now,
        limits.record_ttl_s,
        limits.max_bulk_depth,
    ]
    .iter()
    .map(|n| n.to_string().into_bytes())
    .collect();
    args.push(broadcast.unwrap_or_default().into_bytes());
    for text in texts {
        let id = new_id();
        let hash = keys.outbound(topic, &id);
        let idem = match &text.idempotency_key {
            Some(key) => keys.idempotency(topic, &idempotency_digest(key)),
            None => hash.clone(),
        };
        let sender = keys.lane_sender(topic, text.to.as_str(), text.lane);
        script_keys.extend([hash, sender, idem]);
        let job = Job::outbound(topic, id.clone(), text, now);
        let due = text.send_at.max(text.held_until);
        let send_at = due.filter(|at| *at > now).unwrap_or(0);
        args.extend([
            id.as_str().as_bytes().to_vec(),
            text.to.as_str().as_bytes().to_vec(),
            // The check reads no job: it is not sent.
            if with_jobs {
                serde_json::to_vec(&job)?
            } else {
                Vec::new()
            },
            send_at.to_string().into_bytes(),
            text.idempotency_key
                .clone()
                .unwrap_or_default()
                .into_bytes(),
            fingerprint(text).into_bytes(),
            if text.lane.is_bulk() {
                b"bulk".to_vec()
            } else {
                Vec::new()
            },
        ]);
    }
    Ok((script_keys, args))
}

/// Reads the script's answer (`[id, status, ...]`); a `duplicate` is left for the caller to
/// look up.
fn read_answer(
    texts: &[NewText],
    answer: Vec<String>,
) -> Result<Vec<(String, String, String)>, OutboxError> {
    if answer.len() != texts.len() * 2 {
        return Err(OutboxError::Unexpected);
    }
    Ok(texts
        .iter()
        .zip(answer.chunks(2))
        .map(|(text, pair)| (pair[0].clone(), text.to.to_string(), pair[1].clone()))
        .collect())
}

/// The script's refusal of a whole batch, when `error` is one: a full queue, or a reused key.
fn refusal(error: &redis::RedisError, topic: &str) -> Option<OutboxError> {
    match error.code()? {
        "QUEUEFULL" if error.detail().is_some_and(|d| d.contains("bulk")) => {
            Some(OutboxError::BulkFull(topic.to_string()))
        }
        "QUEUEFULL" => Some(OutboxError::Full(topic.to_string())),
        "IDEMCONFLICT" => {
            let index = error.detail()?.trim().parse().ok()?;
            Some(OutboxError::KeyReused { index })
        }
        _ => None,
    }
}

/// Runs the enqueue script for `texts` of `topic` (all of them or none): each text's
/// `(id, to, status)` as the script answers it, `duplicate` (with the first text's id) included.
pub(crate) async fn enqueue(
    conn: &mut RedisConn,
    keys: &Keys,
    topic: &str,
    texts: &[NewText],
    limits: QueueLimits,
) -> Result<Vec<(String, String, String)>, OutboxError> {
    let (script_keys, args) = enqueue_call(keys, topic, texts, limits, now_ms(), true)?;
    let answer: Vec<String> = match conn
        .run_script(&ENQUEUE, ENQUEUE_LUA, &script_keys, &args)
        .await
    {
        Ok(answer) => answer,
        Err(ReplicationError::Redis(e)) => match refusal(&e, topic) {
            Some(refused) => return Err(refused),
            None => return Err(e.into()),
        },
        Err(e) => return Err(e.into()),
    };
    read_answer(texts, answer)
}

/// Checks a whole request before any chunk of it is written: a reused idempotency key, or no
/// room in the queue for the texts due now, refuses all of it.
async fn check(
    conn: &mut RedisConn,
    keys: &Keys,
    topic: &str,
    texts: &[NewText],
    limits: QueueLimits,
) -> Result<(), OutboxError> {
    let (script_keys, args) = enqueue_call(keys, topic, texts, limits, now_ms(), false)?;
    let checked: redis::RedisResult<String> = CHECK
        .prepare_invoke()
        .key(script_keys)
        .arg(args)
        .invoke_async(conn)
        .await;
    match checked {
        Ok(_) => Ok(()),
        Err(e) => Err(refusal(&e, topic).unwrap_or(OutboxError::Redis(e))),
    }
}

/// Queues texts of `topic` through `conn`: checked whole, then written chunk by chunk (see the
/// module); every text is queued, or none, or (a chunk failing part-way) the first ones, named
/// in [`OutboxError::Partial`].
pub(crate) async fn queue(
    conn: &mut RedisConn,
    keys: &Keys,
    topic: &str,
    texts: &[NewText],
    limits: QueueLimits,
) -> Result<Vec<Accepted>, OutboxError> {
    if texts.len() > CHUNK_TEXTS {
        check(conn, keys, topic, texts, limits).await?;
    }
    let mut accepted = Vec::with_capacity(texts.len());
    for (n, chunk) in texts.chunks(CHUNK_TEXTS).enumerate() {
        let error = match queue_chunk(conn, keys, topic, chunk, limits).await {
            Ok(queued) => {
                accepted.extend(queued);
                continue;
            }
            Err(OutboxError::KeyReused { index }) => OutboxError::KeyReused {
                index: n * CHUNK_TEXTS + index,
            },
            Err(error) => error,
        };
        if accepted.is_empty() {
            return Err(error);
        }
        return Err(OutboxError::Partial {
            queued: accepted,
            source: Box::new(error),
        });
    }
    Ok(accepted)
}

/// One chunk, all of it or none.
async fn queue_chunk(
    conn: &mut RedisConn,
    keys: &Keys,
    topic: &str,
    texts: &[NewText],
    limits: QueueLimits,
) -> Result<Vec<Accepted>, OutboxError> {
    let answered = enqueue(conn, keys, topic, texts, limits).await?;
    // A repeated idempotency key answers the first text's status now; those lookups go out
    // together on the multiplexed connection, not one round trip after another.
    let statuses = answered.iter().map(|(id, _, status)| {
        let mut conn = conn.clone();
        async move {
            match OutboundStatus::parse(status) {
                Some(status) => Ok(status),
                None => Ok(lookup(&mut conn, keys, topic, id)
                    .await?
                    .map_or(OutboundStatus::Queued, |view| view.status)),
            }
        }
    });
    let statuses: Vec<redis::RedisResult<OutboundStatus>> =
        futures_util::future::join_all(statuses).await;
    answered
        .into_iter()
        .zip(statuses)
        .map(|((id, to, answer), status)| {
            Ok(Accepted {
                id,
                to,
                status: status?,
                repeated: OutboundStatus::parse(&answer).is_none(),
            })
        })
        .collect()
}
