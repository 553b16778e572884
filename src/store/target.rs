//! Which Redis a profile uses and how to reach it: one node (`redis`, TLS with `rediss://`), a
//! Redis Cluster (`redis_cluster`) or a primary behind Redis Sentinel (`redis_sentinel`), with
//! the CA to trust and how many replicas must confirm a write. Built once from the settings; every connection is opened from it.
//! Nothing here prints a password: [`RedisTarget::describe`] is what messages show.

use std::time::Duration;

use redis::sentinel::{SentinelClientBuilder, SentinelServerType};
use redis::{Client, ConnectionAddr, IntoConnectionInfo, RedisError, RedisResult, TlsCertificates};

use crate::settings::{Profile, Secret, SentinelSettings};

/// How long connecting may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The connection form in use, as `/health` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// One node.
    Single,
    /// A primary found through Redis Sentinel.
    Sentinel,
    /// A Redis Cluster: each topic's keys on the primary that serves its slot.
    Cluster,
}

impl Form {
    /// `single`, `sentinel` or `cluster`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Form::Single => "single",
            Form::Sentinel => "sentinel",
            Form::Cluster => "cluster",
        }
    }
}

#[derive(Clone)]
enum Nodes {
    Single(Secret),
    Sentinel(SentinelSettings),
    Cluster(Vec<Secret>),
}

/// Everything needed to open a connection to the profile's Redis.
#[derive(Clone)]
pub(crate) struct RedisTarget {
    nodes: Nodes,
    /// PEM of `redis_ca_file`, when set.
    ca: Option<Vec<u8>>,
    insecure: bool,
    /// `min_replica_acks`: writes that must reach replicas before they count.
    pub min_replica_acks: u32,
    /// `replica_ack_timeout_ms`.
    pub replica_ack_timeout: Duration,
}

/// Why the profile's Redis settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// No Redis form is set (settings validation prevents this).
    #[error("no redis is configured")]
    Missing,
    /// `redis_ca_file` could not be read.
    #[error("failed to read redis_ca_file `{path}`")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl RedisTarget {
    /// The target a validated profile describes.
    pub(crate) fn from_profile(profile: &Profile) -> Result<Self, TargetError> {
        let nodes = match (
            &profile.redis,
            &profile.redis_cluster,
            &profile.redis_sentinel,
        ) {
            (_, _, Some(sentinel)) => Nodes::Sentinel(sentinel.clone()),
            (_, Some(seeds), None) => Nodes::Cluster(seeds.clone()),
            (Some(url), None, None) => Nodes::Single(url.clone()),
            (None, None, None) => return Err(TargetError::Missing),
        };
        let ca = match &profile.redis_ca_file {
            Some(path) => Some(std::fs::read(path).map_err(|source| TargetError::CaFile {
                path: path.display().to_string(),
                source,
            })?),
            None => None,
        };
        Ok(RedisTarget {
            nodes,
            ca,
            insecure: profile.redis_tls_insecure,
            min_replica_acks: profile.min_replica_acks,
            replica_ack_timeout: Duration::from_millis(profile.replica_ack_timeout_ms),
        })
    }

    /// The target for the command-line tools: a CA file that cannot be read becomes a Redis
    /// error like any other failure to connect.
    pub(crate) fn for_tools(profile: &Profile) -> RedisResult<Self> {
        Self::from_profile(profile).map_err(|e| {
            let text = format!(
                "{e}: {}",
                std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            );
            redis::RedisError::from(std::io::Error::other(text))
        })
    }

    /// [`RedisTarget::for_tools`], with how the tool's errors name it (password removed).
    pub(crate) fn for_tools_named(profile: &Profile) -> (RedisResult<Self>, String) {
        let target = Self::for_tools(profile);
        let url = target
            .as_ref()
            .map_or_else(|_| "the profile's redis".into(), RedisTarget::describe);
        (target, url)
    }

    /// Which form this is.
    pub(crate) fn form(&self) -> Form {
        match self.nodes {
            Nodes::Single(_) => Form::Single,
            Nodes::Sentinel(_) => Form::Sentinel,
            Nodes::Cluster(_) => Form::Cluster,
        }
    }

    /// Whether certificates are not checked (`redis_tls_insecure`).
    pub(crate) fn tls_insecure(&self) -> bool {
        self.insecure
    }

    /// The target for messages, passwords removed: the URL, or the sentinels and master name.
    pub(crate) fn describe(&self) -> String {
        match &self.nodes {
            Nodes::Single(url) => redact_url(url.expose()),
            Nodes::Sentinel(s) => {
                let nodes: Vec<String> = s.nodes.iter().map(|n| redact_url(n.expose())).collect();
                format!("sentinel master `{}` via {}", s.master, nodes.join(", "))
            }
            Nodes::Cluster(seeds) => {
                let seeds: Vec<String> = seeds.iter().map(|n| redact_url(n.expose())).collect();
                format!("cluster via {}", seeds.join(", "))
            }
        }
    }

    /// A client for the node to write to now: the one node, or the primary the sentinels name.
    /// `None` for a cluster, whose nodes [`RedisTarget::cluster_client`] reaches.
    pub(crate) async fn primary_client(&self) -> RedisResult<Option<Client>> {
        match &self.nodes {
            Nodes::Single(url) => self.client_for(url.expose()).map(Some),
            Nodes::Sentinel(s) => Ok(Some(
                self.sentinel_builder(s)?
                    .build()?
                    .async_get_client()
                    .await?,
            )),
            Nodes::Cluster(_) => Ok(None),
        }
    }

    /// The same, without an async runtime (the command-line tools).
    pub(crate) fn primary_client_blocking(&self) -> RedisResult<Option<Client>> {
        match &self.nodes {
            Nodes::Single(url) => self.client_for(url.expose()).map(Some),
            Nodes::Sentinel(s) => Ok(Some(self.sentinel_builder(s)?.build()?.get_client()?)),
            Nodes::Cluster(_) => Ok(None),
        }
    }

    /// A cluster client from the seed nodes (`None` for the other forms). Requests time out
    /// after `response_timeout`; a request that meets a moved slot or a dead node is retried a
    /// few times while the client learns the new topology.
    pub(crate) fn cluster_client(
        &self,
        response_timeout: Duration,
    ) -> RedisResult<Option<redis::cluster::ClusterClient>> {
        let Nodes::Cluster(seeds) = &self.nodes else {
            return Ok(None);
        };
        let urls: Vec<String> = seeds.iter().map(|s| self.tls_url(s.expose())).collect();
        let mut builder = redis::cluster::ClusterClientBuilder::new(urls)
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(response_timeout)
            .retries(3)
            .min_retry_wait(100)
            .max_retry_wait(1000);
        if self.ca.is_some() {
            builder = builder.certs(self.certificates());
        }
        builder.build().map(Some)
    }

    fn certificates(&self) -> TlsCertificates {
        TlsCertificates {
            client_tls: None,
            root_cert: self.ca.clone(),
        }
    }

    /// A `rediss://` URL with `#insecure` when `redis_tls_insecure` asks for it.
    fn tls_url(&self, url: &str) -> String {
        if url.starts_with("rediss://") && self.insecure && !url.contains('#') {
            format!("{url}#insecure")
        } else {
            url.to_string()
        }
    }

    /// A client for one node URL: with the CA when given, and `#insecure` when asked.
    fn client_for(&self, url: &str) -> RedisResult<Client> {
        let url = self.tls_url(url);
        if url.starts_with("rediss://") && self.ca.is_some() {
            Client::build_with_tls(url, self.certificates())
        } else {
            Client::open(url)
        }
    }

    fn sentinel_builder(&self, s: &SentinelSettings) -> RedisResult<SentinelClientBuilder> {
        let mut addresses = Vec::new();
        let mut sentinel_password = s
            .sentinel_password
            .as_ref()
            .map(|p| p.expose().to_string())
            .filter(|p| !p.is_empty());
        let mut tls = None;
        for node in &s.nodes {
            let info = node.expose().into_connection_info()?;
            if sentinel_password.is_none() {
                sentinel_password = info.redis.password.clone();
            }
            if let ConnectionAddr::TcpTls { insecure, .. } = &info.addr {
                tls = Some(if *insecure || self.insecure {
                    redis::TlsMode::Insecure
                } else {
                    redis::TlsMode::Secure
                });
            }
            addresses.push(info.addr);
        }
        let mut builder =
            SentinelClientBuilder::new(addresses, s.master.clone(), SentinelServerType::Master)?
                .set_client_to_redis_db(i64::from(s.db));
        if let Some(password) = s.password.as_ref().filter(|p| !p.expose().is_empty()) {
            builder = builder.set_client_to_redis_password(password.expose().to_string());
        }
        if let Some(password) = sentinel_password.filter(|p| !p.is_empty()) {
            builder = builder.set_client_to_sentinel_password(password);
        }
        if let Some(mode) = tls {
            builder = builder
                .set_client_to_sentinel_tls_mode(mode)
                .set_client_to_redis_tls_mode(mode);
            if self.ca.is_some() {
                builder = builder
                    .set_client_to_sentinel_certificates(self.certificates())
                    .set_client_to_redis_certificates(self.certificates());
            }
        }
        Ok(builder)
    }
}

