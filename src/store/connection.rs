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
    conn: ConnectionManager,
    /// `host:port` of the node, for comparing and logging (never a password).
    address: String,
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

/// Opens a plain blocking connection to the primary, for the command-line tools.
pub fn connect_blocking(target: &RedisTarget) -> RedisResult<redis::Connection> {
    target
        .primary_client_blocking()?
        .get_connection_with_timeout(CONNECT_TIMEOUT)
}

async fn open(target: &RedisTarget, response_timeout: Duration) -> RedisResult<Current> {
    let client = target.primary_client().await?;
    let address = address_of(&client);
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(response_timeout)
        .set_number_of_retries(2)
        .set_max_delay(1000);
    let conn = ConnectionManager::new_with_config(client, config).await?;
    Ok(Current { conn, address })
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
    /// many replicas hold every write this connection made so far; an error when they do not.
    pub async fn confirm_replicated(&mut self) -> Result<(), ReplicationError> {
        let target = &self.shared.target;
        let wanted = target.min_replica_acks;
        if wanted == 0 {
            return Ok(());
        }
        let timeout_ms = target.replica_ack_timeout.as_millis() as u64;
        let acked: u32 = redis::cmd("WAIT")
            .arg(wanted)
            .arg(timeout_ms)
            .query_async(self)
            .await?;
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
        let Ok(client) = shared.target.primary_client().await else {
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
