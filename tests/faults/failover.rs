//! Failovers mid-stream. Sentinel: a primary, one replica and three sentinels; the primary is
//! SIGKILLed while webhooks flow. pyrowire is not restarted: it answers 503 while there is no
//! primary, follows the sentinels to the promoted replica, and accepts again. With
//! `min_replica_acks = 1` nothing answered 200 is lost and nothing is sent twice; with 0, the
//! test measures how many accepted webhooks the failover lost (the trade-off the docs state).
//! Cluster: six nodes; the primary serving the topic's slot is SIGKILLed and its replica takes
//! the slot over while webhooks flow; with `min_replica_acks = 1` every webhook answered 200
//! gets exactly one reply (the killed node restarts after the takeover, so the slot's new primary
//! has a replica again).

use std::time::{Duration, Instant};

use crate::common::{ClusterSet, FakeTwilio, SentinelSet, ACCOUNT_SID, AUTH_TOKEN};
use crate::delivery::{wait_until_settled, Delivery};
use crate::server::{Pyrowire, Role};
use crate::setup::Setup;
use crate::webhooks::{answer_counts, numbered_messages, wait_for_accepted, Answer, Sending};
use crate::{secs, SETTLE, TOPIC};

/// What one failover run measured.
struct Failover {
    delivery: Delivery,
    /// Seconds from the SIGKILL to all sentinels naming the replica.
    promotion: f64,
    /// Seconds from the SIGKILL to the first webhook accepted again.
    back_after: Option<f64>,
    /// Seconds between the first and the last webhook not accepted around the failover.
    refused_for: f64,
}

/// `restart`: start the killed node again as a replica once the other is promoted. With one
/// replica and `min_replica_acks = 1`, the promoted primary has no replica until then, and
/// ingress rightly answers 503: no write can be confirmed.
async fn failover_mid_stream(min_replica_acks: u32, label: &str, restart: bool) -> Failover {
    // Arrange
    let mut set = SentinelSet::start().await;
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    twilio.set_delay(Duration::from_millis(10));
    let nodes: Vec<String> = set
        .sentinel_urls()
        .iter()
        .map(|u| format!("\"{u}\""))
        .collect();
    let table = format!(
        "[profiles.test.redis_sentinel]\nmaster = \"{}\"\nnodes = [{}]\n",
        set.master_name(),
        nodes.join(", ")
    );
    let lines = format!("min_replica_acks = {min_replica_acks}\nreplica_ack_timeout_ms = 500");
    let setup = Setup::with_redis(&lines, &table, &set.primary_url(), &twilio.base, 4);
    let server = Pyrowire::start(&setup.path, Role::All).await;
    // Enough to keep sending through the failover; the senders stop once 50 are accepted after it.
    let pace = Some(Duration::from_millis(10));
    let mut sending = Sending::start(&server.address, numbered_messages(label, 3000), 2, pace);
    assert!(
        wait_for_accepted(&sending.log, |_| true, 100, secs(15)).await,
        "fewer than 100 webhooks accepted before the failover: {:?}",
        answer_counts(&sending.log.borrow())
    );

    // Act: SIGKILL the primary mid-stream; keep sending through the promotion.
    set.kill_primary();
    let killed_at = Instant::now();
    let promotion = set.wait_for_promotion(secs(30)).await;
    if restart {
        set.restart_old_primary_as_replica().await;
    }
    let back = wait_for_accepted(&sending.log, |s| s.sent_at >= killed_at, 1, secs(20)).await;
    wait_for_accepted(&sending.log, |s| s.sent_at >= killed_at, 50, secs(10)).await;
    sending.stop();
    sending.finish(secs(15)).await;
    if !back {
        let lines: Vec<String> = server
            .lines()
            .into_iter()
            .filter(|l| !l.contains("Failed to read jobs") && !l.contains("Webhook answered"))
            .collect();
        println!("pyrowire's lines:\n{}", lines.join("\n"));
    }
    let store = setup.store.on(&set.replica_url());
    let delivery = wait_until_settled(&twilio, &store, &sending.log, SETTLE).await;

    // Measure
    let log = sending.log.borrow();
    let after_kill = log.iter().filter(|s| s.sent_at >= killed_at);
    let back_after = back
        .then(|| {
            after_kill
                .clone()
                .filter(|s| s.answer == Answer::Accepted)
                .map(|s| (s.answered_at - killed_at).as_secs_f64())
                .reduce(f64::min)
        })
        .flatten();
    let refused: Vec<Instant> = log
        .iter()
        .filter(|s| s.answered_at >= killed_at && s.answer != Answer::Accepted)
        .map(|s| s.answered_at)
        .collect();
    let refused_for = match (refused.iter().min(), refused.iter().max()) {
        (Some(first), Some(last)) => (*last - *first).as_secs_f64(),
        _ => 0.0,
    };
    println!(
        "sentinel failover, min_replica_acks={min_replica_acks}, old primary restarted: \
         {restart}: promotion {promotion:.2} s after SIGKILL; accepting again {back_after:?} s after it; answers after it {:?}; \
         not accepted for {refused_for:.2} s; {}",
        answer_counts(&after_kill.cloned().collect::<Vec<_>>()),
        delivery.summary()
    );
    Failover {
        delivery,
        promotion,
        back_after,
        refused_for,
    }
}

