//! A process killed with SIGKILL: the whole process mid-stream, restarted; one of two worker
//! processes sharing a topic. Either way every accepted message gets exactly one reply.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::common::{redis_url, FakeTwilio, ACCOUNT_SID, AUTH_TOKEN};
use crate::delivery::{wait_for_workers, wait_until_settled, worker_of};
use crate::server::{Pyrowire, Role};
use crate::setup::Setup;
use crate::webhooks::{accepted_sids, numbered_messages, Sending};
use crate::{secs, SETTLE};

#[actix_web::test]
async fn sigkill_mid_stream_then_restart_gives_every_accepted_message_exactly_one_reply() {
    let _load = crate::shared().await;
    // Arrange
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    twilio.set_delay(Duration::from_millis(20));
    let setup = Setup::new(&redis_url(), &twilio.base, 4);
    let mut server = Pyrowire::start(&setup.path, Role::All).await;

    // Act
    let mut sending = Sending::start(&server.address, numbered_messages("kill", 300), 4, None);
    twilio.wait_for_created(50, Duration::from_secs(15)).await;
    let queued_at_kill = setup.store.queue_len().unwrap_or_default();
    server.sigkill();
    sending.finish(Duration::from_secs(30)).await;
    let _restarted = Pyrowire::start(&setup.path, Role::All).await;
    let delivery = wait_until_settled(&twilio, &setup.store, &sending.log, SETTLE).await;

    // Assert
    println!(
        "sigkill: queued at kill={queued_at_kill} {}",
        delivery.summary()
    );
    assert!(
        queued_at_kill > 0,
        "the kill came after the queue drained, so it proves nothing; {}",
        delivery.summary()
    );
    delivery.assert_exactly_one_reply_each();
}

#[actix_web::test]
async fn two_worker_processes_share_a_topic_and_losing_one_loses_nothing() {
    let _load = crate::shared().await;
    // Arrange
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    twilio.set_delay(Duration::from_millis(50));
    let setup = Setup::new(&redis_url(), &twilio.base, 4);
    let mut doomed = Pyrowire::start(&setup.path, Role::Worker).await;
    let survivor = Pyrowire::start(&setup.path, Role::Worker).await;
    let web = Pyrowire::start(&setup.path, Role::Web).await;
    let (doomed_name, survivor_name) = (doomed.consumer(), survivor.consumer());

    // Act
    let mut sending = Sending::start(&web.address, numbered_messages("share", 200), 4, None);
    twilio.wait_for_created(40, Duration::from_secs(15)).await;
    let workers_before_kill = wait_for_workers(&setup.store, &sending.log, 2, secs(10)).await;
    let queued_at_kill = setup.store.queue_len().unwrap_or_default();
    let pending_of_doomed = setup.store.pending_of(&doomed_name).unwrap_or_default();
    doomed.sigkill();
    sending.finish(Duration::from_secs(30)).await;
    let delivery = wait_until_settled(&twilio, &setup.store, &sending.log, SETTLE).await;
    let records = setup.store.records(&accepted_sids(&sending.log)).unwrap();

    // Assert
    let mut handled_by: HashMap<String, usize> = HashMap::new();
    for record in records.values() {
        *handled_by.entry(worker_of(record)).or_default() += 1;
    }
    println!(
        "two workers: before kill {workers_before_kill:?}; queued at kill={queued_at_kill} \
         pending of killed worker={pending_of_doomed}; records by worker {handled_by:?}; {}",
        delivery.summary()
    );
    assert_eq!(
        workers_before_kill.len(),
        2,
        "both worker processes should have taken work before one was killed: {workers_before_kill:?}"
    );
    let known: HashSet<&String> = [&doomed_name, &survivor_name].into();
    assert!(
        handled_by.keys().all(|w| known.contains(w)),
        "records name a worker other than {known:?}: {handled_by:?}"
    );
    assert!(
        queued_at_kill > 0,
        "the kill came after the queue drained, so it proves nothing; {}",
        delivery.summary()
    );
    delivery.assert_exactly_one_reply_each();
}
