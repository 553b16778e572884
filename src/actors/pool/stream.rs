//! The Redis commands a `WorkerPool` issues, as plain async functions: join the group, read new
//! jobs, claim abandoned ones, keep held ones claimed, look up each sender's oldest unfinished job,
//! and prune consumers that left.

use std::collections::HashMap;
use std::time::Duration;

use crate::store::connection::RedisConn;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadOptions, StreamReadReply,
};
use redis::AsyncCommands;

use crate::domain::Lane;
use crate::store::keys::{Keys, GROUP};

/// Consumers with nothing pending and idle this long are removed from the group.
const CONSUMER_EXPIRY: Duration = Duration::from_secs(3600);

/// Creates the topic's stream and consumer group unless they exist.
pub(crate) async fn ensure_group(mut conn: RedisConn, stream: String) -> redis::RedisResult<()> {
    let created: redis::RedisResult<()> = conn.xgroup_create_mkstream(&stream, GROUP, "0").await;
    match created {
        Err(e) if e.code() != Some("BUSYGROUP") => Err(e),
        _ => Ok(()),
    }
}

/// Reads up to `count` new jobs, waiting up to `block` for the first.
pub(crate) async fn read_new(
    mut conn: RedisConn,
    stream: String,
    consumer: String,
    count: usize,
    block: Duration,
) -> redis::RedisResult<Vec<StreamId>> {
    let options = StreamReadOptions::default()
        .group(GROUP, consumer)
        .count(count)
        .block(block.as_millis() as usize);
    let reply: Option<StreamReadReply> = conn.xread_options(&[&stream], &[">"], &options).await?;
    Ok(reply
        .into_iter()
        .flat_map(|r| r.keys)
        .flat_map(|k| k.ids)
        .collect())
}

/// Claims up to `count` jobs left unacknowledged longer than `min_idle` by any consumer.
pub(crate) async fn claim_abandoned(
    mut conn: RedisConn,
    stream: String,
    consumer: String,
    min_idle: Duration,
    count: usize,
) -> redis::RedisResult<Vec<StreamId>> {
    let options = StreamAutoClaimOptions::default().count(count);
    let reply: StreamAutoClaimReply = conn
        .xautoclaim_options(
            &stream,
            GROUP,
            &consumer,
            min_idle.as_millis() as usize,
            "0-0",
            options,
        )
        .await?;
    Ok(reply.claimed)
}

/// Resets the idle time of the jobs this consumer holds, so no one else claims them while they
/// run, wait out a backoff, or wait for their sender's earlier message.
pub(crate) async fn keep_claimed(
    mut conn: RedisConn,
    stream: String,
    consumer: String,
    ids: Vec<String>,
) -> redis::RedisResult<()> {
    for chunk in ids.chunks(200) {
        let mut cmd = redis::cmd("XCLAIM");
        cmd.arg(&stream).arg(GROUP).arg(&consumer).arg(0);
        cmd.arg(chunk).arg("JUSTID");
        cmd.query_async::<redis::Value>(&mut conn).await?;
    }
    Ok(())
}

/// The oldest unfinished job id of each sender in its lane (None when it has none listed).
pub(crate) async fn sender_heads(
    mut conn: RedisConn,
    keys: Keys,
    topic: String,
    numbers: Vec<(Lane, String)>,
) -> redis::RedisResult<HashMap<(Lane, String), Option<String>>> {
    let mut pipe = redis::pipe();
    for (lane, number) in &numbers {
        pipe.lindex(keys.lane_sender(&topic, number, *lane), 0);
    }
    let heads: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
    Ok(numbers.into_iter().zip(heads).collect())
}

/// Removes a sender's head when its job is gone from the stream (deleted by hand, trimmed), so a
/// vanished job cannot hold the sender's later messages forever.
pub(crate) async fn drop_vanished_head(
    mut conn: RedisConn,
    keys: Keys,
    topic: String,
    (lane, number): (Lane, String),
    head: String,
) -> redis::RedisResult<()> {
    let found: Vec<StreamId> = redis::cmd("XRANGE")
        .arg(keys.lane_queue(&topic, lane))
        .arg(&head)
        .arg(&head)
        .query_async::<redis::streams::StreamRangeReply>(&mut conn)
        .await?
        .ids;
    if found.is_empty() {
        let _: () = conn
            .lrem(keys.lane_sender(&topic, &number, lane), 1, &head)
            .await?;
    }
    Ok(())
}

/// Removes consumers that hold nothing and have been idle long (earlier runs of processes).
pub(crate) async fn prune_consumers(mut conn: RedisConn, stream: String) -> redis::RedisResult<()> {
    let consumers: Vec<HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(&stream)
        .arg(GROUP)
        .query_async(&mut conn)
        .await?;
    for consumer in consumers {
        let int = |name: &str| match consumer.get(name) {
            Some(redis::Value::Int(n)) => *n,
            _ => -1,
        };
        let name = match consumer.get("name") {
            Some(redis::Value::BulkString(bytes)) => String::from_utf8_lossy(bytes).to_string(),
            _ => continue,
        };
        if int("pending") == 0 && int("idle") > CONSUMER_EXPIRY.as_millis() as i64 {
            let _: redis::Value = redis::cmd("XGROUP")
                .arg("DELCONSUMER")
                .arg(&stream)
                .arg(GROUP)
                .arg(&name)
                .query_async(&mut conn)
                .await?;
        }
    }
    Ok(())
}
