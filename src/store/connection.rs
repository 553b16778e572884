//! Connections to Redis. The process shares one multiplexed connection for short commands; each
//! HTTP worker thread's queue actor opens its own (so its reader and writer run on the thread it
//! serves); each topic's worker pool has one more for its blocking `XREADGROUP`, because a
//! blocked command would hold up everything pipelined behind it. All reconnect by themselves.
//!
//! A [`RedisConn`] follows the primary: when a request fails the way a dead or demoted node's
//! requests fail (refused, dropped, timed out, `READONLY`), a sentinel-backed connection asks the
//! sentinels for the primary again and, once they name another node, moves to it. The request
//! that failed still fails (its caller answers 503 or retries); the next one goes to the new
//! primary. With `min_replica_acks`, [`RedisConn::confirm_replicated`] holds a write until
//! `WAIT` says enough replicas have it.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};

use super::breaker::is_outage;
use super::target::{Form, RedisTarget, CONNECT_TIMEOUT};
use crate::metrics::RedisEvents;

/// How long a short command may take before it counts as failed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);

/// A connection asks the sentinels at most this often.
const RESOLVE_EVERY: Duration = Duration::from_millis(250);

/// A self-reconnecting multiplexed connection to the profile's primary. Cheap to clone: clones
/// share the connection.
#[derive(Clone)]
pub struct RedisConn {
    shared: Arc<Shared>,
}

struct Shared {
    current: RwLock<Current>,
    target: RedisTarget,
    response_timeout: Duration,
    /// When the sentinels were last asked; held while asking, so one request asks at a time.
    resolved_at: tokio::sync::Mutex<Option<Instant>>,
    events: RedisEvents,
}

#[derive(Clone)]
struct Current {
    conn: Conn,
    /// `host:port` of the node, for comparing and logging (never a password); `cluster` for a
    /// cluster connection.
    address: String,
}

/// One node's self-reconnecting connection, or a cluster connection that routes each request
/// by its key's slot and follows the cluster's topology by itself.
#[derive(Clone)]
enum Conn {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
}

/// A write that `WAIT` did not see on `min_replica_acks` replicas in time.
#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    /// Fewer replicas acknowledged the write than asked for.
    #[error("only {acked} of {wanted} replicas confirmed the write in time")]
    TooFew {
        /// `min_replica_acks`.
        wanted: u32,
        /// What `WAIT` answered.
        acked: u32,
    },
    /// `WAIT` itself failed.
    #[error("failed to wait for replicas")]
    Redis(#[from] RedisError),
}

/// Opens a connection to the target's primary. `response_timeout` must exceed the longest
/// `BLOCK` the connection will be used for.
pub async fn connect(
    target: &RedisTarget,
    response_timeout: Duration,
    events: RedisEvents,
) -> RedisResult<RedisConn> {
    let current = open(target, response_timeout).await?;
    Ok(RedisConn {
        shared: Arc::new(Shared {
            current: RwLock::new(current),
            target: target.clone(),
            response_timeout,
            resolved_at: tokio::sync::Mutex::new(None),
            events,
        }),
    })
}

/// A blocking connection for the command-line tools: to the primary, or to the cluster.
pub enum BlockingConn {
    /// One node (the primary).
    Node(redis::Connection),
    /// A Redis Cluster.
    Cluster(Box<redis::cluster::ClusterConnection>),
}

/// Opens a plain blocking connection to the primary (or the cluster), for the command-line tools.
pub fn connect_blocking(target: &RedisTarget) -> RedisResult<BlockingConn> {
    if let Some(cluster) = target.cluster_client(COMMAND_TIMEOUT)? {
        return Ok(BlockingConn::Cluster(Box::new(cluster.get_connection()?)));
    }
    let client = target.primary_client_blocking()?.ok_or_else(no_client)?;
    Ok(BlockingConn::Node(
        client.get_connection_with_timeout(CONNECT_TIMEOUT)?,
    ))
}

fn no_client() -> RedisError {
    RedisError::from((redis::ErrorKind::ClientError, "no redis node to connect to"))
}

impl redis::ConnectionLike for BlockingConn {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        match self {
            BlockingConn::Node(c) => c.req_packed_command(cmd),
            BlockingConn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        match self {
            BlockingConn::Node(c) => c.req_packed_commands(cmd, offset, count),
            BlockingConn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn req_command(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        match self {
            BlockingConn::Node(c) => c.req_command(cmd),
            BlockingConn::Cluster(c) => c.req_command(cmd),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            BlockingConn::Node(c) => c.get_db(),
            BlockingConn::Cluster(c) => c.get_db(),
        }
    }

    fn check_connection(&mut self) -> bool {
        match self {
            BlockingConn::Node(c) => c.check_connection(),
            BlockingConn::Cluster(c) => c.check_connection(),
        }
    }

    fn is_open(&self) -> bool {
        match self {
            BlockingConn::Node(c) => c.is_open(),
            BlockingConn::Cluster(c) => c.is_open(),
        }
    }
}

async fn open(target: &RedisTarget, response_timeout: Duration) -> RedisResult<Current> {
    if let Some(cluster) = target.cluster_client(response_timeout)? {
        let conn = cluster.get_async_connection().await?;
        return Ok(Current {
            conn: Conn::Cluster(conn),
            address: "cluster".into(),
        });
    }
    let client = target.primary_client().await?.ok_or_else(no_client)?;
    let address = address_of(&client);
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(response_timeout)
        .set_number_of_retries(2)
        .set_max_delay(1000);
    let conn = ConnectionManager::new_with_config(client, config).await?;
    Ok(Current {
        conn: Conn::Node(conn),
        address,
    })
}

fn address_of(client: &redis::Client) -> String {
    match &client.get_connection_info().addr {
        redis::ConnectionAddr::Tcp(host, port)
        | redis::ConnectionAddr::TcpTls { host, port, .. } => {
            format!("{host}:{port}")
        }
        redis::ConnectionAddr::Unix(path) => path.display().to_string(),
    }
}

impl RedisConn {
    fn current(&self) -> Current {
        self.shared
            .current
            .read()
            .expect("the lock is never held across a panic")
            .clone()
    }

