//! The Redis a profile uses: one node (`redis`) or a primary with replicas behind Redis
//! Sentinel (`[profiles.X.redis_sentinel]`), with TLS options and how many replicas must
//! confirm a write.

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
