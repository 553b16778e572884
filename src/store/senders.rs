//! Topics that send from one sender (the same `messaging_service_sid`, or without one the same
//! `from_number`) share one opt-out ledger, as Twilio blocks a number per sending number or
//! Messaging Service: a STOP to one topic holds for every topic sending from it. Each topic keeps
//! its own copy (`optout`, in its own Redis Cluster slot, so each topic's scripts read it in the
//! same step as the rest of their work); every change is written to each copy
//! (`opt_outs::apply`), and [`share_ledgers`] merges the copies at start, which also migrates the
//! per-topic ledgers of earlier releases.

use std::collections::{BTreeMap, HashMap};

use redis::AsyncCommands;

use crate::settings::Settings;
use crate::store::connection::RedisConn;
use crate::store::keys::Keys;

/// Each topic's fellow topics: those that send from the same sender (none for a topic alone on
/// its sender).
pub(crate) type Siblings = HashMap<String, Vec<String>>;

/// The sender a topic's texts go out from: its Messaging Service when it has one (the service
/// picks the number), else its number.
fn sender_of(settings: &crate::settings::TwilioSettings) -> Option<&str> {
    settings
        .messaging_service_sid
        .as_deref()
        .or(settings.from_number.as_deref())
}

/// The groups of topics of `settings` that send from one sender, each in settings order; only
/// groups of two or more.
pub(crate) fn groups(settings: &Settings) -> Vec<Vec<String>> {
    let mut by_sender: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, topic) in &settings.topics {
        if let Some(sender) = sender_of(&topic.twilio) {
            by_sender.entry(sender).or_default().push(name.clone());
        }
    }
    by_sender.into_values().filter(|g| g.len() > 1).collect()
}

/// Each topic's fellow topics, from [`groups`].
pub(crate) fn siblings(settings: &Settings) -> Siblings {
    let mut siblings = Siblings::new();
    for group in groups(settings) {
        for topic in &group {
            let others = group.iter().filter(|t| *t != topic).cloned().collect();
            siblings.insert(topic.clone(), others);
        }
    }
    siblings
}

/// Merges the opt-out ledgers of each group of topics sharing a sender: a number opted out of
/// any of them is then opted out of all (with the earliest time). Idempotent; it only adds, so a
/// START that reached one copy and not another (a failure part-way) is undone rather than a STOP
/// lost. Answers how many entries it added.
pub(crate) async fn share_ledgers(
    conn: &mut RedisConn,
    keys: &Keys,
    groups: &[Vec<String>],
) -> redis::RedisResult<u64> {
    let mut added = 0;
    for group in groups {
        let mut union: HashMap<String, String> = HashMap::new();
        let mut copies = Vec::new();
        for topic in group {
            let copy: HashMap<String, String> = conn.hgetall(keys.opt_outs(topic)).await?;
            for (number, at) in &copy {
                let earliest = union.entry(number.clone()).or_insert_with(|| at.clone());
                if at.parse::<u64>().ok() < earliest.parse::<u64>().ok() {
                    *earliest = at.clone();
                }
            }
            copies.push((topic, copy));
        }
        for (topic, copy) in copies {
            let missing: Vec<(&String, &String)> = union
                .iter()
                .filter(|(n, _)| !copy.contains_key(*n))
                .collect();
            for chunk in missing.chunks(500) {
                let _: () = conn.hset_multiple(keys.opt_outs(topic), chunk).await?;
                added += chunk.len() as u64;
            }
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_group_by_messaging_service_or_number() {
        let topic = |name: &str, sender: &str| {
            format!(
                "[topics.{name}]\nhandler = \"echo\"\n[topics.{name}.twilio]\n\
                 account_sid = \"AC00000000000000000000000000000001\"\n\
                 auth_token = \"a-real-looking-token-0123456789\"\n{sender}\n"
            )
        };
        let text = [
            "[profiles.dev]\nredis = \"redis://127.0.0.1:6379/0\"\ndry_run = true\n\
             validate_signatures = false\n"
                .to_string(),
            topic("a", "from_number = \"+15005550006\""),
            topic("b", "from_number = \"+15005550006\""),
            topic(
                "c",
                "from_number = \"+15005550006\"\n\
                 messaging_service_sid = \"MG00000000000000000000000000000001\"",
            ),
            topic("d", "from_number = \"+15005550007\""),
        ]
        .concat();
        let settings =
            crate::settings::load_str(&text, std::path::Path::new("s.toml"), "dev", &|_| None)
                .unwrap();
        assert_eq!(
            groups(&settings),
            vec![vec!["a".to_string(), "b".to_string()]]
        );
        let siblings = siblings(&settings);
        assert_eq!(siblings["a"], ["b"]);
        assert_eq!(siblings["b"], ["a"]);
        assert!(!siblings.contains_key("c"), "c sends through its service");
    }
}
