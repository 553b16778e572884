//! The profile's Redis: exactly one connection form, each well formed; TLS settings that fit the
//! URLs; replica acknowledgements within bounds. Values are secrets (URLs may hold passwords):
//! no message prints one.

use super::urls::is_redis_url;
use crate::settings::problem::{push, Problem};
use crate::settings::Profile;

const NODE_SCHEMES: &[&str] = &["redis://", "rediss://"];

/// Every check of the profile's Redis keys.
pub(super) fn check_redis(profile: &Profile, key: &str, problems: &mut Vec<Problem>) {
    check_one_form(profile, key, problems);
    check_cluster(profile, key, problems);
    check_sentinel(profile, key, problems);
    check_tls(profile, key, problems);
    check_replica_acks(profile, key, problems);
}

/// The single-node URL, unless it is unset or blank.
fn single(profile: &Profile) -> Option<&str> {
    let url = profile.redis.as_ref()?.expose();
    (!url.trim().is_empty()).then_some(url)
}

/// Exactly one of `redis`, `redis_cluster` and `redis_sentinel`; a single node's URL well formed.
fn check_one_form(profile: &Profile, key: &str, problems: &mut Vec<Problem>) {
    let forms = [
        single(profile).is_some(),
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
    let schemes = &["redis://", "rediss://", "unix://"];
    if single(profile).is_some_and(|url| !is_redis_url(url, schemes)) {
        push(
            problems,
            format!("{key}.redis"),
            "must be a redis://, rediss:// or unix:// URL".into(),
        );
    }
}

/// At least one seed, each a node URL.
fn check_cluster(profile: &Profile, key: &str, problems: &mut Vec<Problem>) {
    let Some(seeds) = &profile.redis_cluster else {
        return;
    };
    if seeds.is_empty() {
        push(
            problems,
            format!("{key}.redis_cluster"),
            "must list at least one seed node".into(),
        );
    }
    for (i, seed) in seeds.iter().enumerate() {
        if !is_redis_url(seed.expose(), NODE_SCHEMES) {
            push(
                problems,
                format!("{key}.redis_cluster[{i}]"),
                "must be a redis:// or rediss:// URL".into(),
            );
        }
    }
}

/// A master name and at least one sentinel, each a node URL, all of one scheme.
fn check_sentinel(profile: &Profile, key: &str, problems: &mut Vec<Problem>) {
    let Some(sentinel) = &profile.redis_sentinel else {
        return;
    };
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
        if !is_redis_url(node.expose(), NODE_SCHEMES) {
            push(
                problems,
                format!("{key}.nodes[{i}]"),
                "must be a redis:// or rediss:// URL".into(),
            );
        }
    }
    let tls = sentinel
        .nodes
        .iter()
        .filter(|u| u.expose().starts_with("rediss://"))
        .count();
    if tls != 0 && tls != sentinel.nodes.len() {
        push(
            problems,
            format!("{key}.nodes"),
            "must all be redis:// or all rediss:// URLs".into(),
        );
    }
}

/// A CA file that exists, is used by some rediss:// URL, and is not overruled by
/// `redis_tls_insecure`.
fn check_tls(profile: &Profile, key: &str, problems: &mut Vec<Problem>) {
    let Some(path) = &profile.redis_ca_file else {
        return;
    };
    let uses_tls = single(profile)
        .into_iter()
        .chain(profile.redis_cluster.iter().flatten().map(|u| u.expose()))
        .chain(
            profile
                .redis_sentinel
                .iter()
                .flat_map(|s| s.nodes.iter().map(|u| u.expose())),
        )
        .any(|u| u.starts_with("rediss://"));
    if profile.redis_tls_insecure {
        push(
            problems,
            format!("{key}.redis_tls_insecure"),
            "cannot be true with `redis_ca_file` (the CA would not be checked)".into(),
        );
    }
    if !uses_tls {
        push(
            problems,
            format!("{key}.redis_ca_file"),
            "is set, but no rediss:// URL would use it".into(),
        );
    }
    if !path.is_file() {
        push(
            problems,
            format!("{key}.redis_ca_file"),
            format!("is not a readable file, got `{}`", path.display()),
        );
    }
}

/// `min_replica_acks` at most 16; a `WAIT` that ends well within a command's timeout (3 s), since
/// it holds the connection it runs on.
fn check_replica_acks(profile: &Profile, key: &str, problems: &mut Vec<Problem>) {
    if profile.min_replica_acks > 16 {
        push(
            problems,
            format!("{key}.min_replica_acks"),
            format!("must be at most 16, got {}", profile.min_replica_acks),
        );
    }
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
