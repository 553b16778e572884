//! Speaking Twilio: opt-out keywords and error 21610, HELP, long replies split on word
//! boundaries with their segment counts, and sends paced to `max_sends_per_second`.

use std::time::Duration;

use redis::AsyncCommands;

use crate::common::{new_sid, Scripted};
use pyrowire::app::RunOptions;
use serde_json::json;

use crate::helpers::{
    api_profile, inbound, inbound_from, sent_kinds, spawn_app, spawn_app_with, twilio_table, SENDER,
};

const WAIT: Duration = Duration::from_secs(10);

/// The `sample` topic with a HELP answer, Twilio's 1600-character limit, four workers and fast
/// retries; `extra` adds topic keys (TOML lines).
fn protocol_topic(handler: &str, extra: &str) -> String {
    format!(
        r#"
[topics.sample]
handler = {handler}
accept_response = "ok"
help_response = "Text anything; reply STOP to stop."
max_message_length = 1600
workers = 4
{extra}
[topics.sample.retry]
backoff_initial_ms = 20
backoff_max_ms = 100
{}"#,
        twilio_table("sample")
    )
}

#[actix_web::test]
async fn stop_opts_out_without_running_the_handler_and_start_opts_back_in() {
    let app = spawn_app(&protocol_topic(r#""echo""#, "")).await;
    let stop = app.post("sample", &inbound(&new_sid(), " Stop ")).await;
    assert!(stop.body.ends_with("<Response/>"), "{}", stop.body);
    assert_eq!(app.queue_len("sample").await, 0);
    let mut redis = app.redis.clone();
    let opted: bool = redis
        .hexists(app.key("sample", "optout"), SENDER)
        .await
        .unwrap();
    assert!(opted);

    let sid = new_sid();
    assert_eq!(
        app.post("sample", &inbound(&sid, "hello?")).await.status,
        200
    );
    let record = app.wait_record("sample", &sid, WAIT).await;
    assert_eq!(record["outcome"], "completed");
    assert_eq!(record["sent"][0]["status"], "opted_out");
    assert!(
        app.twilio.creates().is_empty(),
        "nothing is sent to an opted-out number"
    );

    app.post("sample", &inbound(&new_sid(), "START")).await;
    let sid = new_sid();
    app.post("sample", &inbound(&sid, "back again")).await;
    app.wait_record("sample", &sid, WAIT).await;
    let creates = app.twilio.creates();
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0].field("Body"), Some("back again"));
}

