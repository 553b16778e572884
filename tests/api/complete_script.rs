//! The recorder's completion script (`complete.lua`), called directly against the test Redis: a
//! completed job's record, acknowledgement, sends' SIDs, session and counts in one call.

use std::collections::HashMap;

use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, Script};

use crate::scripts::{lab, SENT_FN, SESSION_FN, STATUS_FN};

const COMPLETE: &str = include_str!("../../src/actors/recorder/complete.lua");

/// A job read by a consumer (pending in the group `workers`) and listed for its sender.
async fn pending_job(redis: &mut MultiplexedConnection, key: &impl Fn(&str) -> String) -> String {
    let _: () = redis
        .xgroup_create_mkstream(key("queue"), "workers", "0")
        .await
        .unwrap();
    another_pending_job(redis, key).await
}

/// One more job read and listed, once the group exists.
async fn another_pending_job(
    redis: &mut MultiplexedConnection,
    key: &impl Fn(&str) -> String,
) -> String {
    let id: String = redis
        .xadd(key("queue"), "*", &[("job", "{}")])
        .await
        .unwrap();
    let _: () = redis.rpush(key("sender:+1"), &id).await.unwrap();
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg(&["GROUP", "workers", "me", "STREAMS"])
        .arg(key("queue"))
        .arg(">")
        .query_async(redis)
        .await
        .unwrap();
    id
}

/// Runs the completion for `id` (job SM1 of sender +1) with one stored send and the given
/// session change.
async fn complete(
    redis: &mut MultiplexedConnection,
    key: &impl Fn(&str) -> String,
    id: &str,
    had_attempts: &str,
    session: (&str, &str),
) -> i64 {
    complete_jobs(redis, key, &[(id, "SM1", "+1", had_attempts, session)]).await
}

/// A job to complete: its entry id, MessageSid, sender, whether it had attempts, and its
/// session change (mode, JSON).
type Job<'a> = (&'a str, &'a str, &'a str, &'a str, (&'a str, &'a str));

