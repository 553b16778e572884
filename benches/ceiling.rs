//! Helpers for `scripts/bench`, one binary with three modes (run with no mode, as plain
//! `cargo bench` does, it prints its usage and exits 0):
//!
//! - `ceiling ADDR REDIS_URL`: the ceiling pyrowire's ingress is compared with. A minimal
//!   actix-web server that parses the webhook form into a map, does one `RPUSH` of the body on one
//!   shared multiplexed Redis connection, and answers a tiny TwiML.
//! - `sink ADDR`: a fast local stand-in for Twilio's Messages API. It answers every
//!   `POST /2010-04-01/Accounts/{sid}/Messages.json` with 201 and a Twilio-shaped message
//!   resource, and measures webhook-to-reply latency from the send time the benchmark puts in the
//!   webhook's body (unix microseconds spelled out, "sent bravo hotel golf ...", echoed back by
//!   the `echo` handler; see `benches/webhook_timed.lua`). `GET /stats` answers the counts and
//!   percentiles as JSON; `POST /reset` forgets them. `POST /delay/{ms}` makes every create
//!   answer that long after it arrived (Twilio's own create takes ~250 ms), for the
//!   real-latency phase: arrivals are still counted when they arrive.
//! - `startup PORT RUNS LOG -- CMD ARGS...`: starts CMD RUNS times, each time measuring the time
//!   from exec to `GET /health` on 127.0.0.1:PORT answering 200 (polled every 5 ms), stops it
//!   with SIGTERM, and prints the runs and their median as JSON.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::{web, App, HttpResponse, HttpServer};
use redis::AsyncCommands;
use serde_json::json;

const USAGE: &str =
    "usage: ceiling ceiling ADDR REDIS_URL | sink ADDR | startup PORT RUNS LOG -- CMD ARGS...";

/// The list the ceiling pushes to; `scripts/bench` deletes it after the phase.
const CEILING_LIST: &str = "bench:ceiling";

const TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>Great, we&apos;ll get right back to you.</Message></Response>";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["ceiling", addr, redis_url] => ceiling(addr, redis_url),
        ["sink", addr] => sink(addr),
        ["startup", port, runs, log, "--", command @ ..] if !command.is_empty() => {
            startup(port, runs, log, command)
        }
        _ => {
            // `cargo bench` runs every bench target with `--bench`; this one only serves the script.
            eprintln!("{USAGE}");
            return;
        }
    };
    if let Err(error) = result {
        eprintln!("ceiling: {error}");
        std::process::exit(1);
    }
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

// ---------------------------------------------------------------------------------------------
// ceiling

#[actix_web::main]
async fn ceiling(addr: &str, redis_url: &str) -> Result<(), String> {
    let client = redis::Client::open(redis_url).map_err(|e| format!("bad redis url: {e}"))?;
    // One connection for every request on every worker thread, as pyrowire shares one.
    let conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| format!("failed to connect to redis: {e}"))?;
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(conn.clone()))
            .route("/queue/{topic}", web::post().to(ceiling_webhook))
    })
    .bind(addr)
    .map_err(|e| format!("failed to bind {addr}: {e}"))?
    .run()
    .await
    .map_err(|e| e.to_string())
}

async fn ceiling_webhook(
    conn: web::Data<redis::aio::MultiplexedConnection>,
    body: web::Bytes,
) -> HttpResponse {
    let form: HashMap<String, String> = match serde_urlencoded::from_bytes(&body) {
        Ok(form) => form,
        Err(_) => return HttpResponse::BadRequest().body("bad form"),
    };
    if !form.contains_key("From") || !form.contains_key("MessageSid") {
        return HttpResponse::BadRequest().body("missing From or MessageSid");
    }
    let mut conn = conn.get_ref().clone();
    match conn.rpush::<_, _, ()>(CEILING_LIST, body.as_ref()).await {
        Ok(()) => HttpResponse::Ok().content_type("text/xml").body(TWIML),
        Err(_) => HttpResponse::ServiceUnavailable()
            .content_type("text/xml")
            .body("<Response/>"),
    }
}

