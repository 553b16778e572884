//! Each test's settings file (its own key prefix, a topic of echo replies, or of another
//! handler, pointed at the stand-in, with any extra profile and topic lines) and a reader of
//! what that topic holds in Redis.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::common::{ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER};
use crate::{secs, CLAIM_IDLE_MS, SHUTDOWN_GRACE_MS, TOPIC};

/// Lines a test adds to the settings file: profile keys (such as `api_token`), topic keys
/// (such as `max_sends_per_second`), and a log filter in place of `info`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Extra<'a> {
    pub profile: &'a str,
    pub topic: &'a str,
    pub log_level: Option<&'a str>,
}

/// A settings file with its own key prefix, and the Redis it points at.
pub struct Setup {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub store: Store,
}

impl Setup {
    pub fn new(redis_url: &str, api_base: &str, workers: usize) -> Setup {
        Setup::with_redis(
            &format!("redis = \"{redis_url}\""),
            "",
            redis_url,
            api_base,
            workers,
        )
    }

    /// A settings file whose profile reaches Redis through `redis_lines` (profile keys) and
    /// `redis_table` (a table of the profile, such as `redis_sentinel`); `store_url` is where the
    /// test reads what the topic holds.
    pub fn with_redis(
        redis_lines: &str,
        redis_table: &str,
        store_url: &str,
        api_base: &str,
        workers: usize,
    ) -> Setup {
        let handler = "\"echo\"";
        let lines = Lines {
            redis: redis_lines,
            redis_table,
            handler,
            extra: Extra::default(),
        };
        Setup::build(lines, store_url, api_base, workers)
    }

    /// A topic whose handler is `handler` (the TOML value), on the test Redis.
    pub fn with_handler(redis_url: &str, api_base: &str, workers: usize, handler: &str) -> Setup {
        let redis_line = format!("redis = \"{redis_url}\"");
        let lines = Lines {
            redis: &redis_line,
            redis_table: "",
            handler,
            extra: Extra::default(),
        };
        Setup::build(lines, redis_url, api_base, workers)
    }

    /// An echo topic on the test Redis, with `extra` lines.
    pub fn with_extra(redis_url: &str, api_base: &str, workers: usize, extra: Extra) -> Setup {
        let redis_line = format!("redis = \"{redis_url}\"");
        let lines = Lines {
            redis: &redis_line,
            redis_table: "",
            handler: "\"echo\"",
            extra,
        };
        Setup::build(lines, redis_url, api_base, workers)
    }

    fn build(lines: Lines, store_url: &str, api_base: &str, workers: usize) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let prefix = format!("fault{:08x}", rand::random::<u32>());
        let Lines {
            redis: redis_lines,
            redis_table,
            handler,
            extra,
        } = lines;
        let log_level = extra.log_level.unwrap_or("info");
        let (extra_profile, extra_topic) = (extra.profile, extra.topic);
        let text = format!(
            r#"
[profiles.test]
port = 0
log_level = "{log_level}"
{redis_lines}
redis_prefix = "{prefix}"
claim_idle_ms = {CLAIM_IDLE_MS}
shutdown_grace_ms = {SHUTDOWN_GRACE_MS}
max_queue_depth = 100000
{extra_profile}
{redis_table}

[topics.{TOPIC}]
handler = {handler}
accept_response = "ok"
error_response = "try later"
workers = {workers}
{extra_topic}
[topics.{TOPIC}.retry]
max_attempts = 5
backoff_initial_ms = 50
backoff_max_ms = 500
[topics.{TOPIC}.twilio]
account_sid = "{ACCOUNT_SID}"
auth_token = "{AUTH_TOKEN}"
from_number = "{FROM_NUMBER}"
api_base = "{api_base}"
"#
        );
        let path = dir.path().join("settings.toml");
        std::fs::write(&path, text).unwrap();
        let store = Store {
            client: redis::Client::open(store_url).unwrap(),
            prefix,
        };
        Setup {
            _dir: dir,
            path,
            store,
        }
    }
}

