//! The harness every test binary shares: child processes whose log lines can be awaited
//! (`process`), the test Redis and private `redis-server`s (`redis_server`), the stand-in for
//! Twilio's Messages API (`twilio`), and the account it accepts.
//!
//! A binary at the top of `tests/` declares it with `mod common;`, one in a directory with
//! `#[path = "../common/mod.rs"] mod common;`; each uses only part of it, hence
//! `#[allow(dead_code)]` on that declaration.

pub mod process;
pub mod redis_server;
pub mod twilio;

use std::time::{Duration, Instant};

// The names most tests need, at the top; a binary that leaves one unused is not warned.
#[allow(unused_imports)]
pub use {
    process::Process,
    redis_server::{redis_url, PrivateRedis},
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

/// A fresh MessageSid.
pub fn new_sid() -> String {
    format!("SM{:032x}", rand::random::<u128>())
}

/// Calls `check` every [`POLL`] until it gives a value or `timeout` passes, without blocking the
/// runtime (a stand-in served by the same runtime keeps answering meanwhile).
pub async fn poll_until<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    // Bounded by count too, in case the clock misbehaves.
    let max_polls = timeout.as_millis() / POLL.as_millis() + 2;
    for _ in 0..max_polls {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            break;
        }
        actix_web::rt::time::sleep(POLL).await;
    }
    None
}
