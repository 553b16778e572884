//! The harness every test binary shares: child processes whose log lines can be awaited
//! (`process`), the test Redis and private `redis-server`s (`redis_server`), Redis over TLS
//! (`tls`), a Sentinel-watched primary and replica (`sentinel`), a six-node Redis Cluster
//! (`cluster`), the stand-in for Twilio's Messages API (`twilio`), and the account it accepts;
//! a local application for the `webhook` handler (`app`).
//!
//! A binary at the top of `tests/` declares it with `mod common;`, one in a directory with
//! `#[path = "../common/mod.rs"] mod common;`; each uses only part of it, hence
//! `#[allow(dead_code)]` on that declaration.

pub mod app;
pub mod cluster;
pub mod events;
pub mod process;
pub mod redis_server;
pub mod sentinel;
pub mod tls;
pub mod twilio;

use std::sync::Mutex;
use std::time::{Duration, Instant};

// The names most tests need, at the top; a binary that leaves one unused is not warned.
#[allow(unused_imports)]
pub use {
    cluster::ClusterSet,
    process::Process,
    redis_server::{redis_url, PrivateRedis},
    sentinel::SentinelSet,
    tls::TlsRedis,
    twilio::{FakeTwilio, Received, Scripted},
};

/// The Twilio account the stand-in accepts (basic auth and request signatures).
pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
/// The auth token of [`ACCOUNT_SID`].
pub const AUTH_TOKEN: &str = "0123456789abcdef0123456789abcdef";
/// The topics' Twilio number: webhooks are addressed to it and replies come from it.
pub const FROM_NUMBER: &str = "+15005550006";

/// How often [`poll_until`] looks again.
pub const POLL: Duration = Duration::from_millis(25);

/// A free loopback port (bound and released; a small race is acceptable in tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free loopback port in 10000..`limit` (`limit` at most 32768, where Linux's ephemeral range
/// starts, so that no outgoing connection takes it between this check and the server's bind),
/// never the same one twice in a test binary, so that topologies started by parallel tests do not
/// collide. A Redis Cluster node needs one at most 55535 (its bus port is 10000 above).
pub fn free_port_below(limit: u16) -> u16 {
    static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    assert!(
        limit > 10_100 && limit <= 32_768,
        "port limit {limit} out of range"
    );
    for _ in 0..1000 {
        let port = rand::random_range(10_000..limit);
        let mut handed_out = HANDED_OUT.lock().unwrap();
        if !handed_out.contains(&port) && port_is_free(port) {
            handed_out.push(port);
            return port;
        }
    }
    panic!("no free loopback port below {limit}");
}

/// Whether a loopback port can be bound now.
pub fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A fresh MessageSid.
/// Runs a Python `script` (a reference implementation: twilio-python, standardwebhooks, which
/// `scripts/test` installs) with `input` on stdin; its stdout, trimmed. `library` names what it
/// needs when it fails.
pub fn python(script: &str, input: &str, library: &str) -> String {
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{library} failed (scripts/test installs it): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

pub fn new_sid() -> String {
    format!("SM{:032x}", rand::random::<u128>())
}

/// Calls `check` every [`POLL`] until it gives a value or `timeout` passes, without blocking the
/// runtime (a stand-in served by the same runtime keeps answering meanwhile).
pub async fn poll_until<T>(timeout: Duration, check: impl FnMut() -> Option<T>) -> Option<T> {
    poll_every(POLL, timeout, check).await
}

/// [`poll_until`] with another interval: checks that cost more (several connections to several
/// servers) run less often.
pub async fn poll_every<T>(
    interval: Duration,
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    // Bounded by count too, in case the clock misbehaves.
    let max_polls = timeout.as_millis() / interval.as_millis().max(1) + 2;
    for _ in 0..max_polls {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            break;
        }
        actix_web::rt::time::sleep(interval).await;
    }
    None
}