#[actix_web::test]
async fn twilios_opt_out_type_counts_as_the_keyword_whatever_the_body_says() {
    let app = spawn_app_with(
        &protocol_topic(r#""echo""#, ""),
        &api_profile(),
        RunOptions::default(),
    )
    .await;
    let advanced = |body: &str, kind: &str| {
        let mut form = inbound(&new_sid(), body);
        form.push(("OptOutType".into(), kind.into()));
        form
    };
    let outbound = json!({"to": SENDER, "body": "Your order shipped."});

    let stop = app.post("sample", &advanced("PARAR", "STOP")).await;
    let (_, while_out) = app.send_texts("sample", &outbound).await;
    let help = app.post("sample", &advanced("AYUDA", "HELP")).await;
    let start = app.post("sample", &advanced("EMPEZAR", "START")).await;
    let (_, back_in) = app.send_texts("sample", &outbound).await;
    app.twilio.wait_for_created(1, WAIT).await;

    assert!(stop.body.ends_with("<Response/>"), "{}", stop.body);
    assert_eq!(while_out["messages"][0]["status"], "opted_out");
    assert!(
        help.body.contains("Text anything; reply STOP to stop."),
        "{}",
        help.body
    );
    assert!(start.body.ends_with("<Response/>"), "{}", start.body);
    assert_eq!(back_in["messages"][0]["status"], "queued");
    let bodies = app.twilio.created_bodies();
    assert_eq!(
        bodies,
        ["Your order shipped."],
        "no handler ran for a keyword"
    );
}

#[actix_web::test]
async fn help_and_info_answer_the_topics_help_text() {
    let app = spawn_app(&protocol_topic(r#""echo""#, "")).await;
    for word in ["HELP", "info"] {
        let answer = app.post("sample", &inbound(&new_sid(), word)).await;
        assert!(answer
            .body
            .contains("<Message>Text anything; reply STOP to stop.</Message>"));
    }
    assert_eq!(app.queue_len("sample").await, 0);
}

#[actix_web::test]
async fn twilio_error_21610_marks_the_number_opted_out() {
    let app = spawn_app(&protocol_topic(r#""echo""#, "")).await;
    app.twilio.script(vec![Scripted::error(400, Some(21610))]);
    let first = new_sid();
    app.post("sample", &inbound(&first, "are you there")).await;
    let record = app.wait_record("sample", &first, WAIT).await;
    assert_eq!(record["sent"][0]["status"], "opted_out");

    let second = new_sid();
    app.post("sample", &inbound(&second, "and now")).await;
    app.wait_record("sample", &second, WAIT).await;
    assert_eq!(
        app.twilio.creates().len(),
        1,
        "only the refused first attempt reached Twilio"
    );
}

#[actix_web::test]
async fn a_reply_over_1600_characters_is_split_on_word_boundaries() {
    let app = spawn_app(&protocol_topic(
        r#"{ kind = "reply", text = "{message} {message} {message}" }"#,
        "",
    ))
    .await;
    let words = "lorem ipsum dolor sit amet ".repeat(40);
    let words = words.trim();
    let sid = new_sid();
    app.post("sample", &inbound(&sid, words)).await;
    let record = app.wait_record("sample", &sid, WAIT).await;
    let expected = format!("{words} {words} {words}");

    let bodies = app.twilio.created_bodies();
    assert_eq!(
        bodies.len(),
        3,
        "{} characters in parts of at most 1600",
        expected.len()
    );
    assert!(bodies.iter().all(|b| b.chars().count() <= 1600));
    assert!(bodies
        .iter()
        .all(|b| !b.starts_with(' ') && !b.ends_with(' ')));
    assert_eq!(bodies.join(" "), expected);
    let kinds = sent_kinds(&record);
    assert_eq!(kinds, vec!["reply", "reply-2", "reply-3"]);
    assert_eq!(record["sent"][0]["encoding"], "gsm7");
    assert_eq!(record["sent"][0]["segments"], 11);
}

#[actix_web::test]
async fn records_show_each_replys_encoding_and_segments() {
    let topics = protocol_topic(
        r#""echo""#,
        "[topics.sample.validators.parseable]\nmessage = \"no\"\ncharset = \"unicode\"",
    );
    let app = spawn_app(&topics).await;
    let (plain, emoji) = (new_sid(), new_sid());
    app.post("sample", &inbound(&plain, "plain text")).await;
    app.post("sample", &inbound(&emoji, "ça va 😀")).await;
    let plain = app.wait_record("sample", &plain, WAIT).await;
    let emoji = app.wait_record("sample", &emoji, WAIT).await;
    assert_eq!(plain["sent"][0]["encoding"], "gsm7");
    assert_eq!(plain["sent"][0]["segments"], 1);
    assert_eq!(emoji["sent"][0]["encoding"], "ucs2");
    assert_eq!(emoji["sent"][0]["segments"], 1);
}

#[actix_web::test]
async fn a_reply_with_smart_quotes_goes_out_smart_encoded_and_stays_gsm7_unless_turned_off() {
    // 80 characters with a curly apostrophe: UCS-2 as it is (two segments), GSM-7 once Twilio
    // replaces the apostrophe (one).
    let text = format!("It’s {}", "a".repeat(75));
    let smart = spawn_app(&protocol_topic(r#""echo""#, "")).await;
    let plain_topics = protocol_topic(r#""echo""#, "")
        .replace("api_base = ", "smart_encoded = false\napi_base = ");
    let plain = spawn_app(&plain_topics).await;
    let (smart_sid, plain_sid) = (new_sid(), new_sid());

    smart.post("sample", &inbound(&smart_sid, &text)).await;
    plain.post("sample", &inbound(&plain_sid, &text)).await;
    let smart_record = smart.wait_record("sample", &smart_sid, WAIT).await;
    let plain_record = plain.wait_record("sample", &plain_sid, WAIT).await;

    let smart_create = &smart.twilio.creates()[0];
    let plain_create = &plain.twilio.creates()[0];
    assert_eq!(smart_create.field("SmartEncoded"), Some("true"));
    assert_eq!(
        smart_create.field("Body"),
        Some(text.as_str()),
        "sent as written"
    );
    assert_eq!(plain_create.field("SmartEncoded"), None);
    assert_eq!(
        (
            &smart_record["sent"][0]["encoding"],
            &smart_record["sent"][0]["segments"]
        ),
        (&"gsm7".into(), &1.into())
    );
    assert_eq!(
        (
            &plain_record["sent"][0]["encoding"],
            &plain_record["sent"][0]["segments"]
        ),
        (&"ucs2".into(), &2.into())
    );
}

#[actix_web::test]
async fn sends_are_paced_to_max_sends_per_second() {
    let app = spawn_app(&protocol_topic(r#""echo""#, "max_sends_per_second = 4")).await;
    let mut sids = Vec::new();
    for i in 0..6 {
        let sid = new_sid();
        let params = inbound_from(&sid, "burst", &format!("+1555777000{i}"));
        app.post("sample", &params).await;
        sids.push(sid);
    }
    for sid in &sids {
        app.wait_record("sample", sid, WAIT).await;
    }
    let creates = app.twilio.creates();
    assert_eq!(creates.len(), 6);
    let span = creates[5].at - creates[0].at;
    assert!(
        span >= Duration::from_millis(1150),
        "6 sends at 4/s took only {span:?}"
    );
    for pair in creates.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(180), "two sends {gap:?} apart");
    }
}