// ---------------------------------------------------------------------------------------------
// sink

/// What the sink saw; latencies in microseconds.
#[derive(Default)]
struct Stats {
    count: u64,
    latencies_us: Vec<u64>,
    first_sent_us: Option<u64>,
    first_arrival_us: Option<u64>,
    last_arrival_us: Option<u64>,
    /// Replies whose body carried no send time (not from the benchmark's webhooks).
    untimed: u64,
    /// Creates arrived and not yet answered, and the most there were at once.
    in_flight: u64,
    max_in_flight: u64,
}

struct Sink {
    stats: Mutex<Stats>,
    next_sid: AtomicU64,
    /// How long each create waits before it answers, in milliseconds (0: at once).
    delay_ms: AtomicU64,
}

#[actix_web::main]
async fn sink(addr: &str) -> Result<(), String> {
    let state = web::Data::new(Sink {
        stats: Mutex::new(Stats::default()),
        next_sid: AtomicU64::new(1),
        delay_ms: AtomicU64::new(0),
    });
    HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route(
                "/2010-04-01/Accounts/{account}/Messages.json",
                web::post().to(sink_create),
            )
            // Only asked after a send of unknown outcome; nothing was sent twice here.
            .route(
                "/2010-04-01/Accounts/{account}/Messages.json",
                web::get().to(|| async {
                    HttpResponse::Ok().json(json!({"messages": [], "next_page_uri": null}))
                }),
            )
            .route("/stats", web::get().to(sink_stats))
            .route("/reset", web::post().to(sink_reset))
            .route("/delay/{ms}", web::post().to(sink_delay))
    })
    .bind(addr)
    .map_err(|e| format!("failed to bind {addr}: {e}"))?
    .run()
    .await
    .map_err(|e| e.to_string())
}

async fn sink_create(
    state: web::Data<Sink>,
    account: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let arrival = now_micros();
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let (Some(to), Some(from)) = (form.get("To"), form.get("From")) else {
        return HttpResponse::BadRequest().json(json!({
            "code": 21604, "message": "A 'To' and 'From' phone number is required.",
            "more_info": "https://www.twilio.com/docs/errors/21604", "status": 400
        }));
    };
    let text = form.get("Body").cloned().unwrap_or_default();
    // A time from the future or over an hour old is no benchmark's send time.
    let sent = sent_micros(&text).filter(|&sent| sent <= arrival && arrival - sent < 3_600_000_000);
    {
        let mut stats = state
            .stats
            .lock()
            .expect("sink stats lock is never poisoned");
        stats.count += 1;
        match sent {
            Some(sent) => {
                stats.latencies_us.push(arrival.saturating_sub(sent));
                stats.first_sent_us = Some(stats.first_sent_us.map_or(sent, |f| f.min(sent)));
            }
            None => stats.untimed += 1,
        }
        stats.first_arrival_us.get_or_insert(arrival);
        stats.last_arrival_us = Some(arrival);
        stats.in_flight += 1;
        stats.max_in_flight = stats.max_in_flight.max(stats.in_flight);
    }
    let delay = state.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        actix_web::rt::time::sleep(Duration::from_millis(delay)).await;
    }
    {
        let mut stats = state
            .stats
            .lock()
            .expect("sink stats lock is never poisoned");
        stats.in_flight = stats.in_flight.saturating_sub(1);
    }
    let n = state.next_sid.fetch_add(1, Ordering::Relaxed);
    let sid = format!("SM{n:032x}");
    let date = httpdate::fmt_http_date(SystemTime::now()).replace("GMT", "+0000");
    HttpResponse::Created().json(json!({
        "account_sid": account.as_str(),
        "api_version": "2010-04-01",
        "body": text,
        "date_created": date,
        "date_sent": null,
        "date_updated": date,
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": from,
        "messaging_service_sid": null,
        "num_media": "0",
        "num_segments": "1",
        "price": null,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {"media": format!("/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json")},
        "to": to,
        "uri": format!("/2010-04-01/Accounts/{account}/Messages/{sid}.json"),
    }))
}

