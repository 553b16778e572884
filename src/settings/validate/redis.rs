//! The profile's Redis: exactly one connection form, each well formed.

use super::push;
use crate::settings::problem::Problem;
use crate::settings::Profile;

/// Exactly one connection form, each well formed; a CA file that exists. Values are secrets
/// (URLs may hold passwords): no message prints one.
pub(super) fn check_redis(profile: &Profile, key: &str, problems: &mut Vec<Problem>) {
    let single = profile
        .redis
        .as_ref()
        .filter(|u| !u.expose().trim().is_empty());
    let forms = [
        single.is_some(),
        profile.redis_cluster.is_some(),
        profile.redis_sentinel.is_some(),
    ];
    if forms.iter().filter(|set| **set).count() != 1 {
        push(
            problems,
            key.to_string(),
            "must set exactly one of `redis` (one node), `redis_cluster` (a Redis Cluster) and \
             `redis_sentinel` (a primary with replicas behind sentinels)"
                .into(),
        );
    }
    if let Some(seeds) = &profile.redis_cluster {
        if seeds.is_empty() {
            push(
                problems,
                format!("{key}.redis_cluster"),
                "must list at least one seed node".into(),
            );
        }
        for (i, seed) in seeds.iter().enumerate() {
            if !is_redis_url(seed.expose(), &["redis://", "rediss://"]) {
                push(
                    problems,
                    format!("{key}.redis_cluster[{i}]"),
                    "must be a redis:// or rediss:// URL".into(),
                );
            }
        }
    }
    if let Some(url) = single {
        if !is_redis_url(url.expose(), &["redis://", "rediss://", "unix://"]) {
            push(
                problems,
                format!("{key}.redis"),
                "must be a redis://, rediss:// or unix:// URL".into(),
            );
        }
    }
    if let Some(sentinel) = &profile.redis_sentinel {
        let key = format!("{key}.redis_sentinel");
        if sentinel.master.trim().is_empty() {
            push(
                problems,
                format!("{key}.master"),
                "must not be empty".into(),
            );
        }
        if sentinel.nodes.is_empty() {
            push(
                problems,
                format!("{key}.nodes"),
                "must list at least one sentinel".into(),
            );
        }
        for (i, node) in sentinel.nodes.iter().enumerate() {
            if !is_redis_url(node.expose(), &["redis://", "rediss://"]) {
                push(
                    problems,
                    format!("{key}.nodes[{i}]"),
                    "must be a redis:// or rediss:// URL".into(),
                );
            }
        }
    }
    let urls: Vec<&str> = single
        .into_iter()
        .chain(profile.redis_cluster.iter().flatten())
        .chain(profile.redis_sentinel.iter().flat_map(|s| s.nodes.iter()))
        .map(|u| u.expose())
        .collect();
    let tls = urls.iter().filter(|u| u.starts_with("rediss://")).count();
    if profile.redis_sentinel.is_some() && tls != 0 && tls != urls.len() {
        push(
            problems,
            format!("{key}.redis_sentinel.nodes"),
            "must all be redis:// or all rediss:// URLs".into(),
        );
    }
    if profile.redis_ca_file.is_some() && profile.redis_tls_insecure {
        push(
            problems,
            format!("{key}.redis_tls_insecure"),
            "cannot be true with `redis_ca_file` (the CA would not be checked)".into(),
        );
    }
    if profile.redis_ca_file.is_some() && tls == 0 {
        push(
            problems,
            format!("{key}.redis_ca_file"),
            "is set, but no rediss:// URL would use it".into(),
        );
    }
    if let Some(path) = &profile.redis_ca_file {
        if !path.is_file() {
            push(
                problems,
                format!("{key}.redis_ca_file"),
                format!("is not a readable file, got `{}`", path.display()),
            );
        }
    }
    if profile.min_replica_acks > 16 {
        push(
            problems,
            format!("{key}.min_replica_acks"),
            format!("must be at most 16, got {}", profile.min_replica_acks),
        );
    }
    // WAIT holds the connection it runs on: it must end well within a command's timeout (3 s).
    if !(1..=2000).contains(&profile.replica_ack_timeout_ms) {
        push(
            problems,
            format!("{key}.replica_ack_timeout_ms"),
            format!(
                "must be between 1 and 2000, got {}",
                profile.replica_ack_timeout_ms
            ),
        );
    }
}

fn is_redis_url(url: &str, schemes: &[&str]) -> bool {
    schemes.iter().any(|s| url.starts_with(s)) && redis::parse_redis_url(url).is_some()
}
