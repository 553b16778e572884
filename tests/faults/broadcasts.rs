//! A broadcast cancelled part-way, then its process SIGKILLed: after the restart, the texts
//! the dead process held (and those it had claimed but not sent) are not sent; every text ends
//! `sent` or `cancelled`, and nothing reaches Twilio after the cancel's 204.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{redis_url, FakeTwilio, ACCOUNT_SID, AUTH_TOKEN};
use crate::server::{Pyrowire, Role};
use crate::setup::{Extra, Setup};
use crate::texts::API_TOKEN;
use crate::webhooks::webhook_client;
use crate::{secs, TOPIC};

const TEXTS: usize = 50;

async fn call(address: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let client = webhook_client(secs(10));
    let url = format!("{address}{path}");
    let request = match method {
        "POST" => client.post(url),
        "DELETE" => client.delete(url),
        _ => client.get(url),
    }
    .insert_header(("Authorization", format!("Bearer {API_TOKEN}")));
    let mut response = match body {
        Some(body) => request.send_json(body).await,
        None => request.send().await,
    }
    .expect("the API answers");
    let status = response.status().as_u16();
    let answer = response.json().limit(1 << 20).await.unwrap_or(Value::Null);
    (status, answer)
}

#[actix_web::test]
async fn a_cancelled_broadcast_sends_nothing_more_across_sigkill_and_restart() {
    let _load = crate::shared().await;
    // Arrange: four texts a second, 50 texts.
    let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let profile = format!("api_token = \"{API_TOKEN}\"");
    let extra = Extra {
        profile: &profile,
        topic: "max_sends_per_second = 4",
        log_level: None,
    };
    let setup = Setup::with_extra(&redis_url(), &twilio.base, 4, extra);
    let mut server = Pyrowire::start(&setup.path, Role::All).await;
    let messages: Vec<Value> = (0..TEXTS)
        .map(|n| json!({"to": format!("+1555400{n:04}"), "body": format!("sale {n}")}))
        .collect();
    let (status, answer) = call(
        &server.address,
        "POST",
        &format!("/api/topics/{TOPIC}/broadcasts"),
        Some(&json!({ "messages": messages })),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let path = format!(
        "/api/topics/{TOPIC}/broadcasts/{}",
        answer["id"].as_str().unwrap()
    );
    twilio.wait_for_created(5, secs(20)).await;

    // Act: cancel, then kill the process at once, and start another.
    let (status, _) = call(&server.address, "DELETE", &path, None).await;
    assert_eq!(status, 204);
    server.sigkill();
    // A POST that was on its way when the cancel came may still land.
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let sent_at_cancel = twilio.creates().len();
    let restarted = Pyrowire::start(&setup.path, Role::All).await;

    // Assert: the restarted process claims the dead one's jobs (after claim_idle_ms) and
    // finishes every one of them without sending; every text is sent or cancelled.
    let held_at_kill = setup.store.bulk_len().unwrap();
    let deadline = std::time::Instant::now() + secs(20);
    while setup.store.bulk_len().unwrap() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "jobs left in the bulk queue"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, view) = call(&restarted.address, "GET", &path, None).await;
    let counts = &view["counts"];
    let done = counts["sent"].as_u64().unwrap() + counts["cancelled"].as_u64().unwrap();
    assert_eq!(done, TEXTS as u64, "{view}");
    assert!(
        held_at_kill > 0,
        "nothing was left to claim, so this proves nothing"
    );
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    let sent = twilio.creates().len();
    println!(
        "cancelled broadcast across SIGKILL: sent {sent_at_cancel} before the cancel, \
         {held_at_kill} jobs finished by the restarted process; {view}"
    );
    assert_eq!(sent, sent_at_cancel, "sent after the cancel: {view}");
    assert_eq!(
        view["counts"]["sent"].as_u64().unwrap() as usize,
        sent,
        "{view}"
    );
    assert!(sent < TEXTS, "the cancel came too late to prove anything");
}
