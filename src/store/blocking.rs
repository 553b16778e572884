//! Blocking connections for the command-line tools (`status` aside, which shares the server's
//! async code): to the profile's primary, or to its Redis Cluster.

use redis::{Cmd, RedisResult, Value};

use super::connection::COMMAND_TIMEOUT;
use super::target::{no_client, RedisTarget, CONNECT_TIMEOUT};

/// A blocking connection for the command-line tools: to the primary, or to the cluster.
pub(crate) enum BlockingConn {
    /// One node (the primary).
    Node(redis::Connection),
    /// A Redis Cluster.
    Cluster(Box<redis::cluster::ClusterConnection>),
}

/// A blocking connection to the profile's Redis for a command-line tool, with the Redis URL its
/// errors name (password removed).
pub(crate) fn connect_for_tools(
    profile: &crate::settings::Profile,
) -> (RedisResult<BlockingConn>, String) {
    let (target, url) = RedisTarget::for_tools_named(profile);
    (target.and_then(|target| connect_blocking(&target)), url)
}

/// Opens a plain blocking connection to the primary (or the cluster), for the command-line tools.
pub(crate) fn connect_blocking(target: &RedisTarget) -> RedisResult<BlockingConn> {
    if let Some(cluster) = target.cluster_client(COMMAND_TIMEOUT)? {
        return Ok(BlockingConn::Cluster(Box::new(cluster.get_connection()?)));
    }
    let client = target.primary_client_blocking()?.ok_or_else(no_client)?;
    Ok(BlockingConn::Node(
        client.get_connection_with_timeout(CONNECT_TIMEOUT)?,
    ))
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
