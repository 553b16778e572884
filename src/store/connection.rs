//! Connections to Redis. The process shares one multiplexed connection for short commands; each
//! HTTP worker thread's queue actor opens its own (so its reader and writer run on the thread it
//! serves); each topic's worker pool has one more for its blocking `XREADGROUP`, because a
//! blocked command would hold up everything pipelined behind it; with `min_replica_acks` the
//! sender has one more, because a `WAIT` holds its connection. A connection whose socket breaks
//! reconnects by itself on its next request.
//!
//! A [`RedisConn`] follows the primary: when a request fails the way a dead or demoted node's
//! requests fail (refused, dropped, timed out, `READONLY`), a sentinel-backed connection asks the
//! sentinels for the primary again and, once they name another node, moves to it; a single node
//! that answers `READONLY` is reopened (its name may now lead to a new primary); a cluster
//! connection follows the cluster's topology by itself. The request
//! that failed still fails (its caller answers 503 or retries); the next one goes to the new
//! primary. With `min_replica_acks`, [`RedisConn::run_script`] sends a script and a `WAIT` in
//! one pipeline on one connection, so a write counts only once enough replicas hold it.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};

use super::breaker::is_outage;
use super::target::{no_client, Form, RedisTarget, CONNECT_TIMEOUT};
use crate::metrics::RedisEvents;

/// How long a short command may take before it counts as failed.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);

/// A connection asks the sentinels at most this often.
const RESOLVE_EVERY: Duration = Duration::from_millis(250);

/// A self-reconnecting multiplexed connection to the profile's primary. Cheap to clone: clones
/// share the connection.
#[derive(Clone)]
pub(crate) struct RedisConn {
    shared: Arc<Shared>,
}

struct Shared {
    /// Shared, so a request takes it with one reference count, not a copy of the address.
    current: RwLock<Arc<Current>>,
    target: RedisTarget,
    response_timeout: Duration,
    /// When the sentinels were last asked; held while asking, so one request asks at a time.
    resolved_at: tokio::sync::Mutex<Option<Instant>>,
    events: RedisEvents,
}

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
    /// Redis refused or failed the script or the `WAIT`.
    #[error("failed to run the script on redis")]
    Redis(#[from] RedisError),
}

impl ReplicationError {
    /// As a Redis error, for callers that report only those: a write that replicas did not
    /// confirm becomes an I/O error saying what was written (`written`).
    pub(crate) fn into_redis(self, written: &'static str) -> RedisError {
        match self {
            ReplicationError::Redis(e) => e,
            other => RedisError::from((redis::ErrorKind::IoError, written, other.to_string())),
        }
    }
}

/// Opens a connection to the target's primary. `response_timeout` must exceed the longest
/// `BLOCK` the connection will be used for.
pub(crate) async fn connect(
    target: &RedisTarget,
    response_timeout: Duration,
    events: RedisEvents,
) -> RedisResult<RedisConn> {
    let current = bounded(CONNECT_TIMEOUT * 2, open(target, response_timeout)).await?;
    Ok(RedisConn {
        shared: Arc::new(Shared {
            current: RwLock::new(Arc::new(current)),
            target: target.clone(),
            response_timeout,
            resolved_at: tokio::sync::Mutex::new(None),
            events,
        }),
    })
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
    open_node(client, response_timeout).await
}

