//! The Sentinel form of the Redis a profile uses (`[profiles.X.redis_sentinel]`); the other
//! forms (`redis`, `redis_cluster`) and the TLS and replica options are plain profile keys.

use serde::Deserialize;

use super::{flex, Secret};

/// `[profiles.X.redis_sentinel]`: the sentinels to ask which node is the primary.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelSettings {
    /// The name the sentinels monitor the primary under (`sentinel monitor <name> ...`).
    pub master: String,
    /// The sentinels: `redis://host:26379` (or `rediss://` for TLS), at least one.
    pub nodes: Vec<Secret>,
    /// The database on the data nodes.
    #[serde(default, deserialize_with = "flex::u32")]
    pub db: u32,
    /// The data nodes' password (`requirepass`); empty = none.
    #[serde(default)]
    pub password: Option<Secret>,
    /// The sentinels' own password, when they have one (else any in the node URLs).
    #[serde(default)]
    pub sentinel_password: Option<Secret>,
}
