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

/// A Redis URL with any credentials replaced, for messages: the user and password before `@`,
/// and a `pass`, `password` or `user` query parameter (`unix:///run/redis.sock?pass=...`).
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match (base.find("://"), base.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://[redacted]@{}", &base[..scheme], &base[at + 1..])
        }
        _ => base.to_string(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if ["pass", "password", "user"].contains(&name) => {
                    format!("{name}=[redacted]")
                }
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
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
        assert_eq!(
            redact_url("unix:///run/redis.sock?db=2&pass=s3cret"),
            "unix:///run/redis.sock?db=2&pass=[redacted]"
        );
        assert_eq!(
            redact_url("redis://u:p@host/0?password=x"),
            "redis://[redacted]@host/0?password=[redacted]"
        );
    }
}