/// Runs one completion call for `jobs`, each with one stored send (`SMout` + its MessageSid),
/// leaving the waits for replies as they are.
async fn complete_jobs(
    redis: &mut MultiplexedConnection,
    key: &impl Fn(&str) -> String,
    jobs: &[Job<'_>],
) -> i64 {
    complete_waiting(redis, key, jobs, ("", 0, "")).await
}

/// [`complete_jobs`] with `wait` (operation, when it ends, the event's job) for every job.
async fn complete_waiting(
    redis: &mut MultiplexedConnection,
    key: &impl Fn(&str) -> String,
    jobs: &[Job<'_>],
    wait: (&str, u64, &str),
) -> i64 {
    let script = Script::new(&format!("{STATUS_FN}{SENT_FN}{SESSION_FN}{COMPLETE}"));
    let mut call = script.prepare_invoke();
    for name in [
        "queue",
        "stats",
        "stats:60000",
        "completed",
        "sessions",
        "optout",
        "waiting",
        "bulk",
    ] {
        call.key(key(name));
    }
    call.arg(600)
        .arg("workers")
        .arg(2)
        .arg(7200)
        .arg(1_000_000)
        .arg(jobs.len());
    for (id, sid, number, had_attempts, session) in jobs {
        for name in [
            format!("record:{sid}"),
            format!("sender:{number}"),
            format!("attempts:{sid}"),
            format!("session:{number}"),
            format!("waiting:{number}"),
            format!("send:{sid}:reply"),
            format!("delivery:SMout{sid}"),
        ] {
            call.key(key(&name));
        }
        call.arg(1)
            .arg(format!(r#"{{"outcome":"completed","sid":"{sid}"}}"#))
            .arg(*id)
            .arg(*sid)
            .arg(*had_attempts)
            .arg(session.0)
            .arg(session.1)
            .arg(100)
            .arg(*number)
            .arg(wait.0)
            .arg(wait.1)
            .arg(wait.2)
            .arg("")
            .arg(format!("SMout{sid}"))
            .arg("queued")
            .arg("1")
            .arg(2)
            .arg(*number);
    }
    call.invoke_async(redis).await.unwrap()
}

#[actix_web::test]
async fn a_completion_records_acknowledges_stores_the_sid_and_saves_the_session_at_once() {
    // Arrange
    let (mut redis, key) = lab().await;
    let id = pending_job(&mut redis, &key).await;
    let _: () = redis
        .rpush(key("attempts:SM1"), "failed once")
        .await
        .unwrap();

    // Act
    let done = complete(&mut redis, &key, &id, "1", ("replace", r#"{"step":2}"#)).await;

    // Assert
    assert_eq!(done, 1);
    let record: String = redis.get(key("record:SM1")).await.unwrap();
    assert_eq!(record, r#"{"outcome":"completed","sid":"SM1"}"#);
    let ttl: i64 = redis.ttl(key("record:SM1")).await.unwrap();
    assert!((590..=600).contains(&ttl));
    let (len, sender): (u64, Vec<String>) = (
        redis.xlen(key("queue")).await.unwrap(),
        redis.lrange(key("sender:+1"), 0, -1).await.unwrap(),
    );
    assert_eq!(
        (len, sender),
        (0, vec![]),
        "acknowledged, deleted, unlisted"
    );
    let pending: redis::streams::StreamPendingReply =
        redis.xpending(key("queue"), "workers").await.unwrap();
    assert_eq!(pending.count(), 0);
    let attempts: bool = redis.exists(key("attempts:SM1")).await.unwrap();
    assert!(!attempts);
    let stats: HashMap<String, i64> = redis.hgetall(key("stats")).await.unwrap();
    assert_eq!(stats["completed"], 1);
    let completed: Vec<String> = redis.lrange(key("completed"), 0, -1).await.unwrap();
    assert_eq!(completed, ["SM1"]);
    let session: String = redis.get(key("session:+1")).await.unwrap();
    assert_eq!(session, r#"{"step":2}"#);
    let mark: HashMap<String, String> = redis.hgetall(key("send:SM1:reply")).await.unwrap();
    assert_eq!(
        (mark["sid"].as_str(), mark["status"].as_str()),
        ("SMoutSM1", "queued")
    );
    assert_eq!(mark["num_segments"], "1");
    let delivery: HashMap<String, String> = redis.hgetall(key("delivery:SMoutSM1")).await.unwrap();
    assert_eq!(delivery["to"], "+1");
    assert_eq!(
        (delivery["status"].as_str(), delivery["history"].as_str()),
        ("queued", "queued")
    );
}

#[actix_web::test]
async fn no_session_change_leaves_it_and_an_opted_out_sender_keeps_none() {
    // Arrange
    let (mut redis, key) = lab().await;
    let _: () = redis
        .set(key("session:+1"), r#"{"kept":true}"#)
        .await
        .unwrap();
    let _: () = redis.rpush(key("attempts:SM1"), "kept").await.unwrap();
    let first = pending_job(&mut redis, &key).await;

    // Act
    complete(&mut redis, &key, &first, "0", ("", "")).await;
    let untouched: Option<String> = redis.get(key("session:+1")).await.unwrap();
    let attempts_left: bool = redis.exists(key("attempts:SM1")).await.unwrap();
    let _: () = redis.hset(key("optout"), "+1", 1).await.unwrap();
    let id: String = redis
        .xadd(key("queue"), "*", &[("job", "{}")])
        .await
        .unwrap();
    complete(&mut redis, &key, &id, "0", ("replace", r#"{"new":1}"#)).await;
    let after_stop: Option<String> = redis.get(key("session:+1")).await.unwrap();

    // Assert
    assert_eq!(untouched.as_deref(), Some(r#"{"kept":true}"#));
    assert!(attempts_left, "no attempts were made: nothing deleted");
    assert_eq!(after_stop, None, "an opted-out number keeps no session");
}

#[actix_web::test]
async fn one_call_completes_a_batch_of_jobs_each_with_its_own_record_send_and_session() {
    // Arrange: three jobs read by a consumer, of two senders
    let (mut redis, key) = lab().await;
    let first = pending_job(&mut redis, &key).await;
    let mut ids = vec![first];
    for number in ["+1", "+2"] {
        let id: String = redis
            .xadd(key("queue"), "*", &[("job", "{}")])
            .await
            .unwrap();
        let _: () = redis
            .rpush(key(&format!("sender:{number}")), &id)
            .await
            .unwrap();
        ids.push(id);
    }
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg(&["GROUP", "workers", "me", "STREAMS"])
        .arg(key("queue"))
        .arg(">")
        .query_async(&mut redis)
        .await
        .unwrap();
    let _: () = redis.set(key("session:+2"), r#"{"old":1}"#).await.unwrap();

    // Act
    let done = complete_jobs(
        &mut redis,
        &key,
        &[
            (&ids[0], "SM1", "+1", "0", ("", "")),
            (&ids[1], "SM2", "+1", "0", ("replace", r#"{"step":1}"#)),
            (&ids[2], "SM3", "+2", "0", ("end", "")),
        ],
    )
    .await;

    // Assert
    assert_eq!(done, 3);
    for sid in ["SM1", "SM2", "SM3"] {
        let record: String = redis.get(key(&format!("record:{sid}"))).await.unwrap();
        assert_eq!(
            record,
            format!(r#"{{"outcome":"completed","sid":"{sid}"}}"#)
        );
        let mark: HashMap<String, String> = redis
            .hgetall(key(&format!("send:{sid}:reply")))
            .await
            .unwrap();
        assert_eq!(mark["sid"], format!("SMout{sid}"));
    }
    let len: u64 = redis.xlen(key("queue")).await.unwrap();
    let pending: redis::streams::StreamPendingReply =
        redis.xpending(key("queue"), "workers").await.unwrap();
    assert_eq!(
        (len, pending.count()),
        (0, 0),
        "all three acknowledged and deleted"
    );
    for number in ["+1", "+2"] {
        let left: Vec<String> = redis
            .lrange(key(&format!("sender:{number}")), 0, -1)
            .await
            .unwrap();
        assert!(left.is_empty(), "{number} still lists {left:?}");
    }
    let stats: HashMap<String, i64> = redis.hgetall(key("stats")).await.unwrap();
    let minute: HashMap<String, i64> = redis.hgetall(key("stats:60000")).await.unwrap();
    assert_eq!((stats["completed"], minute["completed"]), (3, 3));
    let completed: Vec<String> = redis.lrange(key("completed"), 0, -1).await.unwrap();
    assert_eq!(
        completed,
        ["SM3", "SM2"],
        "newest first, trimmed to recent_records"
    );
    let session: String = redis.get(key("session:+1")).await.unwrap();
    assert_eq!(
        session, r#"{"step":1}"#,
        "the later job of +1 replaced its session"
    );
    let ended: Option<String> = redis.get(key("session:+2")).await.unwrap();
    assert_eq!(ended, None);
}

#[actix_web::test]
async fn a_completion_sets_the_wait_for_a_reply_and_the_next_one_clears_it() {
    // Arrange
    let (mut redis, key) = lab().await;
    let first = pending_job(&mut redis, &key).await;
    let job = [(first.as_str(), "SM1", "+1", "0", ("", ""))];

    let due = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 5_000;

    // Act: the first completion asks to hear back within 5 s.
    complete_waiting(&mut redis, &key, &job, ("set", due, r#"{"v":3}"#)).await;
    let scored: Option<u64> = redis.zscore(key("waiting"), "+1").await.unwrap();
    let event: Option<String> = redis.get(key("waiting:+1")).await.unwrap();
    let expires: i64 = redis::cmd("PEXPIRETIME")
        .arg(key("waiting:+1"))
        .query_async(&mut redis)
        .await
        .unwrap();
    let second = another_pending_job(&mut redis, &key).await;
    let job = [(second.as_str(), "SM2", "+1", "0", ("", ""))];
    complete_waiting(&mut redis, &key, &job, ("clear", 0, "")).await;

    // Assert
    assert_eq!(scored, Some(due));
    assert_eq!(event.as_deref(), Some(r#"{"v":3}"#));
    assert_eq!(
        expires,
        due as i64 + 86_400_000,
        "the event outlives the wait by a day"
    );
    let due: Option<u64> = redis.zscore(key("waiting"), "+1").await.unwrap();
    let event: Option<String> = redis.get(key("waiting:+1")).await.unwrap();
    assert_eq!((due, event), (None, None));
}
