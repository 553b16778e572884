//! Redis Cluster, against six real `redis-server --cluster-enabled yes` nodes (three primaries,
//! three replicas): three topics whose keys land on three different primaries; the pipeline,
//! dedupe, order per sender, dead letters and their re-queue work; every key a topic's scripts
//! wrote is in that topic's slot (`CLUSTER KEYSLOT`); `status` and `recent` read all of them.

use std::time::Duration;

use pyrowire::app::RunOptions;
use pyrowire::commands::dead::{dead as dead_letters, DeadOptions};

use crate::common::{new_sid, ClusterSet, Scripted};
use crate::helpers::{default_topic, inbound, spawn_app_with, TestApp, SENDER};

const WAIT: Duration = Duration::from_secs(15);

/// A topic's name as message text (the `parseable` validator refuses `_`).
fn label(topic: &str) -> String {
    topic.replace('_', "-")
}

fn cluster_profile(set: &ClusterSet) -> String {
    let seeds: Vec<String> = set.seed_urls().iter().map(|u| format!("\"{u}\"")).collect();
    format!("redis = \"\"\nredis_cluster = [{}]\n", seeds.join(", "))
}

/// Every key under the app's prefix on the node at `port`.
fn keys_on(port: u16, prefix: &str) -> Vec<String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/0")).unwrap();
    let mut conn = client.get_connection().unwrap();
    redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query(&mut conn)
        .unwrap()
}

fn keyslot(port: u16, key: &str) -> u16 {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/0")).unwrap();
    let mut conn = client.get_connection().unwrap();
    redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query(&mut conn)
        .unwrap()
}

async fn replies_to(app: &TestApp, count: usize) -> Vec<(String, String)> {
    app.twilio
        .wait_for(count, WAIT)
        .await
        .iter()
        .map(|r| {
            (
                r.field("To").unwrap_or_default().to_string(),
                r.field("Body").unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn three_topics_on_three_primaries_run_the_whole_pipeline() {
    // Arrange
    let set = ClusterSet::start().await;
    let topics = set.topics_on_distinct_primaries();
    let toml: String = topics
        .iter()
        .map(|t| default_topic(t, r#""echo""#))
        .collect();
    let app = spawn_app_with(&toml, &cluster_profile(&set), RunOptions::default()).await;

    // Act: per topic, three texts from one sender in order, one of them twice.
    for topic in &topics {
        let first = new_sid();
        for (sid, body) in [(&first, "one"), (&first, "one"), (&new_sid(), "two")] {
            let answer = app
                .post(topic, &inbound(sid, &format!("{} {body}", label(topic))))
                .await;
            assert_eq!(answer.status, 200, "{topic}: {}", answer.body);
        }
        app.post(
            topic,
            &inbound(&new_sid(), &format!("{} three", label(topic))),
        )
        .await;
    }

    // Assert: nine replies, none twice, in order per topic.
    let replies = replies_to(&app, 9).await;
    assert_eq!(replies.len(), 9, "{replies:?}");
    for topic in &topics {
        let bodies: Vec<&str> = replies
            .iter()
            .filter(|(to, body)| to == SENDER && body.starts_with(&format!("{} ", label(topic))))
            .map(|(_, body)| body.as_str())
            .collect();
        let expected: Vec<String> = ["one", "two", "three"]
            .iter()
            .map(|b| format!("{} {b}", label(topic)))
            .collect();
        assert_eq!(bodies, expected, "order of topic {topic}");
    }

    // Every key the scripts wrote for a topic sits in that topic's slot, on its primary.
    for topic in &topics {
        let port = set.primary_port_of(topic);
        let slot = set.slot_of(topic);
        let keys = keys_on(port, &app.prefix);
        let mine: Vec<&String> = keys
            .iter()
            .filter(|k| k.contains(&format!("{{{topic}}}")))
            .collect();
        assert!(mine.len() >= 5, "keys of {topic} on its primary: {keys:?}");
        for key in mine {
            assert_eq!(keyslot(port, key), slot, "{key}");
        }
    }

    // The health check says cluster.
    let health = app.get_path("/health").await;
    assert_eq!(health.status, 200, "{}", health.body);
    assert!(
        health.body.contains("\"form\":\"cluster\""),
        "{}",
        health.body
    );

    // status and recent, straight against the cluster, read every topic.
    let settings = app.settings.clone();
    let topics_for_tools = topics.clone();
    let (status, recent) = std::thread::spawn(move || {
        let status = pyrowire::commands::status::status(&settings).unwrap();
        let recent: Vec<String> = topics_for_tools
            .iter()
            .map(|t| pyrowire::commands::recent::recent(&settings, t, 10).unwrap())
            .collect();
        (status, recent)
    })
    .join()
    .unwrap();
    for (topic, recent) in topics.iter().zip(&recent) {
        assert!(status.contains(topic.as_str()), "{status}");
        assert!(
            recent.contains(&format!("{} three", label(topic))),
            "{recent}"
        );
    }
}

#[actix_web::test]
async fn a_permanent_twilio_error_dead_letters_on_the_cluster() {
    let set = ClusterSet::start().await;
    let [topic, _, _] = set.topics_on_distinct_primaries();
    let app = spawn_app_with(
        &default_topic(&topic, r#""echo""#),
        &cluster_profile(&set),
        RunOptions::default(),
    )
    .await;
    app.twilio.script(vec![Scripted::error(400, Some(21211))]);

    let sid = new_sid();
    app.post(&topic, &inbound(&sid, "doomed")).await;

    let port = set.primary_port_of(&topic);
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/0")).unwrap();
    let mut conn = client.get_connection().unwrap();
    let key = app.key(&topic, &format!("record:{sid}"));
    let mut record = None;
    for _ in 0..300 {
        let raw: Option<String> = redis::cmd("GET").arg(&key).query(&mut conn).unwrap();
        if let Some(raw) = raw {
            record = Some(serde_json::from_str::<serde_json::Value>(&raw).unwrap());
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let record = record.expect("a record on the topic's primary");
    assert_eq!(record["outcome"], "dead_lettered");
    let dead = keys_on(port, &app.prefix);
    assert!(
        dead.iter().any(|k| k.ends_with(&format!(":dead:{sid}"))),
        "{dead:?}"
    );

    // `pyrowire dead --requeue`, straight against the cluster: the job goes back and is replied to.
    let settings = app.settings.clone();
    let (topic_for_tool, sid_for_tool) = (topic.clone(), sid.clone());
    let listed = std::thread::spawn(move || {
        let options = DeadOptions {
            requeue: vec![sid_for_tool],
            requeue_all: false,
            limit: 10,
        };
        dead_letters(&settings, &topic_for_tool, &options).unwrap()
    })
    .join()
    .unwrap();
    assert!(listed.contains("re-queued"), "{listed}");
    let replies = replies_to(&app, 2).await;
    assert_eq!(replies[1].1, "doomed", "{replies:?}");
}
