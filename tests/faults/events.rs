//! Events across SIGKILL: an opt-out's event waits in Redis while the application's events
//! endpoint fails; the process dies; after a restart the event is delivered, under the same
//! `webhook-id`, and taken once.

use std::time::{Duration, Instant};

use crate::common::events::{standard_webhooks_verifies, Endpoint, SECRET};
use crate::common::{new_sid, redis_url, FakeTwilio, ACCOUNT_SID, AUTH_TOKEN};
use crate::server::{Pyrowire, Role};
use crate::setup::{Extra, Setup};
use crate::webhooks::{post_webhook, webhook_client, Answer, Inbound};
use crate::{secs, SETTLE};

const SENDER: &str = "+15550002222";

#[actix_web::test]
async fn an_event_waiting_in_redis_is_delivered_after_sigkill_under_the_same_webhook_id() {
    let _load = crate::shared().await;
    // Arrange: an endpoint that fails until told otherwise.
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let endpoint = Endpoint::start(0, Duration::ZERO);
    endpoint.fail(true);
    let topic = format!(
        "events_url = \"{}\"\nevents_secret = \"{SECRET}\"\n",
        endpoint.url
    );
    let extra = Extra {
        topic: &topic,
        ..Extra::default()
    };
    let setup = Setup::with_extra(&redis_url(), &twilio.base, 2, extra);
    let mut server = Pyrowire::start(&setup.path, Role::All).await;
    let stop = Inbound {
        sid: new_sid(),
        from: SENDER.to_string(),
        body: "STOP".to_string(),
    };
    let answer = post_webhook(&webhook_client(secs(5)), &server.address, &stop).await;
    assert_eq!(answer, Answer::Status(200));
    let failed = endpoint.wait_for(1).await;

    // Act
    server.sigkill();
    endpoint.fail(false);
    let _restarted = Pyrowire::start(&setup.path, Role::All).await;

    // Assert: taken after the restart (the dead process's lease runs out first), same id.
    let deadline = Instant::now() + SETTLE;
    let taken = loop {
        let got = endpoint.deliveries();
        if let Some(taken) = got.iter().find(|d| d.answered == 204) {
            break taken.clone();
        }
        assert!(Instant::now() < deadline, "not delivered after the restart");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(taken.id, failed[0].id);
    assert_eq!(taken.body, failed[0].body);
    assert_eq!(taken.json()["type"], "number.opted_out");
    assert_eq!(standard_webhooks_verifies(&taken, SECRET), None);
    let deadline = Instant::now() + SETTLE;
    while setup.store.events_len().unwrap() > 0 {
        assert!(Instant::now() < deadline, "the event stays in Redis");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    actix_web::rt::time::sleep(Duration::from_millis(600)).await;
    let after = endpoint.deliveries();
    assert_eq!(
        after.iter().filter(|d| d.at > taken.at).count(),
        0,
        "posted again after it was taken: {after:?}"
    );
}
