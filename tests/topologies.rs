//! The production Redis topologies the harness starts, each proven with plain clients
//! (`redis-cli`, or the `redis` crate without TLS or cluster support): Redis over TLS with a
//! password, a primary and replica watched by three sentinels, and a six-node cluster. The
//! sentinel and cluster tests kill a primary and wait for the replica to take its place.

#[allow(dead_code)] // these tests use only part of the helpers
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::process::run_bounded;
use common::redis_server::query;
use common::{ClusterSet, SentinelSet, TlsRedis};

/// The longest a failover may take here; with the topologies' settings it takes a few seconds.
const FAILOVER_LIMIT: Duration = Duration::from_secs(20);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string()
}

#[actix_web::test]
async fn tls_redis_answers_clients_that_trust_its_authority_only() {
    let redis = TlsRedis::start_with_password("s3cret").await;

    let port = redis.port();
    assert_eq!(redis.url(), format!("rediss://:s3cret@127.0.0.1:{port}/0"));
    let set = redis
        .cli(&redis.ca_file(), &["set", "greeting", "hello"])
        .await;
    assert_eq!(text(&set.stdout), "OK", "{}", text(&set.stderr));
    let get = redis.cli(&redis.ca_file(), &["get", "greeting"]).await;
    assert_eq!(text(&get.stdout), "hello");

    let refused = redis.cli(&redis.wrong_ca_file(), &["ping"]).await;
    assert_ne!(text(&refused.stdout), "PONG");
    assert!(
        text(&refused.stderr).contains("certificate verify failed"),
        "{}",
        text(&refused.stderr)
    );
    // Nothing listens in plain text.
    assert_eq!(query::<String>(port, &redis::cmd("PING")), None);
}

#[actix_web::test]
async fn sentinels_promote_the_replica_when_the_primary_is_killed() {
    let started = Instant::now();
    let mut set = SentinelSet::start().await;
    eprintln!(
        "sentinel set ready in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(set.current_primary_url(), Some(set.primary_url()));
    assert_eq!(set.sentinel_urls().len(), 3);
    let primary = set.primary_port();
    let written: String = query(primary, redis::cmd("SET").arg("kept").arg("yes")).unwrap();
    assert_eq!(written, "OK");
    // Acknowledged by the replica before the primary dies, so the promoted replica has it.
    let replicas: i64 = query(primary, redis::cmd("WAIT").arg(1).arg(5000)).unwrap();
    assert_eq!(replicas, 1);

    set.kill_primary();
    let seconds = set.wait_for_promotion(FAILOVER_LIMIT).await;

    eprintln!("sentinel promotion took {seconds:.2} s");
    assert_eq!(set.current_primary_url(), Some(set.replica_url()));
    let replica = set.replica_port();
    let kept: String = query(replica, redis::cmd("GET").arg("kept")).unwrap();
    assert_eq!(kept, "yes");
    let written: String = query(replica, redis::cmd("SET").arg("after").arg("yes")).unwrap();
    assert_eq!(written, "OK");
}

#[actix_web::test]
async fn a_cluster_replica_takes_over_the_slots_of_a_killed_primary() {
    let started = Instant::now();
    let mut cluster = ClusterSet::start().await;
    eprintln!("cluster ready in {:.2} s", started.elapsed().as_secs_f64());
    assert_eq!(cluster.seed_urls().len(), 6);
    let topics = cluster.topics_on_distinct_primaries();
    let keys: Vec<String> = topics.iter().map(|t| format!("px:{{{t}}}:queue")).collect();
    let primaries: Vec<u16> = keys.iter().map(|k| cluster.primary_port_of(k)).collect();
    assert!(
        primaries[0] != primaries[1]
            && primaries[1] != primaries[2]
            && primaries[0] != primaries[2],
        "{topics:?} on {primaries:?}"
    );
    for (key, &primary) in keys.iter().zip(&primaries) {
        let written: String = query(primary, redis::cmd("SET").arg(key).arg(key)).unwrap();
        assert_eq!(written, "OK");
        let replicas: i64 = query(primary, redis::cmd("WAIT").arg(1).arg(5000)).unwrap();
        assert_eq!(replicas, 1);
    }
    // Any node redirects a client to the primary of a key's slot.
    let seed = cluster.ports()[0].to_string();
    let mut get = Command::new("redis-cli");
    get.args(["-c", "-h", "127.0.0.1", "-p", &seed, "get", &keys[1]]);
    assert_eq!(
        text(&run_bounded(get, Duration::from_secs(10)).await.stdout),
        keys[1]
    );

    let killed = cluster.kill_primary_of(&keys[0]);
    let seconds = cluster.wait_for_takeover(&keys[0], FAILOVER_LIMIT).await;

    eprintln!("cluster takeover took {seconds:.2} s");
    let promoted = cluster.primary_port_of(&keys[0]);
    assert_ne!(promoted, killed);
    for (key, primary) in keys.iter().zip([promoted, primaries[1], primaries[2]]) {
        // A node may refuse a request for a moment while the cluster settles: ask for a while.
        let mut value: Option<String> = None;
        for _ in 0..50 {
            value = query(primary, redis::cmd("GET").arg(key));
            if value.is_some() {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(value.as_deref(), Some(key.as_str()), "{}", cluster.logs());
    }
}
