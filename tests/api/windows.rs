//! Quiet hours (`send_window`): a text due while the window is closed for its recipient waits,
//! `scheduled`, until it opens in the recipient's zone (from the number's area code); a reply
//! to that number's own text goes out at once; a window open now sends at once; and a text a
//! worker reaches after its window closed is put back until it opens again.

use std::time::Duration;

use jiff::{tz::TimeZone, Timestamp, ToSpan};
use pyrowire::app::RunOptions;
use serde_json::json;

use crate::common::new_sid;
use crate::helpers::{
    api_profile, inbound_from, random_prefix, spawn_app_on, spawn_app_with, text_ids, twilio_table,
};

/// A New York number: its area code puts it in America/New_York.
const NEW_YORK: &str = "+12125550123";
const WAIT: Duration = Duration::from_secs(20);

/// A one-hour window that starts at the next full hour in New York (closed now), and when it
/// opens (ms since the epoch), worked out here on its own.
fn closed_window() -> (String, u64) {
    let zone = TimeZone::get("America/New_York").unwrap();
    // Five minutes on, so that the window does not open while the test runs.
    let local = (Timestamp::now() + 5.minutes()).to_zoned_datetime(zone.clone());
    let hour = local.hour();
    let (start, day) = if hour <= 21 {
        (hour + 1, local.date())
    } else {
        (1, local.date().checked_add(1.day()).unwrap())
    };
    let opens = zone
        .to_zoned_datetime(day.at(start, 0, 0, 0))
        .unwrap()
        .timestamp()
        .as_millisecond() as u64;
    let window = format!(
        "send_window = {{ start = \"{start:02}:00\", end = \"{:02}:00\" }}",
        start + 1
    );
    (window, opens)
}

/// A window from this hour in New York to two hours on (open now).
fn open_window() -> String {
    let zone = TimeZone::get("America/New_York").unwrap();
    let hour = Timestamp::now().to_zoned_datetime(zone).hour();
    format!(
        "send_window = {{ start = \"{hour:02}:00\", end = \"{:02}:00\" }}",
        (hour + 2).min(24)
    )
}

fn topic(window: &str, workers: usize) -> String {
    format!(
        "[topics.sample]\nhandler = \"echo\"\nworkers = {workers}\n{window}\n{}",
        twilio_table("sample")
    )
}

#[actix_web::test]
async fn a_text_due_outside_the_window_waits_for_it_while_a_reply_goes_at_once() {
    // Arrange
    let (window, opens) = closed_window();
    let app = spawn_app_with(&topic(&window, 2), &api_profile(), RunOptions::default()).await;

    // Act: a text to the New York number, and that number texting in.
    let (status, answer) = app
        .send_texts(
            "sample",
            &json!({"to": NEW_YORK, "body": "tomorrow's reminder"}),
        )
        .await;
    let webhook = app
        .post("sample", &inbound_from(&new_sid(), "hi", NEW_YORK))
        .await;

    // Assert: the text is scheduled for the window's opening; the reply went out.
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["messages"][0]["status"], "scheduled", "{answer}");
    assert_eq!(webhook.status, 200);
    let created = app.twilio.wait_for_created(1, WAIT).await;
    assert_eq!(created[0]["body"], "hi", "only the reply: {created:?}");
    let (_, text) = app.text_status("sample", &text_ids(&answer)[0]).await;
    assert_eq!(text["status"], "scheduled", "{text}");
    let send_at: Timestamp = text["send_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(send_at.as_millisecond() as u64, opens, "{text}");
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.twilio.creates().len(), 1, "the held text was not sent");
}

#[actix_web::test]
async fn a_text_due_inside_the_window_goes_at_once_and_its_own_zone_wins() {
    // Arrange
    let app = spawn_app_with(
        &topic(&open_window(), 2),
        &api_profile(),
        RunOptions::default(),
    )
    .await;

    // Act: one text to New York, one to the same number said to be in Tokyo (closed there
    // unless Tokyo's hour matches New York's, which it never does).
    let (status, answer) = app
        .send_texts(
            "sample",
            &json!({"messages": [
                {"to": NEW_YORK, "body": "now"},
                {"to": NEW_YORK, "body": "Tokyo time", "timezone": "Asia/Tokyo"},
                {"to": NEW_YORK, "body": "x", "timezone": "Mars/Olympus"}
            ]}),
        )
        .await;
    let (status_ok, answer_ok) = app
        .send_texts(
            "sample",
            &json!({"messages": [
                {"to": NEW_YORK, "body": "now"},
                {"to": NEW_YORK, "body": "Tokyo time", "timezone": "Asia/Tokyo"}
            ]}),
        )
        .await;

    // Assert
    assert_eq!(status, 400, "an unknown zone is refused: {answer}");
    assert_eq!(answer["errors"][0]["field"], "timezone", "{answer}");
    assert_eq!(status_ok, 202, "{answer_ok}");
    assert_eq!(answer_ok["messages"][0]["status"], "queued");
    assert_eq!(answer_ok["messages"][1]["status"], "scheduled");
    let sent = app.wait_text(&text_ids(&answer_ok)[0], "sent", WAIT).await;
    assert!(sent["twilio_sid"].is_string(), "{sent}");
}

