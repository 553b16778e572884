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

/// Runs the completion for `id` with one stored send and the given session change.
async fn complete(
    redis: &mut MultiplexedConnection,
    key: &impl Fn(&str) -> String,
    id: &str,
    had_attempts: &str,
    session: (&str, &str),
) -> i64 {
    let script = Script::new(&format!("{STATUS_FN}{SENT_FN}{SESSION_FN}{COMPLETE}"));
    let mut call = script.prepare_invoke();
    for name in [
        "record:SM1",
        "queue",
        "sender:+1",
        "attempts:SM1",
        "stats",
        "stats:60000",
        "completed",
        "session:+1",
        "sessions",
        "optout",
        "send:SM1:reply",
        "delivery:SMout",
    ] {
        call.key(key(name));
    }
    call.arg(r#"{"outcome":"completed"}"#)
        .arg(600)
        .arg(id)
        .arg("workers")
        .arg("SM1")
        .arg(2)
        .arg(7200)
        .arg(had_attempts)
        .arg(session.0)
        .arg(session.1)
        .arg(100)
        .arg("+1")
        .arg(1_000_000)
        .arg("SMout")
        .arg("queued")
        .arg("1")
        .arg(2)
        .arg("+1");
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
    assert_eq!(record, r#"{"outcome":"completed"}"#);
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
        ("SMout", "queued")
    );
    assert_eq!(mark["num_segments"], "1");
    let delivery: HashMap<String, String> = redis.hgetall(key("delivery:SMout")).await.unwrap();
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
