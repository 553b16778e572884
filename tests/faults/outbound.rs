//! Texts pyrowire sends first, through the outbound API, under faults: a broadcast paced to
//! `max_sends_per_second` and one SIGKILLed halfway, a scheduled text whose process is
//! SIGKILLed before its time, and a batch due at one moment with two worker processes. Every
//! number gets exactly one text, never before its time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use time::format_description::well_known::Rfc3339;

use crate::common::{redis_url, FakeTwilio, ACCOUNT_SID, AUTH_TOKEN};
use crate::delivery::worker_of;
use crate::server::{Pyrowire, Role};
use crate::setup::{Extra, Setup};
use crate::texts::{post_texts, wait_until_sent, Text, API_TOKEN};
use crate::{secs, SETTLE};

/// The broadcasts' pace: 200 texts take at least 199 intervals of 20 ms.
const PACE: &str = "max_sends_per_second = 50";

#[actix_web::test]
async fn a_broadcast_of_200_is_paced_and_texts_every_number_once() {
    let _load = crate::shared().await;
    // Arrange
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    twilio.set_delay(Duration::from_millis(10));
    let setup = outbound_setup(&twilio, PACE, None);
    let server = Pyrowire::start(&setup.path, Role::All).await;
    let texts = Text::numbered("broadcast", 200, None);

    // Act
    let ids = post_texts(&server.address, &texts).await;
    let sent = wait_until_sent(&twilio, &setup.store, &texts, &ids, SETTLE).await;

    // Assert
    println!("broadcast: {}", sent.summary());
    sent.assert_one_each();
    assert!(
        sent.span() >= Duration::from_millis(3500),
        "200 texts at 50 a second should take about 4 s; {}",
        sent.summary()
    );
}

#[actix_web::test]
async fn sigkill_mid_broadcast_then_restart_still_texts_every_number_once() {
    let _load = crate::shared().await;
    // Arrange
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    twilio.set_delay(Duration::from_millis(10));
    let setup = outbound_setup(&twilio, PACE, None);
    let mut server = Pyrowire::start(&setup.path, Role::All).await;
    let texts = Text::numbered("killed", 200, None);

    // Act
    let ids = post_texts(&server.address, &texts).await;
    twilio.wait_for_created(40, secs(15)).await;
    let queued_at_kill = setup.store.queue_len().unwrap_or_default();
    server.sigkill();
    let created_at_kill = twilio.created().len();
    let killed_at = Instant::now();
    let _restarted = Pyrowire::start(&setup.path, Role::All).await;
    let restart = killed_at.elapsed();
    let sent = wait_until_sent(&twilio, &setup.store, &texts, &ids, SETTLE).await;

    // Assert
    println!(
        "killed broadcast: created at kill={created_at_kill} queued at kill={queued_at_kill} \
         restarted in {restart:?}; {}",
        sent.summary()
    );
    assert!(
        queued_at_kill > 0,
        "the kill came after the queue drained, so it proves nothing; {}",
        sent.summary()
    );
    sent.assert_one_each();
}

#[actix_web::test]
async fn a_scheduled_text_survives_sigkill_and_goes_out_once_at_its_time() {
    // Timed: no other fault test runs meanwhile.
    let _load = crate::alone().await;
    // Arrange
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let setup = outbound_setup(&twilio, "", None);
    let mut server = Pyrowire::start(&setup.path, Role::All).await;
    let (send_at, due) = in_three_seconds();
    let texts = Text::numbered("scheduled", 1, Some(&send_at));

    // Act
    let ids = post_texts(&server.address, &texts).await;
    server.sigkill();
    let scheduled_at_kill = setup.store.scheduled_len().unwrap_or_default();
    let created_at_kill = twilio.created().len();
    let _restarted = Pyrowire::start(&setup.path, Role::All).await;
    let restarted_before_due = Instant::now() < due;
    let sent = wait_until_sent(&twilio, &setup.store, &texts, &ids, secs(15)).await;

    // Assert
    println!(
        "scheduled: scheduled at kill={scheduled_at_kill} \
         restarted before due={restarted_before_due}; {}",
        sent.timing(due)
    );
    assert_eq!(
        (scheduled_at_kill, created_at_kill),
        (1, 0),
        "the text should still have been scheduled when the process was killed"
    );
    sent.assert_one_each();
    sent.assert_on_time(due);
}

#[actix_web::test]
async fn fifty_texts_due_at_once_with_two_worker_processes_go_out_once_each() {
    // Timed: no other fault test runs meanwhile.
    let _load = crate::alone().await;
    // Arrange
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    // The scheduler logs how many texts each of its calls moved, at debug.
    let setup = outbound_setup(&twilio, "", Some("info,pyrowire::actors::scheduler=debug"));
    // Started together, so that their schedulers tick at about the same moments and both
    // look for the due texts at once.
    let (first, second) = tokio::join!(
        Pyrowire::start(&setup.path, Role::Worker),
        Pyrowire::start(&setup.path, Role::Worker)
    );
    let workers = [first, second];
    let web = Pyrowire::start(&setup.path, Role::Web).await;
    let (send_at, due) = in_three_seconds();
    let texts = Text::numbered("due", 50, Some(&send_at));

    // Act
    let ids = post_texts(&web.address, &texts).await;
    let sent = wait_until_sent(&twilio, &setup.store, &texts, &ids, secs(15)).await;

    // Assert
    let moved: Vec<u64> = workers.iter().map(moved_by).collect();
    let records = setup.store.records(&ids).unwrap();
    let mut sent_by: HashMap<String, usize> = HashMap::new();
    for record in records.values() {
        *sent_by.entry(worker_of(record)).or_default() += 1;
    }
    println!(
        "due at once: moved to the queue by each process {moved:?}; sent by {sent_by:?}; {}",
        sent.timing(due)
    );
    sent.assert_one_each();
    sent.assert_on_time(due);
    // A text queued twice would still be sent once (its send marker stops the second job), so
    // the due script's moves are counted too.
    assert_eq!(
        moved.iter().sum::<u64>(),
        texts.len() as u64,
        "every text should be moved to the queue once, by one process: {moved:?}"
    );
}

/// An echo topic pointed at the stand-in with the outbound API on, and `topic` lines.
fn outbound_setup(twilio: &FakeTwilio, topic: &str, log_level: Option<&str>) -> Setup {
    let profile = format!("api_token = \"{API_TOKEN}\"");
    let extra = Extra {
        profile: &profile,
        topic,
        log_level,
    };
    Setup::with_extra(&redis_url(), &twilio.base, 4, extra)
}

/// `send_at` three seconds from now (RFC 3339), and that moment as an `Instant`.
fn in_three_seconds() -> (String, Instant) {
    let (wall, now) = (time::OffsetDateTime::now_utc(), Instant::now());
    let at = wall + secs(3);
    // The server keeps whole milliseconds; so does the `Instant` compared with.
    let at = at.replace_millisecond(at.millisecond()).unwrap();
    let due = now + Duration::try_from(at - wall).unwrap();
    (at.format(&Rfc3339).unwrap(), due)
}

/// How many scheduled texts a process's due script moved to the queue, from its debug lines
/// ("Scheduled texts queued. topic=... count=N").
fn moved_by(process: &Pyrowire) -> u64 {
    let lines = process.lines();
    let moves = lines
        .iter()
        .filter(|l| l.contains("Scheduled texts queued."))
        .filter_map(|l| l.split("count=").nth(1));
    moves
        .filter_map(|n| n.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}
