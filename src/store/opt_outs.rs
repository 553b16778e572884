//! The opt-out ledger, written in one place for every path that changes it: a STOP or START
//! keyword at ingress (once per MessageSid), and Twilio's error 21610 in answer to a send or in a
//! status callback. Every path has the same effect: the number in (or out of) the topic's
//! opt-out hash and, for an opt-out, the sender's session and any wait for their reply ended
//! (`opt_out.lua`).

use std::sync::LazyLock;

use redis::Script;

use crate::domain::clock::now_ms;
use crate::domain::{MessageSid, PhoneNumber};
use crate::store::connection::RedisConn;
use crate::store::keys::Keys;

/// See `opt_out.lua`.
static OPT_OUT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("opt_out.lua")));

/// Which way a number goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Stop texting it (its session ends).
    OptOut,
    /// Texting may resume.
    OptIn,
}

/// What caused the change: a keyword acts once per MessageSid within `dedup_ttl_s`; Twilio's
/// 21610 acts every time.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cause<'a> {
    /// A keyword of this MessageSid.
    Keyword {
        /// Its MessageSid.
        sid: &'a MessageSid,
        /// How long it is remembered.
        dedup_ttl_s: u64,
    },
    /// Twilio said the recipient unsubscribed (21610).
    Unsubscribed,
}

/// Applies `change` to `number` on `topic`; answers false when a keyword's MessageSid was seen
/// before (nothing changed).
pub(crate) async fn apply(
    conn: &mut RedisConn,
    keys: &Keys,
    topic: &str,
    number: &PhoneNumber,
    change: Change,
    cause: Cause<'_>,
) -> redis::RedisResult<bool> {
    let ledger = keys.opt_outs(topic);
    let (once, dedup_ttl_s) = match cause {
        Cause::Keyword { sid, dedup_ttl_s } => (Some(keys.seen(topic, sid)), dedup_ttl_s),
        Cause::Unsubscribed => (None, 0),
    };
    let applied: i64 = OPT_OUT
        .key(once.clone().unwrap_or_else(|| ledger.clone()))
        .key(&ledger)
        .key(keys.session(topic, number.as_str()))
        .key(keys.sessions(topic))
        .key(keys.waiting(topic))
        .key(keys.waiting_job(topic, number.as_str()))
        .arg(number.as_str())
        .arg(if change == Change::OptOut { "1" } else { "0" })
        .arg(now_ms())
        .arg(dedup_ttl_s)
        .arg(if once.is_some() { "1" } else { "0" })
        .invoke_async(conn)
        .await?;
    Ok(applied == 1)
}
