//! Redis for tests: the shared test Redis that `scripts/test` starts (`REDIS_URL`; tests keep
//! apart by key prefix), a private `redis-server` for a test that stops and restarts Redis, and
//! one-off commands to a server of a test's own by port (what the topologies poll with).

use std::process::Command;
use std::time::Duration;

use super::{free_port, poll_until, Process, POLL};

/// The test Redis, started by `scripts/test`.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL")
        .expect("REDIS_URL is not set: run the tests with scripts/test, which starts a Redis")
}

/// A `redis-server` of one test's own, on a free loopback port with its own data directory,
/// fsyncing every write so that what it acknowledged survives a stop. Killed when dropped.
pub struct PrivateRedis {
    port: u16,
    dir: tempfile::TempDir,
    server: Option<Process>,
}

impl PrivateRedis {
    /// Starts the server and waits until it answers PING.
    pub async fn start() -> PrivateRedis {
        let mut redis = PrivateRedis {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            server: None,
        };
        redis.start_again().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts the server on the same port and data directory and waits until it answers PING.
    pub async fn start_again(&mut self) {
        assert!(self.server.is_none(), "redis-server is already running");
        let mut command = Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(["--save", "", "--logfile", "redis.log"]);
        self.server = Some(Process::start(command));
        let client = redis::Client::open(self.url()).unwrap();
        let answered = poll_until(Duration::from_secs(10), || {
            let mut connection = client.get_connection_with_timeout(POLL).ok()?;
            redis::cmd("PING").query::<String>(&mut connection).ok()
        })
        .await;
        assert!(answered.is_some(), "private redis-server did not answer");
    }

    /// SIGTERM, then waits for the process to exit.
    pub async fn stop(&mut self) {
        let mut server = self.server.take().expect("redis-server is running");
        server.signal("TERM");
        let exited = server.wait_for_exit(Duration::from_secs(10)).await;
        assert!(exited.is_some(), "redis-server did not stop on SIGTERM");
    }
}

/// Sends one command to the plain (not TLS) Redis or Sentinel on a loopback port, with short
/// connect, read and write timeouts; None when it does not answer, answers with an error or
/// answers with something that is not a `T`.
pub fn query<T: redis::FromRedisValue>(port: u16, command: &redis::Cmd) -> Option<T> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
    let mut connection = client
        .get_connection_with_timeout(Duration::from_millis(500))
        .ok()?;
    connection
        .set_read_timeout(Some(Duration::from_secs(2)))
        .ok()?;
    connection
        .set_write_timeout(Some(Duration::from_secs(2)))
        .ok()?;
    command.query(&mut connection).ok()
}

/// The `field:value` lines of an INFO section, by field.
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|line| line.trim().strip_prefix(field)?.strip_prefix(':'))
        .map(str::to_string)
}
