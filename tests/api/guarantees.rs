//! Delivery guarantees in one process: retries, dead letters, at most one reply, supervision,
//! de-duplication, order per sender, back-pressure, graceful drain.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use pyrowire::app::RunOptions;
use pyrowire::commands::dead::{dead, DeadOptions};
use pyrowire::domain::{InboundMessage, Reply};
use pyrowire::handlers::{Handler, HandlerContext, HandlerError, HandlerRegistry};
use redis::AsyncCommands;

use crate::common::{new_sid, Scripted};
use crate::helpers::{
    inbound, inbound_from, spawn_app, spawn_app_with, twilio_table, TestApp, SENDER,
};

const WAIT: Duration = Duration::from_secs(15);

/// The `sample` topic with `workers` workers and fast retries, at most `max_attempts`.
fn retry_topic(handler: &str, workers: usize, max_attempts: u32) -> String {
    format!(
        r#"
[topics.sample]
handler = {handler}
accept_response = "ok"
error_response = "try again later"
workers = {workers}
[topics.sample.retry]
max_attempts = {max_attempts}
backoff_initial_ms = 20
backoff_max_ms = 100
{}"#,
        twilio_table("sample")
    )
}

/// A handler for fault tests: panics on "boom", fails on "fail", and on "slow" waits until
/// `target` slow messages run at once (or 2 s), tracking the most seen together; "number N"
/// takes a different time for each N, so that parallel handling would reorder them.
struct Tricky {
    running: AtomicUsize,
    most: AtomicUsize,
    target: usize,
}

impl Handler for Tricky {
    fn handle<'a>(
        &'a self,
        message: &'a InboundMessage,
        _: &'a HandlerContext,
    ) -> LocalBoxFuture<'a, Result<Reply, HandlerError>> {
        async move {
            let text = message.message.clone();
            if text.contains("boom") {
                panic!("boom");
            }
            if text.contains("fail") {
                return Err(HandlerError::new("asked to fail"));
            }
            if let Some(n) = text
                .strip_prefix("number ")
                .and_then(|n| n.parse::<u64>().ok())
            {
                let jitter = (n * 7919) % 40;
                actix_web::rt::time::sleep(Duration::from_millis(jitter)).await;
            }
            if text.contains("slow") {
                let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
                self.most.fetch_max(now, Ordering::SeqCst);
                let deadline = Instant::now() + Duration::from_secs(2);
                while self.running.load(Ordering::SeqCst) < self.target && Instant::now() < deadline
                {
                    actix_web::rt::time::sleep(Duration::from_millis(10)).await;
                }
                actix_web::rt::time::sleep(Duration::from_millis(50)).await;
                self.most
                    .fetch_max(self.running.load(Ordering::SeqCst), Ordering::SeqCst);
                self.running.fetch_sub(1, Ordering::SeqCst);
            }
            Ok(Reply::text(text))
        }
        .boxed_local()
    }
}

fn tricky_options(target: usize) -> (RunOptions, Arc<Tricky>) {
    let tricky = Arc::new(Tricky {
        running: AtomicUsize::new(0),
        most: AtomicUsize::new(0),
        target,
    });
    let mut handlers = HandlerRegistry::default();
    let shared = tricky.clone();
    handlers.register(
        "tricky",
        Arc::new(move |_: &toml::Table| Ok(shared.clone() as Arc<dyn Handler>)),
    );
    let options = RunOptions {
        handlers,
        ..RunOptions::default()
    };
    (options, tricky)
}

/// Re-queues dead letter `sid` of `sample` with `pyrowire dead --requeue`, checking it says so;
/// its output.
fn requeue(app: &TestApp, sid: &str) -> String {
    let requeue = DeadOptions {
        requeue: vec![sid.to_string()],
        limit: 10,
        ..Default::default()
    };
    let output = dead(&app.settings, "sample", &requeue).unwrap();
    assert!(output.contains(&format!("re-queued {sid}")), "{output}");
    output
}

