//! An interrupted send (marked, no SID) is looked up in Twilio's Messages list before it is sent
//! again: in any status (a message Twilio still holds `queued` has no `date_sent`), paging back
//! to the mark, not mistaking an earlier reply with the same words for it, and sending nothing
//! when the list cannot be read back to the mark within the bound.

use std::time::Duration;

use redis::AsyncCommands;

use crate::common::{new_sid, ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER};
use crate::helpers::{inbound, spawn_app, twilio_table, TestApp, SENDER};

const WAIT: Duration = Duration::from_secs(15);

fn topic(max_attempts: u32) -> String {
    format!(
        r#"
[topics.sample]
handler = "echo"
workers = 1
[topics.sample.retry]
max_attempts = {max_attempts}
backoff_initial_ms = 20
backoff_max_ms = 100
{}"#,
        twilio_table("sample")
    )
}

/// Marks the reply of `sid` as sent without a SID: the crash window.
async fn mark(app: &TestApp, sid: &str) {
    let mark = app.key("sample", &format!("send:{sid}:reply"));
    let now = pyrowire::domain::clock::now_ms();
    let _: () = app
        .redis
        .clone()
        .hset(&mark, "marked_at", now)
        .await
        .unwrap();
}

/// Creates a message at the stand-in as pyrowire would have; answers its SID.
async fn create_at_twilio(app: &TestApp, body: &str) -> String {
    let form = [("To", SENDER), ("From", FROM_NUMBER), ("Body", body)];
    let url = format!(
        "{}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
        app.twilio.base
    );
    let mut answer = awc::Client::default()
        .post(url)
        .basic_auth(ACCOUNT_SID, AUTH_TOKEN)
        .send_form(&form)
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 201);
    let resource: serde_json::Value = answer.json().await.unwrap();
    resource["sid"].as_str().unwrap().to_string()
}

fn list_params(app: &TestApp) -> Vec<Vec<(String, String)>> {
    let lists = app.twilio.lists();
    let params = lists
        .iter()
        .map(|r| serde_urlencoded::from_str(&r.query).unwrap());
    params.collect()
}

#[actix_web::test]
async fn a_reply_twilio_still_holds_queued_is_found_pages_back_and_not_sent_again() {
    let app = spawn_app(&topic(5)).await;
    app.twilio.hold_queued(Duration::from_secs(300));
    let (sent_sid, unsent_sid) = (new_sid(), new_sid());
    mark(&app, &sent_sid).await;
    mark(&app, &unsent_sid).await;
    let twilio_sid = create_at_twilio(&app, "already out").await;
    // Newer traffic to the same number pushes it to the third page of 100.
    app.twilio.seed(250, SENDER, FROM_NUMBER, "other news");

    app.post("sample", &inbound(&sent_sid, "already out")).await;
    app.post("sample", &inbound(&unsent_sid, "never went out"))
        .await;
    let found = app.wait_record("sample", &sent_sid, WAIT).await;
    let sent = app.wait_record("sample", &unsent_sid, WAIT).await;

    assert_eq!(found["sent"][0]["sid"], twilio_sid.as_str());
    assert_eq!(found["sent"][0]["status"], "queued", "as Twilio listed it");
    assert_eq!(sent["outcome"], "completed");
    let bodies = app.twilio.created_bodies();
    let ours: Vec<_> = bodies.iter().filter(|b| *b != "other news").collect();
    assert_eq!(ours, ["already out", "never went out"]);
    let lists = list_params(&app);
    assert_eq!(lists.len(), 6, "three pages for each lookup: {lists:?}");
    for params in &lists {
        assert!(
            params.iter().all(|(k, _)| !k.starts_with("DateSent")),
            "no DateSent filter: {params:?}"
        );
        assert!(params.contains(&("To".into(), SENDER.into())), "{params:?}");
        assert!(
            params.contains(&("From".into(), FROM_NUMBER.into())),
            "{params:?}"
        );
    }
    // Creates and lists alike name pyrowire, and ask for no content coding it cannot read.
    let ours = app.twilio.received();
    let ours: Vec<_> = ours.iter().filter(|r| r.user_agent.is_some()).collect();
    assert_eq!(ours.len(), 7, "one create and six lists from pyrowire");
    let user_agent = format!("pyrowire/{}", env!("CARGO_PKG_VERSION"));
    for request in ours {
        assert_eq!(request.user_agent.as_deref(), Some(user_agent.as_str()));
        assert_eq!(request.accept_encoding.as_deref(), Some("identity"));
    }
}

#[actix_web::test]
async fn an_earlier_reply_with_the_same_words_is_not_taken_for_the_interrupted_one() {
    let app = spawn_app(&topic(5)).await;
    app.twilio.hold_queued(Duration::from_secs(300));
    let (first, second) = (new_sid(), new_sid());
    app.post("sample", &inbound(&first, "same words")).await;
    let first_record = app.wait_record("sample", &first, WAIT).await;
    // The second reply was marked a moment after the first went out, then the process died.
    mark(&app, &second).await;

    app.post("sample", &inbound(&second, "same words")).await;
    let second_record = app.wait_record("sample", &second, WAIT).await;

    assert_eq!(app.twilio.created_bodies(), ["same words", "same words"]);
    assert_ne!(
        first_record["sent"][0]["sid"], second_record["sent"][0]["sid"],
        "each reply has its own message"
    );
    assert_eq!(app.twilio.lists().len(), 1);
}

#[actix_web::test]
async fn a_lookup_that_cannot_reach_the_mark_within_its_bound_sends_nothing() {
    let app = spawn_app(&topic(1)).await;
    app.twilio.hold_queued(Duration::from_secs(300));
    let sid = new_sid();
    mark(&app, &sid).await;
    // More messages since the mark than the lookup reads (10 pages of 100).
    app.twilio.seed(1001, SENDER, FROM_NUMBER, "other news");

    app.post("sample", &inbound(&sid, "maybe out")).await;
    let record = app.wait_record("sample", &sid, WAIT).await;

    assert_eq!(record["outcome"], "dead_lettered");
    let error = record["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("could not tell whether an interrupted send reached twilio"),
        "{record}"
    );
    assert!(app.twilio.creates().is_empty(), "nothing sent");
    assert_eq!(app.twilio.lists().len(), 10);
}