#[actix_web::test]
async fn with_min_replica_acks_a_failover_loses_nothing_accepted_and_sends_nothing_twice() {
    // Timed: no other fault test runs meanwhile.
    let _load = crate::alone().await;
    let run = failover_mid_stream(1, "acked", true).await;

    run.delivery.assert_exactly_one_reply_each();
    let back = run
        .back_after
        .expect("ingress accepts again after the promotion");
    assert!(
        back <= run.promotion + 10.0,
        "accepting again {back:.2} s after the SIGKILL, promotion took {:.2} s",
        run.promotion
    );
    assert!(
        run.refused_for < 30.0,
        "{:.2} s of refusals",
        run.refused_for
    );
}

#[actix_web::test]
async fn without_min_replica_acks_a_failover_is_ridden_out_and_its_losses_counted() {
    // Timed: no other fault test runs meanwhile.
    let _load = crate::alone().await;
    let run = failover_mid_stream(0, "unacked", false).await;

    // What may be lost here is what the primary took but had not passed on: counted, not
    // asserted (the docs state the measured figure). Nothing is sent twice all the same.
    assert!(
        run.back_after.is_some(),
        "ingress accepts again after the promotion"
    );
    assert_eq!(run.delivery.duplicated(), 0, "{}", run.delivery.summary());
    assert!(run.delivery.accepted() > 100, "{}", run.delivery.summary());
    println!("accepted webhooks lost: {}", run.delivery.lost());
}

#[actix_web::test]
async fn a_cluster_replica_taking_over_mid_stream_loses_nothing_and_sends_nothing_twice() {
    // Timed: no other fault test runs meanwhile.
    let _load = crate::alone().await;
    // Arrange: one topic, on whichever primary serves its slot.
    let mut set = ClusterSet::start().await;
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    twilio.set_delay(Duration::from_millis(10));
    let seeds: Vec<String> = set.seed_urls().iter().map(|u| format!("\"{u}\"")).collect();
    // With min_replica_acks = 1 a webhook is answered 200 only once the slot's replica holds it;
    // the killed node is restarted after the takeover (it rejoins as the new primary's replica).
    let lines = format!(
        "redis_cluster = [{}]\nmin_replica_acks = 1\nreplica_ack_timeout_ms = 500",
        seeds.join(", ")
    );
    let setup = Setup::with_redis(&lines, "", &set.primary_url_of(TOPIC), &twilio.base, 4);
    let server = Pyrowire::start(&setup.path, Role::All).await;
    let pace = Some(Duration::from_millis(10));
    let mut sending = Sending::start(&server.address, numbered_messages("cl", 3000), 2, pace);
    assert!(
        wait_for_accepted(&sending.log, |_| true, 100, secs(15)).await,
        "fewer than 100 webhooks accepted before the takeover: {:?}",
        answer_counts(&sending.log.borrow())
    );

    // Act: SIGKILL the topic's primary; its replica takes the slot over.
    set.kill_primary_of(TOPIC);
    let killed_at = Instant::now();
    let takeover = set.wait_for_takeover(TOPIC, secs(30)).await;
    set.restart_killed().await;
    let back = wait_for_accepted(&sending.log, |s| s.sent_at >= killed_at, 1, secs(20)).await;
    wait_for_accepted(&sending.log, |s| s.sent_at >= killed_at, 50, secs(10)).await;
    sending.stop();
    sending.finish(secs(15)).await;
    let store = setup.store.on(&set.primary_url_of(TOPIC));
    let delivery = wait_until_settled(&twilio, &store, &sending.log, SETTLE).await;

    // Assert
    let log = sending.log.borrow();
    let first_back = log
        .iter()
        .filter(|s| s.sent_at >= killed_at && s.answer == Answer::Accepted)
        .map(|s| (s.answered_at - killed_at).as_secs_f64())
        .reduce(f64::min);
    println!(
        "cluster takeover: {takeover:.2} s after SIGKILL; accepting again {first_back:?} s after \
         it; answers after it {:?}; {}",
        answer_counts(
            &log.iter()
                .filter(|s| s.sent_at >= killed_at)
                .cloned()
                .collect::<Vec<_>>()
        ),
        delivery.summary()
    );
    assert!(back, "ingress accepts again after the takeover");
    if delivery.lost() > 0 {
        let replied: std::collections::HashSet<String> =
            crate::delivery::bodies(&twilio.received())
                .into_iter()
                .collect();
        let lost: Vec<String> = log
            .iter()
            .filter(|s| s.answer == Answer::Accepted && !replied.contains(&s.message.body))
            .map(|s| s.message.sid.clone())
            .collect();
        println!("lost records: {:?}", store.records(&lost));
    }
    delivery.assert_exactly_one_reply_each();
}