    /// The connection form (`single`, `sentinel`).
    pub fn form(&self) -> Form {
        self.shared.target.form()
    }

    /// `host:port` of the node this connection writes to now.
    pub fn address(&self) -> String {
        self.current().address
    }

    /// With `min_replica_acks` above 0: waits (`WAIT`, up to `replica_ack_timeout_ms`) until that
    /// many replicas hold every write this connection made so far to the node that holds `key`
    /// (in a cluster, the primary of its slot); an error when they do not.
    pub async fn confirm_replicated(&mut self, key: &str) -> Result<(), ReplicationError> {
        let target = &self.shared.target;
        let wanted = target.min_replica_acks;
        if wanted == 0 {
            return Ok(());
        }
        let timeout_ms = target.replica_ack_timeout.as_millis() as u64;
        let mut wait = redis::cmd("WAIT");
        wait.arg(wanted).arg(timeout_ms);
        let acked: u32 = match self.current().conn {
            Conn::Node(mut conn) => wait.query_async(&mut conn).await?,
            Conn::Cluster(mut conn) => {
                let route = Route::new(key_slot(key), SlotAddr::Master);
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                let value = conn.route_command(&wait, routing).await?;
                redis::from_redis_value(&value)?
            }
        };
        if acked >= wanted {
            Ok(())
        } else {
            Err(ReplicationError::TooFew { wanted, acked })
        }
    }

    /// After a request that failed as a dead node's (`broken`) or a demoted one's (`readonly`):
    /// counts a broken connection, and for a sentinel-backed one asks the sentinels where the
    /// primary is now (at most every [`RESOLVE_EVERY`]).
    async fn after_error(&self, broken: bool, readonly: bool) {
        if !(broken || readonly) {
            return;
        }
        if broken {
            self.shared.events.reconnects.inc();
        }
        if self.form() != Form::Sentinel {
            return;
        }
        let Ok(mut resolved_at) = self.shared.resolved_at.try_lock() else {
            return;
        };
        if resolved_at.is_some_and(|at| at.elapsed() < RESOLVE_EVERY) {
            return;
        }
        *resolved_at = Some(Instant::now());
        let shared = &self.shared;
        let Ok(Some(client)) = shared.target.primary_client().await else {
            return;
        };
        let (from, to) = (self.address(), address_of(&client));
        if from == to && !readonly {
            return;
        }
        match open(&shared.target, shared.response_timeout).await {
            Ok(next) => {
                let to = next.address.clone();
                *shared.current.write().expect("the lock is never held across a panic") = next;
                shared.events.failovers.inc();
                log::info!("Redis primary moved; connected to the new one. from={from} to={to}");
            }
            Err(e) => log::warn!(
                "Failed to connect to the primary the sentinels name; will ask again. to={to} error={e}"
            ),
        }
    }
}

/// The Redis Cluster slot of a key: CRC16 (XMODEM) of its hash tag (the part between the first
/// `{` and the next `}`, when not empty) or of the whole key, modulo 16384.
pub fn key_slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let hashed = match key.find('{') {
        Some(open) => match key[open + 1..].find('}') {
            Some(len) if len > 0 => &bytes[open + 1..open + 1 + len],
            _ => bytes,
        },
        None => bytes,
    };
    let mut crc: u16 = 0;
    for byte in hashed {
        crc ^= u16::from(*byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % 16384
}

/// Whether a reply is Redis's `READONLY` error: the node was demoted to a replica. (Server
/// errors arrive as values; they become `Err` only when the caller reads the reply.)
fn is_readonly(value: &Value) -> bool {
    match value {
        Value::ServerError(error) => error.code() == "READONLY",
        Value::Array(items) => items.iter().any(is_readonly),
        _ => false,
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let mut conn = self.current().conn;
            let result = conn.req_packed_command(cmd).await;
            match &result {
                Err(error) => self.after_error(is_outage(error), false).await,
                Ok(value) if is_readonly(value) => self.after_error(false, true).await,
                Ok(_) => {}
            }
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let mut conn = self.current().conn;
            let result = conn.req_packed_commands(cmd, offset, count).await;
            match &result {
                Err(error) => self.after_error(is_outage(error), false).await,
                Ok(values) if values.iter().any(is_readonly) => self.after_error(false, true).await,
                Ok(_) => {}
            }
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.current().conn.get_db()
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Node(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Node(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Node(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_slots_match_redis_cluster_keyslot() {
        // Values from `CLUSTER KEYSLOT` on Redis 7.
        assert_eq!(key_slot("foo"), 12182);
        assert_eq!(key_slot("bar"), 5061);
        assert_eq!(key_slot("{user1000}.following"), key_slot("user1000"));
        assert_eq!(key_slot("foo{}{bar}"), key_slot("foo{}{bar}"));
        assert_eq!(key_slot("pyrowire:{sample}:queue"), key_slot("sample"));
    }
}
