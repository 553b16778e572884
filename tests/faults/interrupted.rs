//! SIGKILL between a send's mark and its SID, while Twilio still holds texts `queued` (their
//! `date_sent` is null, as behind a long code's one segment a second): after a restart the
//! redelivered job asks Twilio's list, finds a reply that reached Twilio and does not send it
//! again, and sends one that never reached Twilio exactly once, though an earlier reply with
//! the same words to the same number sits queued at Twilio.

use serde_json::Value;

use crate::common::{
    new_sid, poll_until, redis_url, FakeTwilio, Scripted, ACCOUNT_SID, AUTH_TOKEN,
};
use crate::server::{Pyrowire, Role};
use crate::setup::{Extra, Setup};
use crate::webhooks::{post_webhook, webhook_client, Answer, Inbound};
use crate::{secs, SETTLE};

const SENDER: &str = "+15550002222";

async fn text(address: &str, sid: &str, body: &str) {
    let message = Inbound {
        sid: sid.to_string(),
        from: SENDER.to_string(),
        body: body.to_string(),
    };
    let answer = post_webhook(&webhook_client(secs(5)), address, &message).await;
    assert_eq!(answer, Answer::Accepted);
}

/// Waits for the completed records of `sids`, or panics.
async fn completed(setup: &Setup, sids: &[String]) -> Vec<Value> {
    let records = poll_until(SETTLE, || {
        let records = setup.store.records(sids).ok()?;
        let done = sids.iter().all(|sid| {
            records
                .get(sid)
                .is_some_and(|record| record["outcome"] == "completed")
        });
        done.then(|| sids.iter().map(|sid| records[sid].clone()).collect())
    })
    .await;
    records.unwrap_or_else(|| panic!("{sids:?} were not completed within {SETTLE:?}"))
}

#[actix_web::test]
async fn sigkill_while_twilio_holds_the_reply_queued_then_restart_posts_it_once() {
    let _load = crate::shared().await;
    // Arrange: the reply is created at Twilio (and stays queued), but its answer comes too late
    // for pyrowire to store the SID.
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    twilio.hold_queued(secs(600));
    twilio.script(vec![Scripted {
        status: 201,
        delay_ms: 60_000,
        ..Scripted::default()
    }]);
    let setup = Setup::new(&redis_url(), &twilio.base, 1);
    let mut server = Pyrowire::start(&setup.path, Role::All).await;
    let sid = new_sid();

    // Act
    text(&server.address, &sid, "held at twilio").await;
    twilio.wait_for_created(1, SETTLE).await;
    server.sigkill();
    let _restarted = Pyrowire::start(&setup.path, Role::All).await;
    let records = completed(&setup, std::slice::from_ref(&sid)).await;

    // Assert
    let created = twilio.created();
    assert_eq!(twilio.creates().len(), 1, "exactly one POST: {created:?}");
    assert_eq!(created[0]["status"], "queued", "still held at Twilio");
    assert!(created[0]["date_sent"].is_null());
    assert_eq!(records[0]["sent"][0]["sid"], created[0]["sid"]);
    assert!(
        !twilio.lists().is_empty(),
        "the restart asked Twilio's list"
    );
}

#[actix_web::test]
async fn sigkill_before_the_post_with_an_earlier_reply_still_queued_sends_exactly_once() {
    let _load = crate::shared().await;
    // Arrange: replies paced 4 s apart, so the second waits for its turn after its mark.
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    twilio.hold_queued(secs(600));
    let extra = Extra {
        topic: "max_sends_per_second = 0.25",
        ..Extra::default()
    };
    let setup = Setup::with_extra(&redis_url(), &twilio.base, 1, extra);
    let mut server = Pyrowire::start(&setup.path, Role::All).await;
    let (first, second) = (new_sid(), new_sid());

    // Act: the same words twice from one number; the process dies while the second reply,
    // marked, waits for its pace.
    text(&server.address, &first, "same words").await;
    text(&server.address, &second, "same words").await;
    twilio.wait_for_created(1, SETTLE).await;
    let marked = poll_until(SETTLE, || {
        setup
            .store
            .send_marked(&second, "reply")
            .ok()
            .filter(|marked| *marked)
    })
    .await;
    let creates_at_kill = twilio.creates().len();
    server.sigkill();
    let _restarted = Pyrowire::start(&setup.path, Role::All).await;
    let records = completed(&setup, &[first.clone(), second.clone()]).await;

    // Assert
    assert_eq!(
        marked,
        Some(true),
        "the second reply was marked before the kill"
    );
    assert_eq!(creates_at_kill, 1, "the kill came before the second POST");
    assert_eq!(twilio.created_bodies(), ["same words", "same words"]);
    let created = twilio.created();
    assert_eq!(records[0]["sent"][0]["sid"], created[0]["sid"]);
    assert_eq!(records[1]["sent"][0]["sid"], created[1]["sid"]);
    assert!(created.iter().all(|m| m["status"] == "queued"));
    assert!(
        !twilio.lists().is_empty(),
        "the restart asked Twilio's list"
    );
}
