//! Every Lua script, called directly against the test Redis with its edge cases: the very text
//! the binary runs (`include_str!` of the same files), keys under a fresh prefix per test.

use std::collections::HashMap;

use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, Script};

use crate::common::redis_url;
use crate::helpers::random_prefix;

const ENQUEUE: &str = include_str!("../../src/actors/queue/enqueue.lua");
const OPT_OUT: &str = include_str!("../../src/store/opt_out.lua");
pub(crate) const PACE_FN: &str = include_str!("../../src/outbound/pace_fn.lua");
const PACING: &str = include_str!("../../src/outbound/pacing.lua");
const CLAIM_SEND: &str = include_str!("../../src/outbound/claim_send.lua");
pub(crate) const STATUS_FN: &str = include_str!("../../src/outbound/status_fn.lua");
const RECORD_STATUS: &str = include_str!("../../src/outbound/record_status.lua");
pub(crate) const SENT_FN: &str = include_str!("../../src/outbound/sent_fn.lua");
const STORE_SENT: &str = include_str!("../../src/outbound/store_sent.lua");
const EMIT_FN: &str = include_str!("../../src/events/emit_fn.lua");
const REQUEUE: &str = include_str!("../../src/store/requeue.lua");
pub(crate) const SESSION_FN: &str = include_str!("../../src/actors/recorder/session_fn.lua");

/// A connection, and a key builder under a prefix of its own.
pub(crate) async fn lab() -> (MultiplexedConnection, impl Fn(&str) -> String) {
    let client = redis::Client::open(redis_url()).unwrap();
    let redis = client.get_multiplexed_async_connection().await.unwrap();
    let prefix = random_prefix();
    (redis, move |rest: &str| format!("{prefix}:{{t}}:{rest}"))
}

/// Runs the enqueue script for jobs `(sid, sender, payload)`; answers per job.
async fn enqueue(
    redis: &mut MultiplexedConnection,
    key: &impl Fn(&str) -> String,
    max_depth: u64,
    jobs: &[(&str, &str, &str)],
) -> Vec<String> {
    let script = Script::new(ENQUEUE);
    let mut call = script.prepare_invoke();
    call.key(key("queue"));
    for (sid, sender, _) in jobs {
        call.key(key(&format!("seen:{sid}")))
            .key(key(&format!("sender:{sender}")));
    }
    call.arg(60).arg(max_depth);
    for (_, _, payload) in jobs {
        call.arg(*payload);
    }
    call.invoke_async(redis).await.unwrap()
}

#[actix_web::test]
async fn enqueue_answers_a_duplicate_inside_one_batch_with_its_first_copys_entry() {
    let (mut redis, key) = lab().await;
    let answers = enqueue(
        &mut redis,
        &key,
        100,
        &[
            ("SM1", "a", "{1}"),
            ("SM1", "a", "{1 again}"),
            ("SM2", "a", "{2}"),
        ],
    )
    .await;
    assert!(answers[0].starts_with('n'), "{answers:?}");
    assert_eq!(answers[1], format!("d{}", &answers[0][1..]));
    assert!(answers[2].starts_with('n'));
    let len: usize = redis.xlen(key("queue")).await.unwrap();
    assert_eq!(len, 2, "the duplicate is not appended");
    let order: Vec<String> = redis.lrange(key("sender:a"), 0, -1).await.unwrap();
    assert_eq!(order, [&answers[0][1..], &answers[2][1..]]);
    let ttl: i64 = redis.ttl(key("seen:SM1")).await.unwrap();
    assert!((1..=60).contains(&ttl), "seen key expires: {ttl}");

    // A later batch sees the same MessageSid as a duplicate too, and writes nothing.
    let again = enqueue(&mut redis, &key, 100, &[("SM2", "a", "{2}")]).await;
    assert_eq!(again[0], format!("d{}", &answers[2][1..]));
    let len: usize = redis.xlen(key("queue")).await.unwrap();
    assert_eq!(len, 2);
}

#[actix_web::test]
async fn enqueue_fills_the_queue_part_way_through_a_batch() {
    let (mut redis, key) = lab().await;
    enqueue(&mut redis, &key, 10, &[("SM0", "a", "{0}")]).await;
    let answers = enqueue(
        &mut redis,
        &key,
        3,
        &[
            ("SM1", "a", "{1}"),
            ("SM0", "a", "{0}"),
            ("SM2", "b", "{2}"),
            ("SM3", "b", "{3}"),
        ],
    )
    .await;
    assert!(answers[0].starts_with('n'), "{answers:?}");
    assert!(
        answers[1].starts_with('d'),
        "a duplicate is answered even when full"
    );
    assert!(answers[2].starts_with('n'));
    assert_eq!(answers[3], "f");
    let len: usize = redis.xlen(key("queue")).await.unwrap();
    assert_eq!(len, 3);
    let refused: bool = redis.exists(key("seen:SM3")).await.unwrap();
    assert!(
        !refused,
        "a refused job is not marked seen, so Twilio's retry may queue it"
    );
}

