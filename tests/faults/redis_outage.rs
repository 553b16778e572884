//! Redis stopped mid-stream and started again: webhooks and `/health` answer 503 meanwhile,
//! ingress recovers, and nothing accepted is lost.

use std::time::{Duration, Instant};

use actix_web::rt::time::sleep;

use crate::common::{FakeTwilio, PrivateRedis, ACCOUNT_SID, AUTH_TOKEN};
use crate::delivery::wait_until_settled;
use crate::server::{Pyrowire, Role};
use crate::setup::Setup;
use crate::webhooks::{
    answer_counts, count_answers, numbered_messages, wait_for_accepted, webhook_client, Answer,
    Sending, SentLog,
};
use crate::{secs, SETTLE};

#[actix_web::test]
async fn redis_stopped_mid_stream_gives_503_and_nothing_accepted_is_lost() {
    let _load = crate::shared().await;
    // Arrange
    let mut redis = PrivateRedis::start().await;
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    twilio.set_delay(Duration::from_millis(20));
    let setup = Setup::new(&redis.url(), &twilio.base, 4);
    let server = Pyrowire::start(&setup.path, Role::All).await;
    let pace = Some(Duration::from_millis(20));
    let mut sending = Sending::start(&server.address, numbered_messages("down", 800), 1, pace);
    assert!(
        wait_for_accepted(&sending.log, |_| true, 50, Duration::from_secs(10)).await,
        "fewer than 50 messages accepted before Redis was stopped: {:?}",
        answer_counts(&sending.log.borrow())
    );

    // Act: stop Redis, keep sending and asking /health, start Redis again.
    redis.stop().await;
    let down_since = Instant::now();
    let health_while_down = health_while_down(&server.address, &sending.log, down_since).await;
    let down_until = Instant::now();
    redis.start_again().await;
    let back_at = Instant::now();
    let recovered = wait_for_accepted(&sending.log, |s| s.sent_at >= back_at, 1, secs(10)).await;
    let recovery = back_at.elapsed();
    wait_for_accepted(&sending.log, |s| s.sent_at >= back_at, 20, secs(5)).await;
    sending.stop();
    sending.finish(Duration::from_secs(10)).await;
    let delivery = wait_until_settled(&twilio, &setup.store, &sending.log, SETTLE).await;

    // Assert
    let log = sending.log.borrow();
    let down = log
        .iter()
        .filter(|s| s.sent_at >= down_since && s.answered_at < down_until);
    let while_down: Vec<Answer> = down.clone().map(|s| s.answer.clone()).collect();
    let slowest = down.map(|s| s.answered_at - s.sent_at).max();
    println!(
        "redis down for {:?}: answers while down={:?} (slowest {slowest:?}); \
         health while down (status, time)={health_while_down:?}; \
         recovered={recovered} {recovery:?} after Redis was back; {}",
        down_until - down_since,
        count_answers(&while_down),
        delivery.summary()
    );
    assert!(
        !while_down.is_empty(),
        "no webhook was answered while Redis was down (for {:?}); all answers: {:?}",
        down_until - down_since,
        answer_counts(&log)
    );
    assert!(
        while_down.iter().all(|a| *a == Answer::Status(503)),
        "while Redis was down webhooks must get 503, got {:?}",
        count_answers(&while_down)
    );
    assert!(
        !health_while_down.is_empty() && health_while_down.iter().all(|(s, _)| *s == 503),
        "/health while Redis was down: {health_while_down:?}"
    );
    assert!(
        recovered,
        "ingress did not accept a message within 10 s of Redis coming back; answers since: {:?}",
        answer_counts(
            &log.iter()
                .filter(|s| s.sent_at >= back_at)
                .cloned()
                .collect::<Vec<_>>()
        )
    );
    delivery.assert_exactly_one_reply_each();
}

/// While Redis is down: `GET /health` every 100 ms, for at least `DOWN_AT_LEAST` and until a
/// webhook sent since `down_since` was answered (at most `DOWN_AT_MOST`, as answers may be
/// slow). The statuses (0 for no answer within 5 s) and how long each took.
async fn health_while_down(
    address: &str,
    log: &SentLog,
    down_since: Instant,
) -> Vec<(u16, Duration)> {
    let client = webhook_client(secs(5));
    let mut statuses = Vec::new();
    for _ in 0..DOWN_AT_MOST.as_millis() / 100 {
        let asked_at = Instant::now();
        let answer = client.get(format!("{address}/health")).send().await;
        statuses.push((
            answer.map_or(0, |r| r.status().as_u16()),
            asked_at.elapsed(),
        ));
        let answered = log
            .borrow()
            .iter()
            .filter(|s| s.sent_at >= down_since)
            .count();
        let down_for = down_since.elapsed();
        if (down_for >= DOWN_AT_LEAST && answered >= 1) || down_for >= DOWN_AT_MOST {
            break;
        }
        sleep(Duration::from_millis(100)).await;
    }
    statuses
}

const DOWN_AT_LEAST: Duration = Duration::from_millis(1500);
const DOWN_AT_MOST: Duration = Duration::from_secs(6);
