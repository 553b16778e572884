//! Broadcasts: many texts under one id, each keeping its own id and status. Their texts are
//! listed as they are queued (`enqueue_outbound.lua`), counted by status on demand (each text
//! looked up as `GET .../messages/{id}` would), and cancelled together
//! (`cancel_broadcast.lua`, a chunk at a time): whatever is not sent yet is not sent.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use redis::AsyncCommands;
use sha2::{Digest, Sha256};

use super::lookup::lookup;
use crate::domain::{now_ms, OutboundStatus};
use crate::store::connection::RedisConn;
use crate::store::keys::Keys;

/// How a broadcast id starts (`BC` and 32 hex digits).
pub const BROADCAST_ID_PREFIX: &str = "BC";

/// Texts read (or cancelled) per round trip.
const CHUNK: isize = 200;

static CANCEL: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("cancel_broadcast.lua")));

/// A new broadcast id.
pub(crate) fn new_id() -> String {
    format!("{BROADCAST_ID_PREFIX}{:032x}", rand::random::<u128>())
}

/// The broadcast id of a CSV file's rows under these flags: the same file and flags again
/// continue the same broadcast (as their idempotency keys continue its texts).
pub(crate) fn id_of(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{BROADCAST_ID_PREFIX}{hex}")
}

/// Whether `id` could be a broadcast's id.
pub fn is_broadcast_id(id: &str) -> bool {
    id.strip_prefix(BROADCAST_ID_PREFIX).is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

/// A broadcast as `GET .../broadcasts/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BroadcastView {
    /// Its id.
    pub id: String,
    /// Texts in it.
    pub total: u64,
    /// Texts per status, every status named.
    pub counts: BTreeMap<&'static str, u64>,
    /// Whether it was cancelled.
    pub cancelled: bool,
}

/// Counts a broadcast's texts by status; `None` when there is no such broadcast.
pub(crate) async fn view(
    conn: &mut RedisConn,
    keys: &Keys,
    topic: &str,
    id: &str,
) -> redis::RedisResult<Option<BroadcastView>> {
    let hash: std::collections::HashMap<String, String> =
        conn.hgetall(keys.broadcast(topic, id)).await?;
    if hash.is_empty() {
        return Ok(None);
    }
    let mut counts: BTreeMap<&'static str, u64> = OutboundStatus::ALL
        .iter()
        .map(|status| (status.as_str(), 0))
        .collect();
    let list = keys.broadcast_texts(topic, id);
    let mut start = 0;
    loop {
        let ids: Vec<String> = conn.lrange(&list, start, start + CHUNK - 1).await?;
        let views = ids.iter().map(|text| {
            let mut conn = conn.clone();
            async move { lookup(&mut conn, keys, topic, text).await }
        });
        for view in futures_util::future::join_all(views).await {
            // A text whose status is gone (kept past record_ttl_s) counts as nothing.
            if let Some(view) = view? {
                *counts.entry(view.status.as_str()).or_default() += 1;
            }
        }
        if (ids.len() as isize) < CHUNK {
            break;
        }
        start += CHUNK;
    }
    Ok(Some(BroadcastView {
        id: id.to_string(),
        total: hash.get("total").and_then(|t| t.parse().ok()).unwrap_or(0),
        counts,
        cancelled: hash.contains_key("cancelled_at"),
    }))
}

/// Cancels every text of a broadcast not yet sent (a marker written for a send keeps
/// `mark_ttl_s`, `record_ttl_s`); how many it cancelled, or `None` for no such broadcast. Each chunk is one script call; run again after a failure part-way, it cancels the
/// rest.
pub(crate) async fn cancel(
    conn: &mut RedisConn,
    keys: &Keys,
    topic: &str,
    id: &str,
    mark_ttl_s: u64,
) -> redis::RedisResult<Option<u64>> {
    let hash = keys.broadcast(topic, id);
    if !conn.exists::<_, bool>(&hash).await? {
        return Ok(None);
    }
    let list = keys.broadcast_texts(topic, id);
    let (mut start, mut cancelled) = (0, 0);
    loop {
        let ids: Vec<String> = conn.lrange(&list, start, start + CHUNK - 1).await?;
        let mut script_keys = vec![keys.scheduled(topic), hash.clone()];
        let mut args = vec![
            now_ms().to_string().into_bytes(),
            mark_ttl_s.to_string().into_bytes(),
        ];
        for text in &ids {
            script_keys.push(keys.outbound(topic, text));
            script_keys.push(keys.send_mark(topic, text, "outbound"));
            args.push(text.clone().into_bytes());
        }
        let done: u64 = conn
            .run_script(
                &CANCEL,
                include_str!("cancel_broadcast.lua"),
                &script_keys,
                &args,
            )
            .await
            .map_err(|e| e.into_redis("the cancel was not confirmed by replicas"))?;
        cancelled += done;
        if (ids.len() as isize) < CHUNK {
            return Ok(Some(cancelled));
        }
        start += CHUNK;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_recognised_and_a_csv_seed_gives_the_same_id_again() {
        assert!(is_broadcast_id(&new_id()));
        assert_eq!(id_of("csv:a:b"), id_of("csv:a:b"));
        assert_ne!(id_of("csv:a:b"), id_of("csv:a:c"));
        assert!(is_broadcast_id(&id_of("x")));
        for bad in [
            "BC",
            "OB0123456789abcdef0123456789abcdef",
            "BC0123456789ABCDEF0123456789ABCDEF",
        ] {
            assert!(!is_broadcast_id(bad), "{bad}");
        }
    }
}