#[actix_web::test]
async fn opt_out_acts_once_per_message_sid_and_ends_the_session() {
    let (mut redis, key) = lab().await;
    let _: () = redis
        .set(key("session:+15551234567"), r#"{"n":1}"#)
        .await
        .unwrap();
    let _: () = redis
        .zadd(key("sessions"), "+15551234567", u64::MAX / 2)
        .await
        .unwrap();
    let script = Script::new(&format!("{EMIT_FN}{OPT_OUT}"));
    let call = |sid: &str, out: &str| {
        let kind = if out == "1" {
            "number.opted_out"
        } else {
            "number.opted_in"
        };
        let mut call = script.prepare_invoke();
        call.key(key(&format!("seen:{sid}")))
            .key(key("optout"))
            .key(key("session:+15551234567"))
            .key(key("sessions"))
            .key(key("waiting"))
            .key(key("waiting:+15551234567"))
            .key(key("events"))
            .key(key("stats"))
            .arg("+15551234567")
            .arg(out)
            .arg(1_000)
            .arg(60)
            .arg("1")
            .arg(&[
                "100",
                &format!("evt_{sid}"),
                kind,
                "1000",
                "+15551234567",
                sid,
                "",
                "",
                "",
                "",
            ]);
        call
    };
    let stop = call("SM1", "1");
    let start = call("SM2", "0");
    let answer = |(applied, _): (i64, i64)| applied;
    assert_eq!(answer(stop.invoke_async(&mut redis).await.unwrap()), 1);
    assert_eq!(answer(start.invoke_async(&mut redis).await.unwrap()), 1);
    let stop_again = call("SM3", "1");
    assert_eq!(
        stop_again
            .invoke_async::<(i64, i64)>(&mut redis)
            .await
            .unwrap(),
        (1, 1),
        "applied, and an event"
    );
    assert_eq!(
        call("SM4", "1")
            .invoke_async::<(i64, i64)>(&mut redis)
            .await
            .unwrap(),
        (1, 0),
        "a STOP from a number already out changes nothing: no event"
    );
    assert_eq!(
        start.invoke_async::<(i64, i64)>(&mut redis).await.unwrap(),
        (0, 0),
        "replay"
    );
    let events: Vec<(String, HashMap<String, String>)> = redis::cmd("XRANGE")
        .arg(key("events"))
        .arg("-")
        .arg("+")
        .query_async(&mut redis)
        .await
        .unwrap();
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|(_, f)| (f["type"].as_str(), f["job"].as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("number.opted_out", "SM1"),
            ("number.opted_in", "SM2"),
            ("number.opted_out", "SM3")
        ]
    );
    let out: bool = redis.hexists(key("optout"), "+15551234567").await.unwrap();
    assert!(out);
    let session: Option<String> = redis.get(key("session:+15551234567")).await.unwrap();
    assert_eq!(session, None);
    let live: u64 = redis.zcard(key("sessions")).await.unwrap();
    assert_eq!(live, 0);
}

/// Runs the save-session script for `number` as the recorder does: mode, JSON, TTL, now.
async fn save_session(
    redis: &mut MultiplexedConnection,
    key: &impl Fn(&str) -> String,
    number: &str,
    mode: &str,
    json: &str,
    now: u64,
) -> i64 {
    // The function the completion opens with, called on its own.
    let call = "return save_session(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], \
                tonumber(ARGV[4]), tonumber(ARGV[5]))";
    Script::new(&format!("{SESSION_FN}{call}"))
        .key(key(&format!("session:{number}")))
        .key(key("sessions"))
        .key(key("optout"))
        .arg(number)
        .arg(mode)
        .arg(json)
        .arg(100)
        .arg(now)
        .invoke_async(redis)
        .await
        .unwrap()
}

