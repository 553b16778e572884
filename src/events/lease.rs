//! The lease on a topic's events (`lease.lua`): held by one process at a time, renewed on every
//! read, lost after [`LEASE_TTL`] without one.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use crate::store::connection::RedisConn;

/// How long a lease outlives its holder's last renewal: how long events wait after the process
/// that delivered them stopped.
pub(crate) const LEASE_TTL: Duration = Duration::from_secs(10);

static LEASE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lease.lua")));

/// Takes or renews `lease` for `me`; answers whether this process holds it.
pub(super) async fn hold(conn: &mut RedisConn, lease: &str, me: &str) -> redis::RedisResult<bool> {
    let held: i64 = LEASE
        .key(lease)
        .arg(me)
        .arg(LEASE_TTL.as_millis() as u64)
        .invoke_async(conn)
        .await?;
    Ok(held == 1)
}
