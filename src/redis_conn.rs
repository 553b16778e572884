//! Connections to Redis. The process shares one multiplexed connection for short commands; each
//! HTTP worker thread's queue actor opens its own (so its reader and writer run on the thread it
//! serves); each topic's worker pool has one more for its blocking `XREADGROUP`, because a
//! blocked command would hold up everything pipelined behind it. All reconnect by themselves.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::settings::Secret;

/// How long a short command may take before it counts as failed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Opens a self-reconnecting multiplexed connection. `response_timeout` must exceed the longest
/// `BLOCK` the connection will be used for.
pub async fn connect(
    url: &Secret,
    response_timeout: Duration,
) -> redis::RedisResult<ConnectionManager> {
    let client = redis::Client::open(url.expose())?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(response_timeout)
        .set_number_of_retries(2)
        .set_max_delay(1000);
    ConnectionManager::new_with_config(client, config).await
}

/// Opens a plain blocking connection, for the command-line tools.
pub fn connect_blocking(url: &Secret) -> redis::RedisResult<redis::Connection> {
    redis::Client::open(url.expose())?.get_connection_with_timeout(CONNECT_TIMEOUT)
}

/// A Redis URL with any password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://[redacted]@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_in_urls() {
        assert_eq!(
            redact_url("redis://:s3cret@host:6379/0"),
            "redis://[redacted]@host:6379/0"
        );
        assert_eq!(redact_url("redis://host/0"), "redis://host/0");
    }
}