#[actix_web::test]
async fn a_text_a_worker_reaches_after_its_window_closed_is_put_back_until_it_opens() {
    // Arrange: a web process whose window is open queues the text; a worker process whose
    // window is closed (the same topic, an hour later, as it were) takes it.
    let prefix = random_prefix();
    let (closed, opens) = closed_window();
    let web = spawn_app_on(
        &prefix,
        &topic(&open_window(), 0),
        &api_profile(),
        RunOptions::default(),
    )
    .await;
    let (status, answer) = web
        .send_texts(
            "sample",
            &json!({"to": NEW_YORK, "body": "late", "priority": "bulk"}),
        )
        .await;
    assert_eq!(answer["messages"][0]["status"], "queued", "{answer}");
    assert_eq!(status, 202);
    let id = text_ids(&answer)[0].clone();

    // Act
    let worker = spawn_app_on(
        &prefix,
        &topic(&closed, 2),
        &api_profile(),
        RunOptions::default(),
    )
    .await;

    // Assert: scheduled again for the opening, out of the bulk queue, never sent.
    let held = worker.wait_text(&id, "scheduled", WAIT).await;
    let send_at: Timestamp = held["send_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(send_at.as_millisecond() as u64, opens, "{held}");
    assert_eq!(held["priority"], "bulk", "{held}");
    let mut redis = worker.redis.clone();
    let bulk: usize = redis::AsyncCommands::xlen(&mut redis, worker.key("sample", "bulk"))
        .await
        .unwrap();
    assert_eq!(bulk, 0);
    let scheduled: Vec<String> =
        redis::AsyncCommands::zrange(&mut redis, worker.key("sample", "scheduled"), 0, -1)
            .await
            .unwrap();
    assert_eq!(scheduled, [format!("{id}|{NEW_YORK}")]);
    assert!(worker.twilio.creates().is_empty() && web.twilio.creates().is_empty());
}

#[actix_web::test]
async fn a_broadcast_brings_its_own_window_and_a_bad_one_is_refused() {
    // Arrange: a topic without a window of its own.
    let (closed, opens) = closed_window();
    let spec = closed
        .trim_start_matches("send_window = ")
        .replace(" = ", ": ")
        .replace("start", "\"start\"")
        .replace("end", "\"end\"");
    let window: serde_json::Value = serde_json::from_str(&spec).unwrap();
    let app = spawn_app_with(&topic("", 2), &api_profile(), RunOptions::default()).await;
    let path = "/api/topics/sample/broadcasts";
    let token = Some(crate::helpers::API_TOKEN);

    // Act
    let body = json!({"messages": [{"to": NEW_YORK, "body": "tonight's offer"}],
        "send_window": window});
    let (status, answer) = app.api("POST", path, token, Some(&body)).await;
    let backwards = json!({"messages": [{"to": NEW_YORK, "body": "x"}],
        "send_window": {"start": "21:00", "end": "08:00"}});
    let (bad_status, bad) = app.api("POST", path, token, Some(&backwards)).await;
    let (plain_status, plain) = app
        .send_texts("sample", &json!({"to": NEW_YORK, "body": "any time"}))
        .await;

    // Assert: the broadcast's text waits for its window; the topic's own texts do not.
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["messages"][0]["status"], "scheduled", "{answer}");
    let (_, text) = app.text_status("sample", &text_ids(&answer)[0]).await;
    let send_at: Timestamp = text["send_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(send_at.as_millisecond() as u64, opens, "{text}");
    assert_eq!(bad_status, 400, "{bad}");
    assert!(bad.to_string().contains("send_window"), "{bad}");
    assert_eq!(plain_status, 202);
    assert_eq!(plain["messages"][0]["status"], "queued", "{plain}");
}