/// The lines of a settings file that differ between tests.
struct Lines<'a> {
    /// Profile keys reaching Redis.
    redis: &'a str,
    /// A table of the profile, such as `redis_sentinel`.
    redis_table: &'a str,
    /// The topic's handler (the TOML value).
    handler: &'a str,
    extra: Extra<'a>,
}

/// Reads the topic's keys under one prefix (short blocking calls on a local Redis).
pub struct Store {
    client: redis::Client,
    prefix: String,
}

impl Store {
    /// The same keys, read from another node (the primary after a failover).
    pub fn on(&self, url: &str) -> Store {
        Store {
            client: redis::Client::open(url).unwrap(),
            prefix: self.prefix.clone(),
        }
    }

    fn connection(&self) -> redis::RedisResult<redis::Connection> {
        let connection = self.client.get_connection_with_timeout(secs(1))?;
        connection.set_read_timeout(Some(secs(2)))?;
        Ok(connection)
    }

    fn key(&self, rest: &str) -> String {
        format!("{}:{{{TOPIC}}}:{rest}", self.prefix)
    }

    /// Entries still in the queue stream (pending or not yet read).
    pub fn queue_len(&self) -> redis::RedisResult<usize> {
        redis::cmd("XLEN")
            .arg(self.key("queue"))
            .query(&mut self.connection()?)
    }

    /// Entries still in the bulk queue stream.
    pub fn bulk_len(&self) -> redis::RedisResult<usize> {
        redis::cmd("XLEN")
            .arg(self.key("bulk"))
            .query(&mut self.connection()?)
    }

    /// Events waiting for the topic's `events_url`.
    pub fn events_len(&self) -> redis::RedisResult<usize> {
        redis::cmd("XLEN")
            .arg(self.key("events"))
            .query(&mut self.connection()?)
    }

    /// Texts waiting in the scheduled set.
    pub fn scheduled_len(&self) -> redis::RedisResult<usize> {
        redis::cmd("ZCARD")
            .arg(self.key("scheduled"))
            .query(&mut self.connection()?)
    }

    /// Jobs a consumer read but has not acknowledged.
    pub fn pending_of(&self, consumer: &str) -> redis::RedisResult<usize> {
        let reply: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
            .arg(self.key("queue"))
            .arg("workers")
            .query(&mut self.connection()?)?;
        Ok(match reply {
            redis::streams::StreamPendingReply::Empty => 0,
            redis::streams::StreamPendingReply::Data(data) => data
                .consumers
                .iter()
                .filter(|c| c.name == consumer)
                .map(|c| c.pending)
                .sum(),
        })
    }

    /// When the wait for `number`'s reply ends (ms), if a handler waits for one.
    pub fn waiting(&self, number: &str) -> redis::RedisResult<Option<u64>> {
        redis::cmd("ZSCORE")
            .arg(self.key("waiting"))
            .arg(number)
            .query(&mut self.connection()?)
    }

    /// The session of `number`, if it has one.
    pub fn session(&self, number: &str) -> redis::RedisResult<Option<Value>> {
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.key(&format!("session:{number}")))
            .query(&mut self.connection()?)?;
        Ok(raw.map(|raw| serde_json::from_str(&raw).unwrap()))
    }

    /// Whether the send of `kind` for `sid` has been marked (its at-most-once marker exists).
    pub fn send_marked(&self, sid: &str, kind: &str) -> redis::RedisResult<bool> {
        redis::cmd("EXISTS")
            .arg(self.key(&format!("send:{sid}:{kind}")))
            .query(&mut self.connection()?)
    }

    /// The JSON records that exist for these MessageSids.
    pub fn records(&self, sids: &[String]) -> redis::RedisResult<HashMap<String, Value>> {
        if sids.is_empty() {
            return Ok(HashMap::new());
        }
        let keys: Vec<String> = sids
            .iter()
            .map(|sid| self.key(&format!("record:{sid}")))
            .collect();
        let values: Vec<Option<String>> = redis::cmd("MGET")
            .arg(keys)
            .query(&mut self.connection()?)?;
        Ok(sids
            .iter()
            .zip(values)
            .filter_map(|(sid, v)| Some((sid.clone(), serde_json::from_str(&v?).ok()?)))
            .collect())
    }
}
