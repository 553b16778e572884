//! Process-level fault tests of the real `pyrowire` executable: SIGKILL mid-stream, Redis stopped
//! mid-stream, a Sentinel failover, a worker process lost, SIGTERM while jobs are in flight, a
//! conversation's session across SIGKILL, an event waiting for the application across SIGKILL, SIGKILL between a send's mark and its SID while Twilio
//! still holds earlier texts queued, outbound texts (a paced broadcast, scheduled texts)
//! across SIGKILL and between two worker processes. Each test starts the built binary with a
//! temporary settings file, talks to it over HTTP like Twilio does (or like a client of the
//! outbound API), and checks what reached Redis and the Twilio stand-in: every message answered
//! 200 gets exactly one reply, every text accepted reaches its number exactly once.
//!
//! Tests that only kill pyrowire use the Redis of `scripts/test` (`REDIS_URL`) under a random key
//! prefix; the test that stops Redis runs its own `redis-server` on a free loopback port.
//!
//! One file per fault (`conversation`, `crash`, `events`, `failover`, `interrupted`, `outbound`,
//! `redis_outage`, `shutdown`); the rest is what they share: the settings and Redis reader (`setup`), the process
//! (`server`), the senders (`webhooks`), the tally of replies (`delivery`) and the outbound API's
//! client and tally of texts (`texts`), on top of `tests/common`.

#[path = "../common/mod.rs"]
#[allow(dead_code)] // these tests use only part of the harness
mod common;

mod delivery;
mod server;
mod setup;
mod texts;
mod webhooks;

mod broadcasts;
mod conversation;
mod crash;
mod events;
mod failover;
mod interrupted;
mod outbound;
mod redis_outage;
mod shutdown;

use std::time::Duration;

const TOPIC: &str = "sample";
const CLAIM_IDLE_MS: u64 = 1000;
const SHUTDOWN_GRACE_MS: u64 = 5000;
/// How long a process may take to log that it is ready.
const STARTUP: Duration = Duration::from_secs(20);
/// How long every accepted message may take to get its reply after the fault.
const SETTLE: Duration = Duration::from_secs(30);

/// Tests that measure how long recovery takes (failovers, on-time sends) run alone; the others
/// share the machine with each other. A test holds its guard for its whole run.
static LOAD: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Runs the calling test with no other fault test at the same time.
async fn alone() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    LOAD.write().await
}

/// Runs the calling test beside other shared ones, never beside one that runs alone.
async fn shared() -> tokio::sync::RwLockReadGuard<'static, ()> {
    LOAD.read().await
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