/// The error for a form that has no single node to connect to.
pub(crate) fn no_client() -> RedisError {
    RedisError::from((redis::ErrorKind::ClientError, "no redis node to connect to"))
}

/// A Redis URL with any credentials replaced, for messages: the user and password before `@`,
/// and a `pass`, `password` or `user` query parameter (`unix:///run/redis.sock?pass=...`).
pub(crate) fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match (base.find("://"), base.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://[redacted]@{}", &base[..scheme], &base[at + 1..])
        }
        _ => base.to_string(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if ["pass", "password", "user"].contains(&name) => {
                    format!("{name}=[redacted]")
                }
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_in_urls() {
        assert_eq!(
            redact_url("redis://:s3cret@host:6379/0"),
            "redis://[redacted]@host:6379/0"
        );
        assert_eq!(redact_url("redis://host/0"), "redis://host/0");
        assert_eq!(
            redact_url("unix:///run/redis.sock?db=2&pass=s3cret"),
            "unix:///run/redis.sock?db=2&pass=[redacted]"
        );
        assert_eq!(
            redact_url("redis://u:p@host/0?password=x"),
            "redis://[redacted]@host/0?password=[redacted]"
        );
    }

    #[test]
    fn a_sentinel_target_is_described_without_passwords() {
        let target = RedisTarget {
            nodes: Nodes::Sentinel(SentinelSettings {
                master: "mymaster".into(),
                nodes: vec![Secret::new("redis://:pw@10.0.0.1:26379")],
                db: 0,
                password: Some(Secret::new("hunter2")),
                sentinel_password: None,
            }),
            ca: None,
            insecure: false,
            min_replica_acks: 1,
            replica_ack_timeout: Duration::from_millis(200),
        };
        let text = target.describe();
        assert_eq!(
            text,
            "sentinel master `mymaster` via redis://[redacted]@10.0.0.1:26379"
        );
        assert_eq!(target.form().name(), "sentinel");
    }
}
