//! Whether the node a connection writes to takes writes: what `/health` reports, for the web
//! side (through the queue actor) and for a worker process alike.

use crate::store::breaker::is_outage;
use crate::store::connection::RedisConn;
use crate::store::target::Form;

/// True when the node is a primary (`ROLE`), or for a cluster when every slot is served
/// (`CLUSTER INFO`); false for a demoted node, which answers but takes no writes.
pub(crate) async fn is_primary(conn: &mut RedisConn) -> redis::RedisResult<bool> {
    if conn.form() == Form::Cluster {
        let info: String = redis::cmd("CLUSTER").arg("INFO").query_async(conn).await?;
        return Ok(info.lines().any(|l| l.trim() == "cluster_state:ok"));
    }
    let role: redis::RedisResult<Vec<redis::Value>> = redis::cmd("ROLE").query_async(conn).await;
    match role {
        Ok(role) => Ok(role
            .first()
            .and_then(|r| redis::from_redis_value::<String>(r).ok())
            .is_some_and(|r| r == "master")),
        // Some managed services (Redis Cloud, Upstash) refuse ROLE: there, answering PING is
        // all that can be known.
        Err(e) if !is_outage(&e) => {
            redis::cmd("PING").query_async::<String>(conn).await?;
            Ok(true)
        }
        Err(e) => Err(e),
    }
}
