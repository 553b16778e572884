//! Lanes: replies go ahead of a paced bulk backlog, and bulk texts have their own bound, so a
//! broadcast neither delays a reply by more than a send nor takes the room inbound texts need.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use pyrowire::app::RunOptions;
use serde_json::{json, Value};

use crate::common::new_sid;
use crate::helpers::{api_profile, inbound, spawn_app_with, twilio_table, SENDER};

/// Recipients of the bulk backlog, and texts each.
const NUMBERS: usize = 10;
const PER_NUMBER: usize = 30;

fn bulk_texts(count_per_number: usize, tag: &str) -> Vec<Value> {
    (0..count_per_number)
        .flat_map(|seq| {
            (0..NUMBERS).map(move |n| {
                json!({"to": format!("+1555000{n:04}"), "body": format!("{tag} {n} {seq:03}"),
                    "priority": "bulk"})
            })
        })
        .collect()
}

#[actix_web::test]
async fn a_reply_goes_out_within_seconds_of_its_text_behind_a_paced_bulk_backlog() {
    // Arrange: two segments a second, four workers, 300 bulk texts queued first.
    let topics = format!(
        "[topics.sample]\nhandler = \"echo\"\nworkers = 4\nmax_sends_per_second = 2\n{}",
        twilio_table("sample")
    );
    let app = spawn_app_with(&topics, &api_profile(), RunOptions::default()).await;
    let texts = bulk_texts(PER_NUMBER, "bulk");
    let (status, answer) = app.send_texts("sample", &json!({"messages": texts})).await;
    assert_eq!(status, 202, "{answer}");
    app.twilio
        .wait_for_created(3, Duration::from_secs(10))
        .await;

    // Act: a person texts in while the backlog drains at its pace.
    let posted = Instant::now();
    let answer = app.post("sample", &inbound(&new_sid(), "hello")).await;
    assert_eq!(answer.status, 200);
    let replied = loop {
        let creates = app.twilio.creates();
        if let Some(reply) = creates.iter().find(|c| c.field("To") == Some(SENDER)) {
            break reply.at;
        }
        assert!(
            posted.elapsed() < Duration::from_secs(10),
            "no reply within 10 s behind the bulk backlog"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    };

    // Assert: the reply went out within 3 s; every bulk text goes out once, in order per number.
    let took = replied.saturating_duration_since(posted);
    eprintln!("the reply went out {took:?} after its text, behind the bulk backlog");
    assert!(took < Duration::from_secs(3), "the reply took {took:?}");
    let total = NUMBERS * PER_NUMBER + 1;
    app.twilio
        .wait_for_created(total, Duration::from_secs(240))
        .await;
    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    let creates = app.twilio.creates();
    assert_eq!(creates.len(), total, "a text was sent twice");
    let mut seen: HashMap<String, Vec<usize>> = HashMap::new();
    for create in &creates {
        let body = create.field("Body").unwrap_or_default();
        let Some(rest) = body.strip_prefix("bulk ") else {
            continue;
        };
        let (number, seq) = rest.split_once(' ').unwrap();
        seen.entry(number.to_string())
            .or_default()
            .push(seq.parse().unwrap());
    }
    assert_eq!(seen.len(), NUMBERS);
    for (number, order) in &seen {
        let expected: Vec<usize> = (0..PER_NUMBER).collect();
        assert_eq!(
            order, &expected,
            "bulk texts to number {number} out of order"
        );
    }
}

#[actix_web::test]
async fn a_bulk_broadcast_takes_none_of_the_room_inbound_texts_need() {
    // Arrange: room for 30 jobs in the queue, 150 bulk texts; no workers, so nothing drains.
    let topics = format!(
        "[topics.sample]\nhandler = \"echo\"\nworkers = 0\n{}",
        twilio_table("sample")
    );
    let profile = format!(
        "{}\nmax_queue_depth = 30\nmax_bulk_depth = 150",
        api_profile()
    );
    let app = spawn_app_with(&topics, &profile, RunOptions::default()).await;

    // Act: a broadcast (bulk by default) of 100.
    let broadcast = json!({"messages": bulk_texts(10, "broadcast")});
    let (status, answer) = app
        .api(
            "POST",
            "/api/topics/sample/broadcasts",
            Some(crate::helpers::API_TOKEN),
            Some(&broadcast),
        )
        .await;
    let webhook = app
        .post("sample", &inbound(&new_sid(), "still room?"))
        .await;
    let (more_status, more) = app
        .send_texts("sample", &json!({"messages": bulk_texts(10, "again")}))
        .await;
    let interactive: Vec<Value> = (0..40)
        .map(|n| json!({"to": format!("+1555100{n:04}"), "body": "now"}))
        .collect();
    let (busy_status, busy) = app
        .send_texts("sample", &json!({"messages": interactive}))
        .await;

    // Assert: 100 bulk texts queued and the webhook answered 200; the next 100 bulk texts do
    // not fit under max_bulk_depth; interactive texts still meet max_queue_depth.
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["messages"].as_array().unwrap().len(), 100);
    assert_eq!(webhook.status, 200, "{}", webhook.body);
    assert_eq!(more_status, 503, "{more}");
    assert!(
        more.to_string().contains("max_bulk_depth"),
        "the refusal names the bound: {more}"
    );
    assert_eq!(busy_status, 503, "{busy}");
    assert_eq!(app.queue_len("sample").await, 1, "only the inbound text");
    let mut redis = app.redis.clone();
    let bulk: usize = redis::AsyncCommands::xlen(&mut redis, app.key("sample", "bulk"))
        .await
        .unwrap();
    assert_eq!(bulk, 100);
    let (status, text) = app
        .text_status("sample", answer["messages"][0]["id"].as_str().unwrap())
        .await;
    assert_eq!(status, 200);
    assert_eq!(text["priority"], "bulk", "{text}");
    assert_eq!(text["status"], "queued", "{text}");
}