/// A self-reconnecting connection to the node `client` points at.
async fn open_node(client: redis::Client, response_timeout: Duration) -> RedisResult<Current> {
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

/// Connecting (asking the sentinels included) may take at most `limit`: a node that drops
/// packets must not hold a request for the kernel's connect timeout.
async fn bounded<T>(
    limit: Duration,
    opening: impl std::future::Future<Output = RedisResult<T>>,
) -> RedisResult<T> {
    tokio::time::timeout(limit, opening)
        .await
        .unwrap_or_else(|_| {
            Err(RedisError::from((
                redis::ErrorKind::IoError,
                "timed out connecting",
            )))
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
    fn current(&self) -> Arc<Current> {
        self.shared
            .current
            .read()
            .expect("the lock is never held across a panic")
            .clone()
    }

    /// The connection form (`single`, `sentinel`, `cluster`).
    pub(crate) fn form(&self) -> Form {
        self.shared.target.form()
    }

    /// `host:port` of the node this connection writes to now.
    pub(crate) fn address(&self) -> String {
        self.current().address.clone()
    }

    /// Runs a Lua script (`source`, the text `script` was made from). Without
    /// `min_replica_acks` it is `EVALSHA` as usual. With it, the script and a `WAIT` go in one
    /// pipeline on one connection (in a cluster, to the node of the script's keys), so the
    /// `WAIT` counts the replicas holding this very write; fewer than asked for is an error
    /// (the write may still have happened).
    pub(crate) async fn run_script<T: redis::FromRedisValue>(
        &mut self,
        script: &redis::Script,
        source: &str,
        keys: &[String],
        args: &[Vec<u8>],
    ) -> Result<T, ReplicationError> {
        let target = &self.shared.target;
        let wanted = target.min_replica_acks;
        if wanted == 0 {
            let mut invocation = script.prepare_invoke();
            for key in keys {
                invocation.key(key);
            }
            for arg in args {
                invocation.arg(arg.as_slice());
            }
            return Ok(invocation.invoke_async(self).await?);
        }
        let mut eval = redis::cmd("EVAL");
        eval.arg(source).arg(keys.len()).arg(keys);
        for arg in args {
            eval.arg(arg.as_slice());
        }
        let mut pipe = redis::pipe();
        pipe.add_command(eval)
            .cmd("WAIT")
            .arg(wanted)
            .arg(target.replica_ack_timeout.as_millis() as u64);
        // One connection, captured once: a swap between the write and the WAIT would make the
        // WAIT count another socket's writes.
        let current = self.current();
        let (mut conn, address) = (current.conn.clone(), &current.address);
        let result: RedisResult<(T, u32)> = pipe.query_async(&mut conn).await;
        match result {
            Ok((value, acked)) if acked >= wanted => Ok(value),
            Ok((_, acked)) => Err(ReplicationError::TooFew { wanted, acked }),
            Err(error) => {
                self.after_failed(address, &error).await;
                Err(error.into())
            }
        }
    }

    /// After a request to `failed_on` that failed with `error`.
    async fn after_failed(&self, failed_on: &str, error: &RedisError) {
        let readonly = error.kind() == redis::ErrorKind::ReadOnly;
        self.after_error(failed_on, is_outage(error), readonly)
            .await;
    }

    /// After a request to `failed_on` that failed as a dead node's (`broken`) or a demoted one's
    /// (`readonly`): counts a broken connection, and for a sentinel-backed one asks the sentinels
    /// where the primary is now (at most every [`RESOLVE_EVERY`]). A late failure from a node
    /// this connection has already moved away from changes nothing.
    async fn after_error(&self, failed_on: &str, broken: bool, readonly: bool) {
        if !(broken || readonly) || self.current().address != failed_on {
            return;
        }
        if broken {
            self.shared.events.reconnects.inc();
        }
        // A cluster connection follows the topology by itself; a single node is reopened only
        // when it says it was demoted (a managed Redis that moved its name to a new primary).
        let follows = match self.form() {
            Form::Sentinel => true,
            Form::Single => readonly,
            Form::Cluster => false,
        };
        if !follows {
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
        // Bounded, as is the reconnect below: while this request waits, every other request of
        // this connection skips asking.
        let Ok(Some(client)) = bounded(CONNECT_TIMEOUT, shared.target.primary_client()).await
        else {
            return;
        };
        let (from, to) = (self.address(), address_of(&client));
        if from == to && !readonly {
            return;
        }
        // The client the sentinels just named, not a second question to them.
        match bounded(CONNECT_TIMEOUT * 2, open_node(client, shared.response_timeout)).await {
            Ok(next) => {
                let to = next.address.clone();
                *shared.current.write().expect("the lock is never held across a panic") =
                    Arc::new(next);
                shared.events.failovers.inc();
                log::info!("Redis primary moved; connected to the new one. from={from} to={to}");
            }
            Err(e) => log::warn!(
                "Failed to connect to the primary the sentinels name; will ask again. to={to} error={e}"
            ),
        }
    }
}

/// A Redis error for a log line. A reply that could not be parsed is described by its kind
/// only: redis puts the whole reply in the message, and a reply of jobs holds numbers and texts.
pub(crate) fn loggable(error: &RedisError) -> String {
    match error.kind() {
        redis::ErrorKind::TypeError | redis::ErrorKind::ParseError => {
            format!("{:?} (reply not shown)", error.kind())
        }
        _ => error.to_string(),
    }
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
            let current = self.current();
            let (mut conn, address) = (current.conn.clone(), &current.address);
            let result = conn.req_packed_command(cmd).await;
            match &result {
                Err(error) => self.after_failed(address, error).await,
                Ok(value) if is_readonly(value) => self.after_error(address, false, true).await,
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
            let current = self.current();
            let (mut conn, address) = (current.conn.clone(), &current.address);
            let result = conn.req_packed_commands(cmd, offset, count).await;
            match &result {
                // A transaction's READONLY arrives as an error, not as a value.
                Err(error) => self.after_failed(address, error).await,
                Ok(values) if values.iter().any(is_readonly) => {
                    self.after_error(address, false, true).await
                }
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