/// Waits until `sid` is among `sample`'s dead letters; `failure` says what did not happen.
async fn wait_dead_lettered(app: &TestApp, sid: &str, failure: &str) {
    let (mut redis, dead_set) = (app.redis.clone(), app.key("sample", "dead"));
    let deadline = Instant::now() + WAIT;
    while redis
        .zscore::<_, _, Option<f64>>(&dead_set, sid)
        .await
        .unwrap()
        .is_none()
    {
        assert!(Instant::now() < deadline, "{failure}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn twilio_500_three_times_then_201_delivers_exactly_one_reply() {
    let app = spawn_app(&retry_topic(r#""echo""#, 1, 5)).await;
    app.twilio.script(vec![Scripted::error(500, None); 3]);
    let sid = new_sid();
    app.post("sample", &inbound(&sid, "persist")).await;

    let created = app.twilio.wait_for_created(1, WAIT).await;
    let record = app.wait_record("sample", &sid, WAIT).await;
    assert_eq!(record["outcome"], "completed");
    assert_eq!(record["attempts"].as_array().unwrap().len(), 3);
    assert_eq!(record["sent"][0]["sid"], created[0]["sid"]);
    assert_eq!(app.twilio.created().len(), 1);
    assert_eq!(app.twilio.creates().len(), 4);
}

#[actix_web::test]
async fn twilio_429_with_retry_after_makes_the_sender_wait() {
    let app = spawn_app(&retry_topic(r#""echo""#, 1, 5)).await;
    app.twilio.script(vec![Scripted {
        status: 429,
        code: Some(20429),
        retry_after: Some(1),
        delay_ms: 0,
    }]);
    let sid = new_sid();
    app.post("sample", &inbound(&sid, "patience")).await;

    app.wait_record("sample", &sid, WAIT).await;
    let creates = app.twilio.creates();
    assert_eq!(creates.len(), 2);
    let waited = creates[1].at - creates[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "waited only {waited:?}"
    );
    assert_eq!(app.twilio.created().len(), 1);
}

#[actix_web::test]
async fn twilio_400_21211_is_not_retried_and_dead_lettered_once() {
    let app = spawn_app(&retry_topic(r#""echo""#, 1, 5)).await;
    app.twilio.script(vec![Scripted::error(400, Some(21211))]);
    let sid = new_sid();
    app.post("sample", &inbound(&sid, "bad number")).await;

    let record = app.wait_record("sample", &sid, WAIT).await;
    assert_eq!(record["outcome"], "dead_lettered");
    assert_eq!(app.twilio.creates().len(), 1);
    let mut redis = app.redis.clone();
    let dead: Vec<String> = redis
        .zrange(app.key("sample", "dead"), 0, -1)
        .await
        .unwrap();
    assert_eq!(dead, vec![sid.clone()]);
    let letter: String = redis
        .get(app.key("sample", &format!("dead:{sid}")))
        .await
        .unwrap();
    let letter: serde_json::Value = serde_json::from_str(&letter).unwrap();
    let reasons = letter["reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 1);
    assert!(reasons[0].as_str().unwrap().contains("21211"));
    assert_eq!(app.queue_len("sample").await, 0);
}

#[actix_web::test]
async fn a_panicking_handler_is_dead_lettered_while_others_go_on_and_workers_stay() {
    let workers = 3;
    let (options, tricky) = tricky_options(workers);
    let app = spawn_app_with(&retry_topic(r#""tricky""#, workers, 2), "", options).await;
    let (bad, good) = (new_sid(), new_sid());
    app.post("sample", &inbound(&bad, "boom")).await;
    app.post("sample", &inbound(&good, "fine")).await;

    let record = app.wait_record("sample", &bad, WAIT).await;
    assert_eq!(record["outcome"], "dead_lettered");
    assert_eq!(
        record["attempts"],
        serde_json::json!(["handler panicked", "handler panicked"])
    );
    assert_eq!(
        app.wait_record("sample", &good, WAIT).await["outcome"],
        "completed"
    );

    // Every worker is back: `workers` slow messages from different senders run at once.
    let mut slow = Vec::new();
    for i in 0..workers {
        let sid = new_sid();
        let params = inbound_from(&sid, "slow", &format!("+1555000000{i}"));
        app.post("sample", &params).await;
        slow.push(sid);
    }
    for sid in slow {
        app.wait_record("sample", &sid, WAIT).await;
    }
    assert_eq!(tricky.most.load(Ordering::SeqCst), workers);
}

#[actix_web::test]
async fn a_handler_error_is_retried_then_dead_lettered_with_every_reason_and_requeued() {
    let (options, _) = tricky_options(1);
    let app = spawn_app_with(&retry_topic(r#""tricky""#, 1, 3), "", options).await;
    let sid = new_sid();
    app.post("sample", &inbound(&sid, "fail")).await;
    let record = app.wait_record("sample", &sid, WAIT).await;
    assert_eq!(record["outcome"], "dead_lettered");
    assert_eq!(record["attempts"].as_array().unwrap().len(), 3);

    let listing = dead(
        &app.settings,
        "sample",
        &DeadOptions {
            limit: 10,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        listing.contains(&sid) && listing.contains("asked to fail"),
        "{listing}"
    );
    let output = requeue(&app, &sid);
    assert!(output.contains("0 dead letter(s)"), "{output}");
    // It fails again (the handler still fails on "fail"), with a fresh attempt count.
    let mut redis = app.redis.clone();
    let deadline = Instant::now() + WAIT;
    loop {
        let dead: Vec<String> = redis
            .zrange(app.key("sample", "dead"), 0, -1)
            .await
            .unwrap();
        if dead == vec![sid.clone()] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "re-queued job was not dead-lettered again"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let record = app.wait_record("sample", &sid, WAIT).await;
    assert_eq!(record["attempts"].as_array().unwrap().len(), 3);
}

/// A dead letter is kept longer than its sends' markers (`dead_letter_ttl_s` against
/// `record_ttl_s`): re-queued after they expired, the job looks its sends up in Twilio's list
/// instead of making them again.
#[actix_web::test]
async fn a_dead_letter_requeued_after_its_markers_expired_does_not_send_again() {
    let (options, _) = tricky_options(1);
    let topic = format!(
        r#"
[topics.sample]
handler = "tricky"
send_on_accept = true
accept_response = "got it"
workers = 1
[topics.sample.retry]
max_attempts = 1
{}"#,
        twilio_table("sample")
    );
    let app = spawn_app_with(&topic, "record_ttl_s = 1\n", options).await;
    let sid = new_sid();
    app.post("sample", &inbound(&sid, "fail")).await;
    app.twilio.wait_for_created(1, WAIT).await;
    wait_dead_lettered(&app, &sid, "the job was not dead-lettered").await;
    // Its accept text's marker (with Twilio's SID) expires after record_ttl_s.
    let marker = app.key("sample", &format!("send:{sid}:accept"));
    let mut redis = app.redis.clone();
    let deadline = Instant::now() + WAIT;
    while redis.exists::<_, bool>(&marker).await.unwrap() {
        assert!(Instant::now() < deadline, "the marker did not expire");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    requeue(&app, &sid);
    // It runs again and fails again (the handler fails on "fail"): dead-lettered once more.
    let again = "the re-queued job was not dead-lettered again";
    wait_dead_lettered(&app, &sid, again).await;
    let accepts = app
        .twilio
        .creates()
        .iter()
        .filter(|r| r.field("Body") == Some("got it"))
        .count();
    assert_eq!(
        accepts, 1,
        "the accept text went out again after the re-queue"
    );
    assert!(
        !app.twilio.lists().is_empty(),
        "the re-queued job asked Twilio's list"
    );
}

#[actix_web::test]
async fn the_same_message_sid_posted_concurrently_is_queued_and_answered_once() {
    let app = spawn_app(&retry_topic(r#""echo""#, 2, 5)).await;
    let sid = new_sid();
    let params = inbound(&sid, "twice at once");
    let (first, second) = tokio::join!(app.post("sample", &params), app.post("sample", &params));
    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(first.body, second.body);
    app.wait_record("sample", &sid, WAIT).await;
    // Drained: every job queued has run, so a second send would have reached the stand-in.
    app.wait_until_drained("sample", WAIT).await;
    assert_eq!(app.twilio.created().len(), 1);
}

#[actix_web::test]
async fn one_senders_burst_is_answered_in_order_while_others_keep_workers_busy() {
    let (options, _) = tricky_options(usize::MAX);
    let app = spawn_app_with(&retry_topic(r#""tricky""#, 6, 5), "", options).await;
    let mut others = Vec::new();
    for i in 0..3 {
        let sid = new_sid();
        let params = inbound_from(&sid, "other slow", &format!("+1555999000{i}"));
        app.post("sample", &params).await;
        others.push(sid);
    }
    let mut burst = Vec::new();
    for n in 1..=20 {
        let sid = new_sid();
        assert_eq!(
            app.post("sample", &inbound(&sid, &format!("number {n}")))
                .await
                .status,
            200
        );
        burst.push(sid);
    }
    for sid in burst.iter().chain(&others) {
        app.wait_record("sample", sid, WAIT).await;
    }
    let bodies: Vec<String> = app
        .twilio
        .created()
        .iter()
        .filter(|m| m["to"] == SENDER)
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (1..=20).map(|n| format!("number {n}")).collect();
    assert_eq!(bodies, expected);
}

#[actix_web::test]
async fn a_full_queue_answers_503_with_the_error_response_and_queues_nothing_more() {
    let app = spawn_app_with(
        &retry_topic(r#""echo""#, 0, 5),
        "max_queue_depth = 3\n",
        RunOptions::default(),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(
            app.post("sample", &inbound(&new_sid(), "fill"))
                .await
                .status,
            200
        );
    }
    let answer = app.post("sample", &inbound(&new_sid(), "overflow")).await;
    assert_eq!(answer.status, 503);
    assert!(answer.content_type.starts_with("text/xml"));
    assert!(
        answer.body.contains("<Message>try again later</Message>"),
        "{}",
        answer.body
    );
    assert_eq!(app.queue_len("sample").await, 3);
}

/// Concurrent webhooks go to Redis in batches (one script call for many); within a batch each
/// job is still de-duplicated and counted against `max_queue_depth` on its own.
#[actix_web::test]
async fn concurrent_webhooks_batched_together_are_deduplicated_and_bounded_one_by_one() {
    const DISTINCT: usize = 60;
    const DEPTH: usize = 40;
    let app = spawn_app_with(
        &retry_topic(r#""echo""#, 0, 5),
        &format!("max_queue_depth = {DEPTH}\n"),
        RunOptions::default(),
    )
    .await;
    let sids: Vec<String> = (0..DISTINCT).map(|_| new_sid()).collect();
    let forms: Vec<_> = sids
        .iter()
        .flat_map(|sid| [inbound(sid, "batched"), inbound(sid, "batched")])
        .collect();
    let answers =
        futures_util::future::join_all(forms.iter().map(|form| app.post("sample", form))).await;
    let mut redis = app.redis.clone();
    let entries: redis::streams::StreamRangeReply =
        redis.xrange_all(app.key("sample", "queue")).await.unwrap();
    let mut queued: Vec<String> = entries
        .ids
        .iter()
        .map(|entry| {
            let job: String = entry.get("job").unwrap();
            let job: serde_json::Value = serde_json::from_str(&job).unwrap();
            job["message"]["sid"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        queued.len(),
        DEPTH,
        "the queue holds exactly max_queue_depth"
    );
    queued.sort();
    queued.dedup();
    assert_eq!(queued.len(), DEPTH, "no MessageSid was queued twice");
    for (i, sid) in sids.iter().enumerate() {
        let statuses = (answers[2 * i].status, answers[2 * i + 1].status);
        if queued.contains(sid) {
            assert_eq!(statuses, (200, 200), "{sid} was queued: both answers 200");
        } else {
            assert_eq!(
                statuses,
                (503, 503),
                "{sid} was not queued: both answers 503"
            );
        }
    }
}

#[actix_web::test]
async fn shutdown_finishes_in_flight_jobs_and_refuses_new_webhooks() {
    let app = spawn_app(&retry_topic(r#""echo""#, 1, 5)).await;
    app.twilio.set_delay(Duration::from_millis(500));
    let (first, second) = (new_sid(), new_sid());
    app.post("sample", &inbound(&first, "in flight")).await;
    app.post("sample", &inbound(&second, "still queued")).await;
    app.twilio.wait_for(1, WAIT).await;

    app.shutdown.trigger();
    app.wait_for_health(503, WAIT).await;
    let refused = app.post("sample", &inbound(&new_sid(), "too late")).await;
    assert_eq!(refused.status, 503);

    let record = app.wait_record("sample", &first, WAIT).await;
    assert_eq!(record["outcome"], "completed");
    // Stopped: the pool drained and starts nothing more, so the counts below are final.
    app.wait_stopped(WAIT).await;
    assert_eq!(
        app.twilio.created().len(),
        1,
        "no new job starts after shutdown"
    );
    assert_eq!(
        app.queue_len("sample").await,
        1,
        "the unstarted job stays queued"
    );
}
