//! SIGTERM with jobs in flight: they finish, new webhooks are refused, the rest stays queued
//! for the next process, and the process exits 0 within `shutdown_grace_ms`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix_web::rt::time::sleep;

use crate::common::{poll_until, redis_url, FakeTwilio, ACCOUNT_SID, AUTH_TOKEN};
use crate::delivery::{bodies, wait_until_settled};
use crate::server::{Pyrowire, Role};
use crate::setup::Setup;
use crate::webhooks::{
    accepted_sids, answer_counts, numbered_messages, post_webhook, webhook_client, Answer, Sending,
    Sent,
};
use crate::{secs, SETTLE, SHUTDOWN_GRACE_MS};

#[actix_web::test]
async fn sigterm_finishes_in_flight_jobs_and_leaves_the_rest_queued() {
    let _load = crate::shared().await;
    // Arrange
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    twilio.set_delay(Duration::from_millis(800));
    let setup = Setup::new(&redis_url(), &twilio.base, 2);
    let mut server = Pyrowire::start(&setup.path, Role::All).await;
    let mut sending = Sending::start(&server.address, numbered_messages("term", 10), 1, None);
    sending.finish(Duration::from_secs(10)).await;
    assert_eq!(
        accepted_sids(&sending.log).len(),
        10,
        "{:?}",
        answer_counts(&sending.log.borrow())
    );
    let first_create = poll_until(secs(10), || (!twilio.creates().is_empty()).then_some(())).await;
    assert!(first_create.is_some(), "no send reached the stand-in");

    // Act
    server.sigterm();
    let signalled = Instant::now();
    let in_flight = bodies(&twilio.creates());
    let probes = probe_while_running(&mut server, signalled, &twilio).await;
    let limit = Duration::from_millis(SHUTDOWN_GRACE_MS + 3000);
    let exit = server
        .wait_for_exit(limit.saturating_sub(signalled.elapsed()))
        .await;
    let exited_after = signalled.elapsed();
    let sent_at_exit = bodies(&twilio.creates());
    sending.log.borrow_mut().extend(probes.sent.iter().cloned());
    let accepted = accepted_sids(&sending.log);
    let queued_at_exit = setup.store.queue_len().unwrap();
    let records_at_exit = setup.store.records(&accepted).unwrap();
    twilio.set_delay(Duration::from_millis(20));
    let _restarted = Pyrowire::start(&setup.path, Role::All).await;
    let delivery = wait_until_settled(&twilio, &setup.store, &sending.log, SETTLE).await;

    // Assert
    let log = sending.log.borrow();
    let sid_of: HashMap<&str, &str> = log
        .iter()
        .map(|s| (s.message.body.as_str(), s.message.sid.as_str()))
        .collect();
    let unfinished: Vec<&String> = sent_at_exit
        .iter()
        .filter(|body| {
            let record = sid_of
                .get(body.as_str())
                .and_then(|sid| records_at_exit.get(*sid));
            record.is_none_or(|r| r["outcome"] != "completed")
        })
        .collect();
    println!(
        "sigterm: exit {exit:?} after {exited_after:?}; in flight at signal={} sent by exit={} \
         records at exit={} queued at exit={queued_at_exit}; probes {:?} ({} accepted late); {}",
        in_flight.len(),
        sent_at_exit.len(),
        records_at_exit.len(),
        answer_counts(&probes.sent),
        probes.accepted_late,
        delivery.summary()
    );
    let exit = exit.unwrap_or_else(|| panic!("still running {limit:?} after SIGTERM"));
    assert_eq!(exit.code(), Some(0), "exit status after SIGTERM");
    assert!(
        probes.accepted_late == 0,
        "webhooks sent {PROBE_SETTLE:?} or more after SIGTERM must be refused: {:?}",
        probes.sent
    );
    assert!(
        unfinished.is_empty(),
        "sends that reached Twilio before exit have no completed record: {unfinished:?}"
    );
    assert_eq!(
        sent_at_exit.len(),
        probes.sent_at_settle,
        "a job was started after SIGTERM (sends seen {PROBE_SETTLE:?} after the signal vs. at exit)"
    );
    assert!(queued_at_exit > 0, "nothing was left queued at exit");
    assert_eq!(
        records_at_exit.len() + queued_at_exit,
        accepted.len(),
        "every accepted message is either recorded or still queued at exit"
    );
    delivery.assert_exactly_one_reply_each();
}

/// Probes sent to a process after SIGTERM.
struct Probes {
    sent: Vec<Sent>,
    /// Probes accepted though sent `PROBE_SETTLE` or more after the signal.
    accepted_late: usize,
    /// Create requests the stand-in had `PROBE_SETTLE` after the signal.
    sent_at_settle: usize,
}

/// Time a process gets to act on a signal before it must refuse new webhooks.
const PROBE_SETTLE: Duration = Duration::from_millis(250);

/// Posts a new webhook (on a new connection) every 50 ms until the process exits.
async fn probe_while_running(
    server: &mut Pyrowire,
    signalled: Instant,
    twilio: &FakeTwilio,
) -> Probes {
    let limit = Duration::from_millis(SHUTDOWN_GRACE_MS + 3000);
    let mut probes = Probes {
        sent: Vec::new(),
        accepted_late: 0,
        sent_at_settle: usize::MAX,
    };
    for message in numbered_messages("probe", 200) {
        if server.has_exited() || signalled.elapsed() > limit {
            break;
        }
        if probes.sent_at_settle == usize::MAX && signalled.elapsed() >= PROBE_SETTLE {
            probes.sent_at_settle = twilio.creates().len();
        }
        let sent_at = Instant::now();
        let answer = post_webhook(&webhook_client(secs(2)), &server.address, &message).await;
        if answer == Answer::Accepted && sent_at - signalled >= PROBE_SETTLE {
            probes.accepted_late += 1;
        }
        let answered_at = Instant::now();
        probes.sent.push(Sent {
            message,
            answer,
            sent_at,
            answered_at,
        });
        sleep(Duration::from_millis(50)).await;
    }
    if probes.sent_at_settle == usize::MAX {
        // The process exited within PROBE_SETTLE: whatever was sent by then was in flight.
        probes.sent_at_settle = twilio.creates().len();
    }
    probes
}