#[actix_web::test]
async fn save_session_replaces_keeps_ends_and_saves_nothing_for_an_opted_out_number() {
    let (mut redis, key) = lab().await;
    let now = 1_000_000;
    // Keep creates nothing.
    assert_eq!(
        save_session(&mut redis, &key, "a", "keep", "", now).await,
        0
    );
    let exists: bool = redis.exists(key("session:a")).await.unwrap();
    assert!(!exists);
    // Replace stores with the TTL and scores the expiry; a past entry is trimmed.
    let _: () = redis.zadd(key("sessions"), "stale", now - 1).await.unwrap();
    assert_eq!(
        save_session(&mut redis, &key, "a", "replace", r#"{"n":1}"#, now).await,
        1
    );
    let stored: String = redis.get(key("session:a")).await.unwrap();
    assert_eq!(stored, r#"{"n":1}"#);
    let ttl: i64 = redis.ttl(key("session:a")).await.unwrap();
    assert!((99..=100).contains(&ttl), "{ttl}");
    let live: Vec<(String, u64)> = redis
        .zrange_withscores(key("sessions"), 0, -1)
        .await
        .unwrap();
    assert_eq!(live, vec![("a".to_string(), now + 100_000)]);
    // Keep restarts the clock of an existing session.
    let _: () = redis.expire(key("session:a"), 5).await.unwrap();
    assert_eq!(
        save_session(&mut redis, &key, "a", "keep", "", now + 1).await,
        1
    );
    let ttl: i64 = redis.ttl(key("session:a")).await.unwrap();
    assert!(ttl > 5, "{ttl}");
    // End deletes it and its entry.
    assert_eq!(save_session(&mut redis, &key, "a", "end", "", now).await, 0);
    let live: u64 = redis.zcard(key("sessions")).await.unwrap();
    assert_eq!(live, 0);
    // A number in the opt-out hash keeps no session, whatever the job asked for.
    let _: () = redis.hset(key("optout"), "b", 1).await.unwrap();
    assert_eq!(
        save_session(&mut redis, &key, "b", "replace", r#"{"n":2}"#, now).await,
        0
    );
    let exists: bool = redis.exists(key("session:b")).await.unwrap();
    assert!(!exists);
}

#[actix_web::test]
async fn pacing_spaces_reservations_by_the_interval_in_microseconds() {
    let (mut redis, key) = lab().await;
    let script = Script::new(&format!("{PACE_FN}{PACING}"));
    let mut waits = Vec::new();
    for segments in [1, 2, 1] {
        let wait: String = script
            .key(key("rate"))
            .arg(100_000) // 10 per second
            .arg(segments)
            .invoke_async(&mut redis)
            .await
            .unwrap();
        waits.push(wait.parse::<i64>().unwrap());
    }
    assert!(waits[0] <= 1_000, "the first goes at once: {waits:?}");
    // Reserved 1 then 2 segments: the second waits ~100 ms, the third ~300 ms (µs, less the time
    // the calls took).
    assert!((50_000..=100_000).contains(&waits[1]), "{waits:?}");
    assert!((250_000..=300_000).contains(&waits[2]), "{waits:?}");
    let pttl: i64 = redis.pttl(key("rate")).await.unwrap();
    assert!((1_000..=1_400).contains(&pttl), "expires once past: {pttl}");
}

/// Runs `claim_send.lua` for `markers` (each to +15551234567, two segments), in one call: each
/// send's answer.
async fn claim_sends(
    redis: &mut MultiplexedConnection,
    key: &impl Fn(&str) -> String,
    markers: &[&str],
    interval: u64,
) -> Vec<Vec<redis::Value>> {
    claim_sends_in(redis, key, markers, interval, "0").await
}

/// [`claim_sends`] with each send's lane flag (`1`: bulk).
async fn claim_sends_in(
    redis: &mut MultiplexedConnection,
    key: &impl Fn(&str) -> String,
    markers: &[&str],
    interval: u64,
    bulk: &str,
) -> Vec<Vec<redis::Value>> {
    let script = Script::new(&format!("{PACE_FN}{CLAIM_SEND}"));
    let mut call = script.prepare_invoke();
    call.key(key("optout")).key(key("rate"));
    call.arg(1_000).arg(60).arg(interval);
    for marker in markers {
        call.key(key(marker)).arg("+15551234567").arg(2).arg(bulk);
    }
    call.invoke_async(redis).await.unwrap()
}

#[actix_web::test]
async fn a_claim_for_a_cancelled_text_marks_nothing() {
    let (mut redis, key) = lab().await;
    // The broadcast's cancel wrote `cancelled` on OB1's marker; OB2 is merely queued.
    let _: () = redis
        .hset(key("send:OB1:outbound"), "cancelled", "1")
        .await
        .unwrap();
    let script = Script::new(&format!("{PACE_FN}{CLAIM_SEND}"));
    let mut call = script.prepare_invoke();
    call.key(key("optout"))
        .key(key("rate"))
        .arg(1_000)
        .arg(60)
        .arg(0);
    for id in ["OB1", "OB2"] {
        call.key(key(&format!("send:{id}:outbound")));
        call.arg("+15551234567").arg(1).arg(0);
    }
    let answers: Vec<Vec<redis::Value>> = call.invoke_async(&mut redis).await.unwrap();
    assert_eq!(strings(&answers[0]), ["0", "0", "cancelled", "1"]);
    assert_eq!(strings(&answers[1]), ["0", "0"], "a queued text is claimed");
    let marked: bool = redis
        .hexists(key("send:OB1:outbound"), "marked_at")
        .await
        .unwrap();
    assert!(!marked);
}

#[actix_web::test]
async fn a_bulk_claim_takes_the_pace_only_when_it_is_free_and_is_not_marked_while_held() {
    let (mut redis, key) = lab().await;
    // Free pace: a bulk send is marked and reserves its turn like any other.
    let first = claim_sends_in(&mut redis, &key, &["send:OB1:outbound"], 100_000, "1").await;
    assert_eq!(
        strings(&first[0])[..2],
        ["0", "0"],
        "{:?}",
        strings(&first[0])
    );
    // Now taken (two segments, ~200 ms): the next bulk send is held, unmarked, told to wait.
    let held = claim_sends_in(&mut redis, &key, &["send:OB2:outbound"], 100_000, "1").await;
    let answer = strings(&held[0]);
    assert_eq!(answer[2..], ["held", "1"], "{answer:?}");
    let wait: i64 = answer[1].parse().unwrap();
    assert!((100_000..=200_000).contains(&wait), "{wait}");
    let marked: bool = redis.exists(key("send:OB2:outbound")).await.unwrap();
    assert!(!marked, "a held bulk send is not marked");
    // A reply still reserves behind the taken pace, and holds the bulk send off longer.
    let reply = claim_sends(&mut redis, &key, &["send:SM1:reply"], 100_000).await;
    let reply_wait: i64 = redis::from_redis_value(&reply[0][1]).unwrap();
    assert!((100_000..=200_000).contains(&reply_wait), "{reply_wait}");
    let later = claim_sends_in(&mut redis, &key, &["send:OB2:outbound"], 100_000, "1").await;
    let later_wait: i64 = strings(&later[0])[1].parse().unwrap();
    assert!(later_wait > reply_wait, "{later_wait} after {reply_wait}");
}

fn strings(answer: &[redis::Value]) -> Vec<String> {
    answer
        .iter()
        .map(|v| redis::from_redis_value(v).unwrap())
        .collect()
}

#[actix_web::test]
async fn claim_send_marks_a_fresh_send_once_and_never_for_an_opted_out_number() {
    let (mut redis, key) = lab().await;
    let fresh = claim_sends(&mut redis, &key, &["send:SM1:reply"], 0).await;
    assert_eq!(
        strings(&fresh[0]),
        ["0", "0"],
        "fresh, now marked, not paced"
    );
    let again = claim_sends(&mut redis, &key, &["send:SM1:reply"], 0).await;
    assert_eq!(
        strings(&again[0]),
        ["0", "0", "marked_at", "1000"],
        "marked before"
    );
    let ttl: i64 = redis.ttl(key("send:SM1:reply")).await.unwrap();
    assert!((55..=60).contains(&ttl), "{ttl}");

    // Paced at 10 segments a second, in one call: the first fresh send goes now, the next one
    // (two segments reserved before it) waits about 200 ms; a repeat reserves nothing.
    let paced = claim_sends(
        &mut redis,
        &key,
        &["send:SM3:reply", "send:SM4:reply", "send:SM4:reply"],
        100_000,
    )
    .await;
    let waits: Vec<i64> = paced
        .iter()
        .map(|answer| redis::from_redis_value(&answer[1]).unwrap())
        .collect();
    assert!(waits[0] <= 1_000, "{waits:?}");
    assert!((150_000..=200_000).contains(&waits[1]), "{waits:?}");
    assert_eq!(waits[2], 0, "{waits:?}");
    assert_eq!(strings(&paced[2])[2..], ["marked_at", "1000"]);

    let _: () = redis.hset(key("optout"), "+15551234567", 1).await.unwrap();
    let opted = claim_sends(&mut redis, &key, &["send:SM2:reply"], 0).await;
    assert_eq!(strings(&opted[0]), ["1", "0"]);
    let marked: bool = redis.exists(key("send:SM2:reply")).await.unwrap();
    assert!(!marked, "nothing is marked for an opted-out number");
}

async fn record_status(
    redis: &mut MultiplexedConnection,
    key: &impl Fn(&str) -> String,
    status: &str,
    rank: u8,
    code: &str,
) -> i64 {
    record_status_of(redis, &key("delivery:SMout"), status, rank, code, false)
        .await
        .0
}

/// Runs `record_status.lua` without an event: {moved, to}.
async fn record_status_of(
    redis: &mut MultiplexedConnection,
    delivery: &str,
    status: &str,
    rank: u8,
    code: &str,
    known_only: bool,
) -> (i64, String) {
    let (moved, to, _) = record_status_with_event(
        redis,
        &[
            delivery.to_string(),
            format!("{delivery}:events"),
            format!("{delivery}:stats"),
        ],
        (status, rank, code),
        known_only,
        ("", 100),
    )
    .await;
    (moved, to)
}

/// Runs `record_status.lua` with keys (delivery, events, stats), the status (status, rank,
/// code) and an event (its id, '' for none, and the backlog's cap): {moved, to, event}.
async fn record_status_with_event(
    redis: &mut MultiplexedConnection,
    keys: &[String; 3],
    (status, rank, code): (&str, u8, &str),
    known_only: bool,
    (id, cap): (&str, u64),
) -> (i64, String, i64) {
    Script::new(&format!("{STATUS_FN}{EMIT_FN}{RECORD_STATUS}"))
        .key(&keys[0])
        .key(&keys[1])
        .key(&keys[2])
        .arg(status)
        .arg(rank)
        .arg(code)
        .arg(5_000)
        .arg(60)
        .arg(if known_only { "1" } else { "0" })
        .arg(&[
            &cap.to_string(),
            id,
            &format!("message.{status}"),
            "5000",
            "+15550000000",
            "",
            "SMout",
            status,
            code,
            "",
        ])
        .invoke_async(redis)
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_final_status_is_one_event_naming_the_sends_job_and_a_full_backlog_drops_it() {
    let (mut redis, key) = lab().await;
    let stored: i64 = Script::new(&format!("{STATUS_FN}{SENT_FN}{STORE_SENT}"))
        .key(key("send:SMin:reply"))
        .key(key("delivery:SMout"))
        .arg(&[
            "SMout",
            "queued",
            "1",
            "60",
            "2",
            "1000",
            "+15551234567",
            "SMin",
        ])
        .invoke_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(stored, 1);
    let keys = [key("delivery:SMout"), key("events"), key("stats")];
    let undelivered = ("undelivered", 6, "30003");
    let first = record_status_with_event(&mut redis, &keys, undelivered, true, ("evt_1", 2)).await;
    let again = record_status_with_event(&mut redis, &keys, undelivered, true, ("evt_2", 2)).await;
    assert_eq!(first, (1, "+15551234567".to_string(), 1));
    assert_eq!(
        again.2, 0,
        "a repeated callback does not move: no second event"
    );
    let events: Vec<(String, HashMap<String, String>)> = redis::cmd("XRANGE")
        .arg(key("events"))
        .arg("-")
        .arg("+")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    let fields = &events[0].1;
    assert_eq!(fields["id"], "evt_1");
    assert_eq!(fields["type"], "message.undelivered");
    assert_eq!(fields["number"], "+15551234567", "the send's recipient");
    assert_eq!(fields["job"], "SMin", "the job the send was for");
    assert_eq!(fields["twilio_sid"], "SMout");
    assert_eq!(fields["error_code"], "30003");

    // A backlog at its cap takes no more: the event is dropped and counted.
    let other = [key("delivery:SMother"), key("events"), key("stats")];
    let full = record_status_with_event(&mut redis, &other, undelivered, false, ("evt_3", 1)).await;
    assert_eq!(full.2, -1);
    let dropped: u64 = redis.hget(key("stats"), "events_dropped").await.unwrap();
    assert_eq!(dropped, 1);
    let length: u64 = redis.xlen(key("events")).await.unwrap();
    assert_eq!(length, 1);
}

#[actix_web::test]
async fn a_status_for_a_sid_never_stored_is_dropped_when_only_stored_ones_count() {
    let (mut redis, key) = lab().await;
    let unknown = record_status_of(&mut redis, &key("delivery:SMnew"), "sent", 4, "", true).await;
    let stored: bool = redis.exists(key("delivery:SMnew")).await.unwrap();
    let early = record_status_of(&mut redis, &key("delivery:SMnew"), "sent", 4, "", false).await;

    assert_eq!(unknown, (-1, String::new()), "nothing stored for it");
    assert!(!stored);
    assert_eq!(early, (1, String::new()), "a signed early callback is kept");
}

#[actix_web::test]
async fn a_status_arriving_out_of_order_or_tied_in_rank_changes_nothing() {
    let (mut redis, key) = lab().await;
    assert_eq!(record_status(&mut redis, &key, "queued", 2, "").await, 1);
    assert_eq!(record_status(&mut redis, &key, "delivered", 6, "").await, 1);
    assert_eq!(
        record_status(&mut redis, &key, "sent", 4, "").await,
        0,
        "late"
    );
    assert_eq!(
        record_status(&mut redis, &key, "failed", 6, "30003").await,
        0,
        "a rank tie: the first final status wins"
    );
    let hash: HashMap<String, String> = redis.hgetall(key("delivery:SMout")).await.unwrap();
    assert_eq!(hash["status"], "delivered");
    assert_eq!(hash["history"], "queued,delivered");
    assert!(!hash.contains_key("error_code"));
    let ttl: i64 = redis.ttl(key("delivery:SMout")).await.unwrap();
    assert!((1..=60).contains(&ttl));
}

#[actix_web::test]
async fn store_sent_keeps_the_sid_and_does_not_move_a_later_status_back() {
    let (mut redis, key) = lab().await;
    assert_eq!(record_status(&mut redis, &key, "delivered", 6, "").await, 1);
    let stored: i64 = Script::new(&format!("{STATUS_FN}{SENT_FN}{STORE_SENT}"))
        .key(key("send:SM1:reply"))
        .key(key("delivery:SMout"))
        .arg("SMout")
        .arg("queued")
        .arg("2")
        .arg(60)
        .arg(2)
        .arg(6_000)
        .arg("+15551234567")
        .arg("SM1")
        .invoke_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(stored, 1);
    let marker: HashMap<String, String> = redis.hgetall(key("send:SM1:reply")).await.unwrap();
    assert_eq!(marker["sid"], "SMout");
    assert_eq!(marker["num_segments"], "2");
    let status: String = redis.hget(key("delivery:SMout"), "status").await.unwrap();
    assert_eq!(
        status, "delivered",
        "a callback that beat Twilio's answer stays"
    );
    let (_, to) = record_status_of(&mut redis, &key("delivery:SMout"), "read", 7, "", true).await;
    assert_eq!(to, "+15551234567", "the recipient is kept with the send");
}

#[actix_web::test]
async fn requeue_of_a_dead_letter_that_no_longer_exists_changes_nothing() {
    let (mut redis, key) = lab().await;
    let script = Script::new(REQUEUE);
    let requeue = |max_depth: u64| {
        let mut call = script.prepare_invoke();
        call.key(key("dead"))
            .key(key("dead:SM1"))
            .key(key("queue"))
            .key(key("sender:a"))
            .key(key("attempts:SM1"))
            .arg("SM1")
            .arg("{job}")
            .arg(max_depth);
        call
    };
    let gone = requeue(10);
    let full = requeue(0);
    let answer: Option<String> = gone.invoke_async(&mut redis).await.unwrap();
    assert_eq!(answer, None);
    let len: usize = redis.xlen(key("queue")).await.unwrap();
    assert_eq!(len, 0, "nothing queued for a missing dead letter");

    let _: () = redis.set(key("dead:SM1"), "{}").await.unwrap();
    let _: () = redis.zadd(key("dead"), "SM1", 1).await.unwrap();
    let _: () = redis.rpush(key("attempts:SM1"), "x").await.unwrap();
    let answer: Option<String> = full.invoke_async(&mut redis).await.unwrap();
    assert_eq!(answer.as_deref(), Some("f"), "the queue is full");
    let answer: Option<String> = gone.invoke_async(&mut redis).await.unwrap();
    let id = answer.unwrap();
    assert!(id.starts_with('n'), "{id}");
    let left: usize = redis.zcard(key("dead")).await.unwrap();
    let attempts: bool = redis.exists(key("attempts:SM1")).await.unwrap();
    let order: Vec<String> = redis.lrange(key("sender:a"), 0, -1).await.unwrap();
    assert_eq!((left, attempts), (0, false));
    assert_eq!(order, [&id[1..]]);
}

const PLAN_FN: &str = include_str!("../../src/outbound/plan_fn.lua");
const ENQUEUE_OUTBOUND: &str = include_str!("../../src/outbound/enqueue_outbound.lua");
const CHECK_OUTBOUND: &str = include_str!("../../src/outbound/check_outbound.lua");
const DUE: &str = include_str!("../../src/outbound/due.lua");
const CANCEL: &str = include_str!("../../src/outbound/cancel.lua");

/// One outbound text for the enqueue script: id, recipient, send_at (0: now), idempotency key.
/// Its fingerprint is its recipient, so the same key to another number is another message.
struct Text<'a>(&'a str, &'a str, u64, &'a str);

/// Runs the outbound enqueue script as the outbox does; answers the flat `[id, status, ...]`.
async fn enqueue_outbound(
    redis: &mut MultiplexedConnection,
    key: &impl Fn(&str) -> String,
    max_depth: u64,
    now: u64,
    texts: &[Text<'_>],
) -> redis::RedisResult<Vec<String>> {
    enqueue_outbound_in(redis, key, (max_depth, 1000), now, texts, false).await
}

/// [`enqueue_outbound`] with both bounds (`max_queue_depth`, `max_bulk_depth`), every text in
/// the bulk lane when `bulk`.
async fn enqueue_outbound_in(
    redis: &mut MultiplexedConnection,
    key: &impl Fn(&str) -> String,
    bounds: (u64, u64),
    now: u64,
    texts: &[Text<'_>],
    bulk: bool,
) -> redis::RedisResult<Vec<String>> {
    outbound_script(ENQUEUE_OUTBOUND, redis, key, bounds, now, texts, bulk).await
}

/// Runs `plan_fn.lua` followed by `tail` (the enqueue or the check) as the outbox does.
async fn outbound_script<T: redis::FromRedisValue>(
    tail: &str,
    redis: &mut MultiplexedConnection,
    key: &impl Fn(&str) -> String,
    (max_depth, max_bulk): (u64, u64),
    now: u64,
    texts: &[Text<'_>],
    bulk: bool,
) -> redis::RedisResult<T> {
    let script = Script::new(&format!("{PLAN_FN}{tail}"));
    let mut call = script.prepare_invoke();
    call.key(key("queue"))
        .key(key("optout"))
        .key(key("scheduled"))
        .key(key("bulk"))
        .key(key("queue"))
        .key(key("queue"));
    let sender = if bulk { "bulksender" } else { "sender" };
    for Text(id, to, _, idem) in texts {
        let idem = if idem.is_empty() {
            key(&format!("out:{id}"))
        } else {
            key(&format!("idem:{idem}"))
        };
        call.key(key(&format!("out:{id}")))
            .key(key(&format!("{sender}:{to}")))
            .key(idem);
    }
    call.arg(60)
        .arg(max_depth)
        .arg(now)
        .arg(600)
        .arg(max_bulk)
        .arg("");
    for Text(id, to, send_at, idem) in texts {
        call.arg(*id)
            .arg(*to)
            .arg(format!("{{\"id\":\"{id}\"}}"))
            .arg(*send_at)
            .arg(*idem)
            .arg(format!("fp{to}"))
            .arg(if bulk { "bulk" } else { "" });
    }
    call.invoke_async(redis).await
}

#[actix_web::test]
async fn bulk_texts_go_to_the_bulk_lane_under_their_own_bound() {
    let (mut redis, key) = lab().await;
    let now = 1_000_000;
    // The interactive queue is full; bulk texts do not need its room.
    let texts = [Text("OB1", "+1", 0, ""), Text("OB2", "+1", 0, "")];
    let answer = enqueue_outbound_in(&mut redis, &key, (0, 3), now, &texts, true)
        .await
        .unwrap();
    assert_eq!(answer, ["OB1", "queued", "OB2", "queued"]);
    assert_eq!(redis.xlen::<_, u64>(key("bulk")).await.unwrap(), 2);
    assert_eq!(redis.xlen::<_, u64>(key("queue")).await.unwrap(), 0);
    let order: Vec<String> = redis.lrange(key("bulksender:+1"), 0, -1).await.unwrap();
    assert_eq!(order.len(), 2, "in the number's bulk order");
    let lane: String = redis.hget(key("out:OB1"), "lane").await.unwrap();
    assert_eq!(lane, "bulk");
    // Room for one more bulk text, not two: nothing written.
    let more = [Text("OB3", "+2", 0, ""), Text("OB4", "+2", 0, "")];
    let error = enqueue_outbound_in(&mut redis, &key, (0, 3), now, &more, true)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("QUEUEFULL"));
    assert!(
        error.detail().unwrap_or_default().contains("bulk"),
        "{error}"
    );
    // A scheduled bulk text moves to the bulk lane when due.
    let later = [Text("OB5", "+5", now + 1, "")];
    enqueue_outbound_in(&mut redis, &key, (0, 10), now, &later, true)
        .await
        .unwrap();
    let due = Script::new(DUE);
    let mut call = due.prepare_invoke();
    call.key(key("scheduled"))
        .key(key("queue"))
        .key(key("optout"))
        .key(key("bulk"))
        .key(key("out:OB5"))
        .key(key("sender:+5"))
        .key(key("bulksender:+5"))
        .arg(600)
        .arg("OB5|+5")
        .arg("+5");
    let moved: u64 = call.invoke_async(&mut redis).await.unwrap();
    assert_eq!(moved, 1);
    assert_eq!(redis.xlen::<_, u64>(key("bulk")).await.unwrap(), 3);
    let order: Vec<String> = redis.lrange(key("bulksender:+5"), 0, -1).await.unwrap();
    assert_eq!(order.len(), 1);
}

#[actix_web::test]
async fn enqueue_outbound_queues_schedules_skips_opt_outs_and_repeats_and_takes_all_or_nothing() {
    let (mut redis, key) = lab().await;
    let now = 1_000_000;
    let _: () = redis.hset(key("optout"), "+3", 1).await.unwrap();
    let answer = enqueue_outbound(
        &mut redis,
        &key,
        10,
        now,
        &[
            Text("OB1", "+1", 0, "k1"),
            Text("OB2", "+2", now + 5_000, ""),
            Text("OB3", "+3", 0, ""),
            Text("OB4", "+1", 0, "k1"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        answer,
        vec![
            "OB1",
            "queued",
            "OB2",
            "scheduled",
            "OB3",
            "opted_out",
            "OB1",
            "duplicate"
        ]
    );
    assert_eq!(redis.xlen::<_, u64>(key("queue")).await.unwrap(), 1);
    let sender: Vec<String> = redis.lrange(key("sender:+1"), 0, -1).await.unwrap();
    assert_eq!(sender.len(), 1);
    let scheduled: Vec<(String, u64)> = redis
        .zrange_withscores(key("scheduled"), 0, -1)
        .await
        .unwrap();
    assert_eq!(scheduled, vec![("OB2|+2".to_string(), now + 5_000)]);
    let status: String = redis.hget(key("out:OB3"), "status").await.unwrap();
    assert_eq!(status, "opted_out");

    // Room for one more text due now, not two: nothing of the batch is written.
    let _: () = redis.del(key("queue")).await.unwrap();
    let error = enqueue_outbound(
        &mut redis,
        &key,
        1,
        now,
        &[Text("OB5", "+5", 0, "k5"), Text("OB6", "+6", 0, "")],
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), Some("QUEUEFULL"));
    let written: bool = redis.exists(key("out:OB5")).await.unwrap();
    let remembered: bool = redis.exists(key("idem:k5")).await.unwrap();
    assert!(!written && !remembered);
}

/// Runs the outbound check as the outbox does before a request of several chunks.
async fn check_outbound(
    redis: &mut MultiplexedConnection,
    key: &impl Fn(&str) -> String,
    max_depth: u64,
    now: u64,
    texts: &[Text<'_>],
) -> redis::RedisResult<String> {
    outbound_script(
        CHECK_OUTBOUND,
        redis,
        key,
        (max_depth, 1000),
        now,
        texts,
        false,
    )
    .await
}

#[actix_web::test]
async fn the_check_reads_opt_outs_only_to_settle_the_room_and_then_counts_as_the_enqueue_does() {
    let (mut redis, key) = lab().await;
    let now = 1_000_000;
    let texts = [
        Text("OB1", "+1", 0, ""),
        Text("OB2", "+2", 0, ""),
        Text("OB3", "+3", 0, ""),
    ];
    // The opt-out key is not a hash: a read of it would fail the script.
    let _: () = redis.set(key("optout"), "not a hash").await.unwrap();
    let fits_all = check_outbound(&mut redis, &key, 3, now, &texts).await;
    assert_eq!(
        fits_all.unwrap(),
        "ok",
        "room for every text: no opt-out read"
    );
    let in_doubt = check_outbound(&mut redis, &key, 2, now, &texts).await;
    assert_eq!(
        in_doubt.unwrap_err().code(),
        Some("WRONGTYPE"),
        "room in doubt: read"
    );

    // One opted out: it takes no room, in the check as in the enqueue.
    let _: () = redis.del(key("optout")).await.unwrap();
    let _: () = redis.hset(key("optout"), "+3", 1).await.unwrap();
    assert_eq!(
        check_outbound(&mut redis, &key, 2, now, &texts)
            .await
            .unwrap(),
        "ok"
    );
    let queued = enqueue_outbound(&mut redis, &key, 2, now, &texts)
        .await
        .unwrap();
    assert_eq!(queued[5], "opted_out");
    let more = [Text("OB4", "+4", 0, ""), Text("OB5", "+5", 0, "")];
    let full = check_outbound(&mut redis, &key, 3, now, &more).await;
    assert_eq!(full.unwrap_err().code(), Some("QUEUEFULL"));
    assert_eq!(
        redis.xlen::<_, u64>(key("queue")).await.unwrap(),
        2,
        "the check writes nothing"
    );
}

#[actix_web::test]
async fn enqueue_outbound_refuses_a_key_reused_with_another_message_and_reads_old_keys() {
    let (mut redis, key) = lab().await;
    let now = 1_000_000;
    let first = [Text("OB1", "+1", 0, "k1")];
    enqueue_outbound(&mut redis, &key, 10, now, &first)
        .await
        .unwrap();
    // A key stored by the previous release holds the id alone.
    let _: () = redis.set(key("idem:old"), "OB0").await.unwrap();

    let reused = enqueue_outbound(
        &mut redis,
        &key,
        10,
        now,
        &[Text("OB2", "+2", 0, "k2"), Text("OB3", "+9", 0, "k1")],
    )
    .await
    .unwrap_err();
    let in_batch = enqueue_outbound(
        &mut redis,
        &key,
        10,
        now,
        &[Text("OB4", "+4", 0, "k4"), Text("OB5", "+5", 0, "k4")],
    )
    .await
    .unwrap_err();
    let old = enqueue_outbound(&mut redis, &key, 10, now, &[Text("OB6", "+6", 0, "old")])
        .await
        .unwrap();

    assert_eq!(
        (reused.code(), reused.detail()),
        (Some("IDEMCONFLICT"), Some("1"))
    );
    assert_eq!(
        (in_batch.code(), in_batch.detail()),
        (Some("IDEMCONFLICT"), Some("1"))
    );
    let written: bool = redis.exists(key("out:OB2")).await.unwrap();
    let remembered: bool = redis.exists(key("idem:k2")).await.unwrap();
    assert!(
        !written && !remembered,
        "nothing of a refused batch is written"
    );
    assert_eq!(old, ["OB0", "duplicate"], "an old key answers its id");
    let stored: String = redis.get(key("idem:k1")).await.unwrap();
    assert_eq!(stored, "OB1 fp+1");
}

#[actix_web::test]
async fn due_moves_each_text_once_and_cancel_stops_only_scheduled_ones() {
    let (mut redis, key) = lab().await;
    let now = 1_000_000;
    enqueue_outbound(
        &mut redis,
        &key,
        10,
        now,
        &[
            Text("OB1", "+1", now + 1, ""),
            Text("OB2", "+2", now + 1, ""),
            Text("OB3", "+3", now + 1, ""),
        ],
    )
    .await
    .unwrap();
    // Cancelled before it is due; the opted-out one is marked, not queued.
    let (cancel_script, due_script) = (Script::new(CANCEL), Script::new(DUE));
    let cancel = |id: &str| {
        let mut call = cancel_script.prepare_invoke();
        call.key(key("scheduled"))
            .key(key(&format!("out:{id}")))
            .arg(id);
        call
    };
    let answer: String = cancel("OB2").invoke_async(&mut redis).await.unwrap();
    assert_eq!(answer, "cancelled");
    let _: () = redis.hset(key("optout"), "+3", 1).await.unwrap();
    let due = |members: &[(&str, &str)]| {
        let mut call = due_script.prepare_invoke();
        call.key(key("scheduled"))
            .key(key("queue"))
            .key(key("optout"))
            .key(key("bulk"));
        for (id, to) in members {
            call.key(key(&format!("out:{id}")))
                .key(key(&format!("sender:{to}")))
                .key(key(&format!("bulksender:{to}")));
        }
        call.arg(600);
        for (id, to) in members {
            call.arg(format!("{id}|{to}")).arg(*to);
        }
        call
    };
    let all = [("OB1", "+1"), ("OB2", "+2"), ("OB3", "+3")];
    let first: u64 = due(&all).invoke_async(&mut redis).await.unwrap();
    let second: u64 = due(&all).invoke_async(&mut redis).await.unwrap();
    assert_eq!((first, second), (1, 0), "queued once");
    assert_eq!(redis.xlen::<_, u64>(key("queue")).await.unwrap(), 1);
    let statuses: Vec<String> = futures_util::future::join_all(["OB1", "OB2", "OB3"].map(|id| {
        let mut redis = redis.clone();
        let hash = key(&format!("out:{id}"));
        async move { redis.hget::<_, _, String>(hash, "status").await.unwrap() }
    }))
    .await;
    assert_eq!(statuses, vec!["queued", "cancelled", "opted_out"]);
    let late: String = cancel("OB1").invoke_async(&mut redis).await.unwrap();
    assert_eq!(late, "queued");
    let missing: String = cancel("OB9").invoke_async(&mut redis).await.unwrap();
    assert_eq!(missing, "missing");
}

const WAITS: &str = include_str!("../../src/store/waits.lua");

/// Runs the waits script for `(number, score)` entries as read; answers how many were queued.
async fn queue_waits(
    redis: &mut MultiplexedConnection,
    key: &impl Fn(&str) -> String,
    read: &[(&str, &str)],
) -> i64 {
    let script = Script::new(WAITS);
    let mut call = script.prepare_invoke();
    call.key(key("waiting"))
        .key(key("queue"))
        .key(key("optout"));
    for (number, score) in read {
        call.key(key(&format!("waiting:{number}")))
            .key(key(&format!("sender:{number}")))
            .arg(*number)
            .arg(*score);
    }
    call.invoke_async(redis).await.unwrap()
}

#[actix_web::test]
async fn an_ended_wait_queues_its_event_once_unless_the_sender_wrote_or_opted_out() {
    // Arrange: four numbers waited for until 1000 ms.
    let (mut redis, key) = lab().await;
    for number in ["+1", "+2", "+3", "+4"] {
        let _: () = redis.zadd(key("waiting"), number, 1000).await.unwrap();
        let event = format!(r#"{{"event":"{number}"}}"#);
        let _: () = redis
            .set(key(&format!("waiting:{number}")), event)
            .await
            .unwrap();
    }
    let _: () = redis.rpush(key("sender:+2"), "1-1").await.unwrap();
    let _: () = redis.hset(key("optout"), "+3", 1).await.unwrap();
    // +4's wait was set again (by a later completion) after it was read.
    let _: () = redis.zadd(key("waiting"), "+4", 9000).await.unwrap();
    let read = [
        ("+1", "1000"),
        ("+2", "1000"),
        ("+3", "1000"),
        ("+4", "1000"),
    ];

    // Act
    let first = queue_waits(&mut redis, &key, &read).await;
    let again = queue_waits(&mut redis, &key, &read).await;

    // Assert
    assert_eq!((first, again), (1, 0));
    let entries: Vec<redis::streams::StreamId> = redis
        .xrange_all::<_, redis::streams::StreamRangeReply>(key("queue"))
        .await
        .unwrap()
        .ids;
    assert_eq!(entries.len(), 1);
    let job: String = entries[0].get("job").unwrap();
    assert_eq!(job, r#"{"event":"+1"}"#);
    let listed: Vec<String> = redis.lrange(key("sender:+1"), 0, -1).await.unwrap();
    assert_eq!(listed, vec![entries[0].id.clone()]);
    let left: Vec<String> = redis.zrange(key("waiting"), 0, -1).await.unwrap();
    assert_eq!(left, vec!["+4"], "only the wait set again is left");
    let kept: Option<String> = redis.get(key("waiting:+4")).await.unwrap();
    assert!(kept.is_some());
}

#[actix_web::test]
async fn the_events_lease_is_held_by_one_process_until_it_stops_renewing() {
    let (mut redis, key) = lab().await;
    let script = Script::new(include_str!("../../src/events/lease.lua"));
    let hold = |me: &str, ttl_ms: u64| {
        let mut call = script.prepare_invoke();
        call.key(key("events:lease")).arg(me).arg(ttl_ms);
        call
    };
    assert_eq!(
        hold("a", 200)
            .invoke_async::<i64>(&mut redis)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        hold("b", 200)
            .invoke_async::<i64>(&mut redis)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        hold("a", 200)
            .invoke_async::<i64>(&mut redis)
            .await
            .unwrap(),
        1,
        "renewed"
    );
    actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        hold("b", 200)
            .invoke_async::<i64>(&mut redis)
            .await
            .unwrap(),
        1,
        "taken over once a's lease ran out"
    );
    assert_eq!(
        hold("a", 200)
            .invoke_async::<i64>(&mut redis)
            .await
            .unwrap(),
        0
    );
}
