//! The opt-out ledger, kept per sender (every topic sending from one number or Messaging Service
//! holds a copy, see `senders`) and written in one place for every path that changes it: a STOP or START
//! keyword at ingress (once per MessageSid), and Twilio's error 21610 in answer to a send or in a
//! status callback. Every path has the same effect: the number in (or out of) the topic's
//! opt-out hash and, for an opt-out, the sender's session and any wait for their reply ended
//! (`opt_out.lua`). When the ledger changes and the topic has an `events_url`, the change is also
//! an event (`number.opted_out`, `number.opted_in`), written in the same step.

use std::sync::LazyLock;

use redis::Script;

use crate::domain::clock::now_ms;
use crate::domain::{MessageSid, PhoneNumber};
use crate::events::{note_emitted, Emit, EventKind, EMIT_FN};
use crate::store::connection::RedisConn;
use crate::store::keys::Keys;
use crate::twilio::client::UNSUBSCRIBED;

/// See `opt_out.lua` (after `emit_fn.lua`).
static OPT_OUT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{EMIT_FN}{}", include_str!("opt_out.lua"))));

/// Which way a number goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Stop texting it (its session ends).
    OptOut,
    /// Texting may resume.
    OptIn,
}

/// What caused the change, named in its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cause {
    /// A keyword of this MessageSid. With `once` it acts only the first time the MessageSid is
    /// seen (within `dedup_ttl_s`), so a replayed webhook changes nothing; without, every time
    /// (an opt-in keyword that also goes to the handler: its job's de-duplication marks it).
    Keyword {
        /// Its MessageSid.
        sid: MessageSid,
        /// Whether it acts once per MessageSid.
        once: bool,
    },
    /// Twilio said the recipient unsubscribed (21610), in answer to a send of `job` or in the
    /// status callback of the message `twilio_sid` (either may be empty when unknown); acts every
    /// time.
    Unsubscribed {
        /// The job whose send Twilio refused.
        job: String,
        /// Twilio's SID of the message whose callback said so.
        twilio_sid: String,
    },
}

/// How a process writes the ledger: its keys, how long a keyword's MessageSid is remembered,
/// and the topics that send events (`events_url`).
#[derive(Debug, Clone)]
pub(crate) struct Ledger {
    /// Key builder.
    pub keys: Keys,
    /// `dedup_ttl_s`.
    pub dedup_ttl_s: u64,
    /// Topics with an `events_url`.
    pub events: std::sync::Arc<std::collections::HashSet<String>>,
    /// Each topic's fellow topics sending from the same sender: a change is written to their
    /// copies of the ledger too.
    pub siblings: std::sync::Arc<crate::store::senders::Siblings>,
}

/// Applies `change` to `number` on `topic` and on every topic sending from the same sender (an
/// event too on each topic that has an `events_url` and whose copy changed); answers false when
/// a keyword's MessageSid was seen before (nothing changed). The fellow topics' copies are
/// written first and the keyword's MessageSid marked last, so a failure part-way is answered as
/// an error and the retry writes them all again.
pub(crate) async fn apply(
    conn: &mut RedisConn,
    ledger_of: &Ledger,
    topic: &str,
    number: &PhoneNumber,
    change: Change,
    cause: &Cause,
) -> redis::RedisResult<bool> {
    let siblings = ledger_of.siblings.get(topic).map_or(&[][..], Vec::as_slice);
    if siblings.is_empty() {
        return apply_one(conn, ledger_of, topic, number, change, cause).await;
    }
    if let Cause::Keyword { sid, once: true } = cause {
        let seen: bool =
            redis::AsyncCommands::exists(conn, ledger_of.keys.seen(topic, sid)).await?;
        if seen {
            return Ok(false);
        }
    }
    let shared = match cause {
        Cause::Keyword { sid, .. } => Cause::Keyword {
            sid: sid.clone(),
            once: false,
        },
        unsubscribed => unsubscribed.clone(),
    };
    for sibling in siblings {
        apply_one(conn, ledger_of, sibling, number, change, &shared).await?;
    }
    apply_one(conn, ledger_of, topic, number, change, cause).await
}

/// [`apply`] on one topic's copy of the ledger.
async fn apply_one(
    conn: &mut RedisConn,
    ledger_of: &Ledger,
    topic: &str,
    number: &PhoneNumber,
    change: Change,
    cause: &Cause,
) -> redis::RedisResult<bool> {
    let keys = &ledger_of.keys;
    let ledger = keys.opt_outs(topic);
    let kind = match change {
        Change::OptOut => EventKind::OptedOut,
        Change::OptIn => EventKind::OptedIn,
    };
    let mut event = Emit::of(ledger_of.events.contains(topic), kind);
    event.number = number.to_string();
    let (once, dedup_ttl_s) = match cause {
        Cause::Keyword { sid, once } => {
            event.job = sid.to_string();
            let once = (*once).then(|| keys.seen(topic, sid));
            (once, ledger_of.dedup_ttl_s)
        }
        Cause::Unsubscribed { job, twilio_sid } => {
            event.job = job.to_string();
            event.twilio_sid = twilio_sid.to_string();
            event.error_code = UNSUBSCRIBED.to_string();
            (None, 0)
        }
    };
    let now = now_ms();
    let (applied, emitted): (i64, i64) = OPT_OUT
        .key(once.clone().unwrap_or_else(|| ledger.clone()))
        .key(&ledger)
        .key(keys.session(topic, number.as_str()))
        .key(keys.sessions(topic))
        .key(keys.waiting(topic))
        .key(keys.waiting_job(topic, number.as_str()))
        .key(keys.events(topic))
        .key(keys.stats(topic))
        .arg(number.as_str())
        .arg(if change == Change::OptOut { "1" } else { "0" })
        .arg(now)
        .arg(dedup_ttl_s)
        .arg(if once.is_some() { "1" } else { "0" })
        .arg(&event.args(now))
        .invoke_async(conn)
        .await?;
    note_emitted(emitted, topic, kind.as_str());
    Ok(applied == 1)
}