/// The send time in a body "sent bravo hotel golf ..." (one NATO word per digit of unix
/// microseconds, alpha = 0).
fn sent_micros(text: &str) -> Option<u64> {
    const DIGITS: [&str; 10] = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    ];
    let mut words = text.split_whitespace();
    if words.next() != Some("sent") {
        return None;
    }
    words.try_fold(0u64, |micros, word| {
        let digit = DIGITS.iter().position(|d| *d == word)? as u64;
        micros.checked_mul(10)?.checked_add(digit)
    })
}

async fn sink_stats(state: web::Data<Sink>) -> HttpResponse {
    let (mut latencies, body) = {
        let stats = state
            .stats
            .lock()
            .expect("sink stats lock is never poisoned");
        (
            stats.latencies_us.clone(),
            json!({
                "count": stats.count,
                "untimed": stats.untimed,
                "first_sent_us": stats.first_sent_us,
                "first_arrival_us": stats.first_arrival_us,
                "last_arrival_us": stats.last_arrival_us,
                "max_in_flight": stats.max_in_flight,
            }),
        )
    };
    latencies.sort_unstable();
    let mut body = body;
    body["p50_ms"] = json!(percentile_ms(&latencies, 50.0));
    body["p99_ms"] = json!(percentile_ms(&latencies, 99.0));
    body["max_ms"] = json!(percentile_ms(&latencies, 100.0));
    HttpResponse::Ok().json(body)
}

async fn sink_reset(state: web::Data<Sink>) -> HttpResponse {
    *state
        .stats
        .lock()
        .expect("sink stats lock is never poisoned") = Stats::default();
    HttpResponse::NoContent().finish()
}

async fn sink_delay(state: web::Data<Sink>, ms: web::Path<u64>) -> HttpResponse {
    // Bounded: a mistyped delay must not park the bench's sends for hours.
    state
        .delay_ms
        .store(ms.into_inner().min(10_000), Ordering::Relaxed);
    HttpResponse::NoContent().finish()
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
fn percentile_ms(sorted_us: &[u64], p: f64) -> Option<f64> {
    if sorted_us.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    let value = sorted_us[rank.clamp(1, sorted_us.len()) - 1];
    Some(value as f64 / 1000.0)
}

// ---------------------------------------------------------------------------------------------
// startup

fn startup(port: &str, runs: &str, log: &str, command: &[&str]) -> Result<(), String> {
    let port: u16 = port.parse().map_err(|_| format!("bad port {port}"))?;
    let runs: usize = runs.parse().map_err(|_| format!("bad run count {runs}"))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut times_ms = Vec::with_capacity(runs);
    for run in 1..=runs {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("failed to open {log}: {e}"))?;
        let started = Instant::now();
        let mut child = Command::new(command[0])
            .args(&command[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("failed to start {}: {e}", command[0]))?;
        let deadline = started + Duration::from_secs(10);
        let outcome = loop {
            if health_ok(addr) {
                break Ok(started.elapsed());
            }
            if let Ok(Some(status)) = child.try_wait() {
                break Err(format!(
                    "run {run}: exited with {status} before /health answered; see {log}"
                ));
            }
            if Instant::now() > deadline {
                break Err(format!(
                    "run {run}: /health did not answer 200 within 10 s; see {log}"
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        stop(&mut child);
        times_ms.push(outcome?.as_secs_f64() * 1000.0);
    }
    let mut sorted = times_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    println!("{}", json!({"runs_ms": times_ms, "median_ms": median}));
    Ok(())
}

/// Whether `GET /health` answers 200 right now.
fn health_ok(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(100)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}

/// SIGTERM, then SIGKILL if the process has not exited after 10 s.
fn stop(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}
