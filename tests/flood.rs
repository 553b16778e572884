//! A flood of stalled connections against the real `pyrowire` executable. Many loopback
//! connections each send a webhook's headers (with a signature that cannot be checked before the
//! body is in), declare a 64 KiB body, trickle most of it and stall; then they all close. The
//! server's resident memory, read from `/proc/<pid>/status`, must stay bounded during the flood
//! (`max_connections` holds the rest in the listen backlog) and come back near idle after it
//! (freed memory is given back to the OS), and the server must still answer.

#[allow(dead_code)] // this test uses only part of the helpers
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use actix_rt::net::TcpStream;
use actix_rt::time::{sleep, timeout};
use common::Process;
use futures_util::future::join_all;
use pyrowire::settings::{self, LoadOptions};

const MIB: u64 = 1024 * 1024;
/// Connections opened (fewer when the file-descriptor limit is low).
const CONNECTIONS: usize = 1000;
/// How long each connection may take to open; past `max_connections` and the backlog, the
/// kernel drops the handshake and the connection is left out.
const CONNECT_WAIT: Duration = Duration::from_millis(1500);
/// The body each request declares: the most a webhook may send.
const DECLARED: usize = 64 * 1024;
/// Each connection sends this much of its body, in `PIECES` pieces `PAUSE` apart, then stalls.
const PIECE: usize = 15 * 1024;
const PIECES: usize = 4;
const PAUSE: Duration = Duration::from_millis(200);
/// Resident memory allowed above idle while the flood holds its connections. Measured on the
/// debug build (2 CPUs, idle 30 MiB): 34-38 MiB with the default `max_connections`; 134-144 MiB
/// with no connection limit.
const DURING_BOUND: u64 = 64 * MIB;
/// Resident memory allowed above idle once the flood has closed. Measured on the debug build:
/// 9-12 MiB; 34-37 MiB with the connection limit but mimalloc's delayed purge; with neither, the
/// flood's whole peak stayed (133-142 MiB).
const AFTER_BOUND: u64 = 24 * MIB;
/// Memory after the flood is read this long after the connections close (it settles within a
/// few hundred milliseconds)...
const QUIET: Duration = Duration::from_secs(1);
/// ...or, while still above the bound, until this long after.
const SETTLE: Duration = Duration::from_secs(5);

#[actix_web::test]
async fn stalled_connection_flood_holds_bounded_memory_and_gives_it_back() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let path = settings_file(dir.path());
    let max_connections = settings::load(&LoadOptions {
        path: path.clone(),
        profile: Some("test".into()),
    })
    .unwrap()
    .profile
    .max_connections;
    let connections = CONNECTIONS.min(open_files_limit() / 2);
    assert!(
        connections > max_connections,
        "{connections} connections cannot fill max_connections={max_connections}; raise `ulimit -n`"
    );
    let server = start(&path);
    let address = server.listening_address();
    let host = address.trim_start_matches("http://").to_string();
    let pid = server.child.id();
    assert_eq!(health(&address).await, 200);
    sleep(Duration::from_millis(500)).await;
    let idle = rss(pid);

    // Act: open, send headers and most of each body, stall, measuring all along; then close.
    let streams = open(&host, connections).await;
    let mut peak = rss(pid);
    send(&streams, head(&host).as_bytes());
    for _ in 0..PIECES {
        send(&streams, &[b'a'; PIECE]);
        sleep(PAUSE).await;
        peak = peak.max(rss(pid));
    }
    for _ in 0..5 {
        sleep(Duration::from_millis(100)).await;
        peak = peak.max(rss(pid));
    }
    let opened = streams.len();
    drop(streams);
    let closed_at = Instant::now();
    let mut after = rss(pid);
    while closed_at.elapsed() < QUIET
        || (after > idle + AFTER_BOUND && closed_at.elapsed() < SETTLE)
    {
        sleep(Duration::from_millis(100)).await;
        after = rss(pid);
    }
    let settled_in = closed_at.elapsed();
    let answer = health(&address).await;

    // Assert
    let summary = format!(
        "connections opened={opened} of {connections} (max_connections={max_connections}); \
         RSS idle={} MiB, peak during={} MiB, after={} MiB ({settled_in:?} after closing)",
        idle / MIB,
        peak / MIB,
        after / MIB
    );
    println!("flood: {summary}");
    assert!(
        opened > max_connections,
        "the flood did not fill max_connections, so it proves nothing; {summary}"
    );
    assert!(
        peak > idle + 8 * MIB,
        "the flood took almost no memory, so it proves nothing; {summary}"
    );
    assert!(
        peak <= idle + DURING_BOUND,
        "RSS rose more than {} MiB during the flood; {summary}",
        DURING_BOUND / MIB
    );
    assert!(
        after <= idle + AFTER_BOUND,
        "RSS stayed more than {} MiB above idle after the flood; {summary}",
        AFTER_BOUND / MIB
    );
    assert_eq!(answer, 200, "the server did not answer after the flood");
}

/// A web-only profile that checks signatures and keeps the default `max_connections`.
fn settings_file(dir: &Path) -> PathBuf {
    let redis = common::redis_url();
    let prefix = format!("flood{:08x}", rand::random::<u32>());
    let text = format!(
        r#"
[profiles.test]
port = 0
log_level = "info"
redis = "{redis}"
redis_prefix = "{prefix}"
validate_signatures = true

[topics.sample]
handler = "echo"
accept_response = "ok"
workers = 0
[topics.sample.twilio]
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = "0123456789abcdef0123456789abcdef"
from_number = "+15005550006"
api_base = "http://127.0.0.1:9"
"#
    );
    let path = dir.join("settings.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn start(settings: &Path) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pyrowire"));
    command
        .args(["serve", "--profile", "test", "--role", "web", "--settings"])
        .arg(settings)
        .env_remove("PORT")
        .env_remove("MIMALLOC_PURGE_DELAY");
    Process::start(command)
}

/// A webhook's headers: a signature is present (a request without one is refused before its
/// body is read), so the server has to wait for the whole declared body before it can check it.
fn head(host: &str) -> String {
    format!(
        "POST /queue/sample HTTP/1.1\r\nHost: {host}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\
         X-Twilio-Signature: bm90IGEgcmVhbCBzaWduYXR1cmU=\r\n\
         Content-Length: {DECLARED}\r\n\r\n"
    )
}

/// Opens up to `count` connections at once; those the server's backlog cannot take in time are
/// left out.
async fn open(host: &str, count: usize) -> Vec<TcpStream> {
    let connects = (0..count).map(|_| timeout(CONNECT_WAIT, TcpStream::connect(host)));
    join_all(connects)
        .await
        .into_iter()
        .filter_map(|connected| connected.ok()?.ok())
        .collect()
}

/// Writes `bytes` to every stream as far as its send buffer takes them, without waiting.
fn send(streams: &[TcpStream], bytes: &[u8]) {
    for stream in streams {
        let _ = stream.try_write(bytes);
    }
}

async fn health(address: &str) -> u16 {
    let request = awc::Client::default()
        .get(format!("{address}/health"))
        .timeout(Duration::from_secs(5));
    match request.send().await {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}

/// The process's resident memory in bytes (`VmRSS`).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// This process's soft limit on open files.
fn open_files_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let soft = line.split_whitespace().nth(3).unwrap();
    soft.parse().unwrap_or(usize::MAX)
}
