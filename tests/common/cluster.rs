//! Redis Cluster for tests: six nodes (three primaries with a replica each, made by
//! `redis-cli --cluster create`) on loopback ports, each appending every write to its own log in
//! one temporary directory; killed when dropped. A node that stops answering for a second
//! (`cluster-node-timeout`) is failed over to its replica.
//!
//! Nodes are inspected by parsing `CLUSTER NODES`, one line per node:
//! `<id> <ip:port@busport> <flags> <primary id or -> <ping> <pong> <epoch> <link> <slots...>`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::process::run_bounded;
use super::redis_server::{info_field, query};
use super::{free_port_below, poll_every, port_is_free, Process};

/// How often the waits below ask (each asks every node).
const INTERVAL: Duration = Duration::from_millis(100);
/// How far above a node's port its cluster bus listens.
const BUS_OFFSET: u16 = 10_000;
/// Hash slots in a cluster.
const SLOTS: u32 = 16_384;

/// Six cluster nodes: three primaries, each with one replica.
pub struct ClusterSet {
    ports: Vec<u16>,
    killed: Vec<Killed>,
    // Before `dir`, so that no server outlives its files. None once killed.
    nodes: Vec<Option<Process>>,
    dir: tempfile::TempDir,
}

/// A primary that [`ClusterSet::kill_primary_of`] killed.
struct Killed {
    at: Instant,
    slots: Vec<(u16, u16)>,
    replica_ids: Vec<String>,
}

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone)]
struct Node {
    id: String,
    port: u16,
    flags: Vec<String>,
    primary_id: Option<String>,
    connected: bool,
    /// Inclusive ranges.
    slots: Vec<(u16, u16)>,
}

impl Node {
    fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    fn is_primary(&self) -> bool {
        self.has_flag("master")
    }

    fn serves(&self, slot: u16) -> bool {
        self.slots
            .iter()
            .any(|&(low, high)| low <= slot && slot <= high)
    }

    /// Connected and not suspected, failed, or still being introduced.
    fn healthy(&self) -> bool {
        self.connected
            && !["fail", "fail?", "handshake", "noaddr"]
                .iter()
                .any(|flag| self.has_flag(flag))
    }
}

impl ClusterSet {
    /// Starts six nodes, joins them with `redis-cli --cluster create` (three primaries, one
    /// replica each), and waits until every node says `cluster_state:ok`, sees all six healthy,
    /// and every replica is in sync with its primary (a replica that never synced would not
    /// take over).
    pub async fn start() -> ClusterSet {
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<u16> = (0..6).map(|_| free_node_port()).collect();
        let nodes = ports
            .iter()
            .map(|&port| {
                Some(Process::start(node(
                    port,
                    &dir.path().join(port.to_string()),
                )))
            })
            .collect();
        let set = ClusterSet {
            ports,
            killed: Vec::new(),
            nodes,
            dir,
        };
        set.wait("every node to answer", Duration::from_secs(10), |set| {
            set.ports
                .iter()
                .all(|&port| query::<String>(port, &redis::cmd("PING")).is_some())
                .then_some(())
        })
        .await;

        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        create.args(set.ports.iter().map(|port| format!("127.0.0.1:{port}")));
        create.args(["--cluster-replicas", "1", "--cluster-yes"]);
        let output = run_bounded(create, Duration::from_secs(60)).await;
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed:\n{}{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            set.logs()
        );

        set.wait("the cluster to be ready", Duration::from_secs(30), |set| {
            set.ports
                .iter()
                .all(|&port| {
                    let Some(nodes) = cluster_nodes(port) else {
                        return false;
                    };
                    let primaries = nodes.iter().filter(|n| n.is_primary()).count();
                    let served: u32 = nodes
                        .iter()
                        .flat_map(|n| &n.slots)
                        .map(|&(low, high)| u32::from(high - low) + 1)
                        .sum();
                    let myself = nodes.iter().find(|n| n.has_flag("myself"));
                    let synced = myself.is_some_and(|me| {
                        me.is_primary() || replica_link_up(me.port).unwrap_or(false)
                    });
                    cluster_ok(port)
                        && nodes.len() == 6
                        && nodes.iter().all(Node::healthy)
                        && primaries == 3
                        && served == SLOTS
                        && synced
                })
                .then_some(())
        })
        .await;
        set
    }

    /// `redis://127.0.0.1:<port>` for each of the six nodes (a client needs only some of them to
    /// discover the rest).
    pub fn seed_urls(&self) -> Vec<String> {
        self.ports.iter().map(|&port| node_url(port)).collect()
    }

    /// The six nodes' ports.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The hash slot of `key` (`CLUSTER KEYSLOT`; a `{tag}` in the key decides it).
    pub fn slot_of(&self, key: &str) -> u16 {
        self.live_ports()
            .find_map(|port| query(port, redis::cmd("CLUSTER").arg("KEYSLOT").arg(key)))
            .expect("a live node answers CLUSTER KEYSLOT")
    }

    /// The port of the primary serving `key`'s slot, as the first live node that answers sees it.
    pub fn primary_port_of(&self, key: &str) -> u16 {
        let slot = self.slot_of(key);
        let nodes = self.live_view();
        owner(&nodes, slot)
            .unwrap_or_else(|| panic!("no primary serves slot {slot}"))
            .port
    }

    /// `redis://127.0.0.1:<port>` of the primary serving `key`'s slot.
    pub fn primary_url_of(&self, key: &str) -> String {
        node_url(self.primary_port_of(key))
    }

    /// Three topic names (`t_a`, `t_b`, ...) whose keys (`<prefix>:{<topic>}:<kind>`, slotted by
    /// the topic alone) are served by three different primaries.
    pub fn topics_on_distinct_primaries(&self) -> [String; 3] {
        let nodes = self.live_view();
        let letters = ('a'..='z').map(|c| format!("t_{c}"));
        let numbered = (0..1000).map(|n| format!("t_{n}"));
        let mut chosen: Vec<(String, u16)> = Vec::new();
        for topic in letters.chain(numbered) {
            let primary = owner(&nodes, self.slot_of(&topic))
                .expect("every slot is served")
                .port;
            if chosen.iter().all(|(_, port)| *port != primary) {
                chosen.push((topic, primary));
                if chosen.len() == 3 {
                    break;
                }
            }
        }
        let names: Vec<String> = chosen.into_iter().map(|(topic, _)| topic).collect();
        names.try_into().expect("three primaries serve the topics")
    }

    /// SIGKILLs the primary serving `key`'s slot and notes the time, its slots and its
    /// replicas; returns its port.
    pub fn kill_primary_of(&mut self, key: &str) -> u16 {
        let slot = self.slot_of(key);
        let nodes = self.live_view();
        let primary = owner(&nodes, slot)
            .unwrap_or_else(|| panic!("no primary serves slot {slot}"))
            .clone();
        let replica_ids = nodes
            .iter()
            .filter(|n| n.primary_id.as_deref() == Some(primary.id.as_str()))
            .map(|n| n.id.clone())
            .collect::<Vec<_>>();
        assert!(
            !replica_ids.is_empty(),
            "slot {slot}'s primary has no replica"
        );
        let index = self.ports.iter().position(|&p| p == primary.port).unwrap();
        let mut process = self.nodes[index].take().expect("the primary is running");
        process.kill();
        self.killed.push(Killed {
            at: Instant::now(),
            slots: primary.slots,
            replica_ids,
        });
        primary.port
    }

    /// Starts every killed node again from its own directory (its `nodes.conf` remembers the
    /// cluster), so it rejoins as a replica of the node that took its slots over, and waits
    /// until it is in sync: the new primary has a replica again.
    pub async fn restart_killed(&mut self) {
        let stopped: Vec<usize> = (0..self.ports.len())
            .filter(|&i| self.nodes[i].is_none())
            .collect();
        for &index in &stopped {
            let port = self.ports[index];
            self.nodes[index] = Some(Process::start(node(
                port,
                &self.dir.path().join(port.to_string()),
            )));
        }
        self.wait(
            "the restarted nodes to rejoin as replicas in sync",
            Duration::from_secs(30),
            |set| {
                stopped
                    .iter()
                    .all(|&i| {
                        let info: Option<String> =
                            query(set.ports[i], redis::cmd("INFO").arg("replication"));
                        info.as_deref()
                            .and_then(|info| info_field(info, "master_link_status"))
                            .is_some_and(|status| status == "up")
                    })
                    .then_some(())
            },
        )
        .await;
    }

    /// Waits until every live node says `cluster_state:ok` and names a former replica of the
    /// killed primary as the primary serving `key`'s slot; returns the seconds since
    /// [`ClusterSet::kill_primary_of`]. Panics, with the nodes' last log lines, when that takes
    /// longer than `timeout`.
    pub async fn wait_for_takeover(&self, key: &str, timeout: Duration) -> f64 {
        let slot = self.slot_of(key);
        let killed = self
            .killed
            .iter()
            .rev()
            .find(|k| {
                k.slots
                    .iter()
                    .any(|&(low, high)| low <= slot && slot <= high)
            })
            .expect("kill_primary_of ran first for this key's primary");
        self.wait("a replica to take over", timeout, |set| {
            set.live_ports()
                .all(|port| {
                    let new_owner = cluster_nodes(port)
                        .and_then(|nodes| owner(&nodes, slot).map(|n| n.id.clone()));
                    cluster_ok(port) && new_owner.is_some_and(|id| killed.replica_ids.contains(&id))
                })
                .then_some(())
        })
        .await;
        killed.at.elapsed().as_secs_f64()
    }

    /// The last lines each live node printed, for failure messages.
    pub fn logs(&self) -> String {
        self.ports
            .iter()
            .zip(&self.nodes)
            .filter_map(|(port, node)| Some(format!("--- node {port}\n{}", node.as_ref()?.tail())))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn live_ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.ports
            .iter()
            .zip(&self.nodes)
            .filter(|(_, node)| node.is_some())
            .map(|(&port, _)| port)
    }

    /// `CLUSTER NODES` from the first live node that answers.
    fn live_view(&self) -> Vec<Node> {
        self.live_ports()
            .find_map(cluster_nodes)
            .expect("a live node answers CLUSTER NODES")
    }

    /// Polls `check` until it gives a value; panics with the logs after `timeout`.
    async fn wait(&self, what: &str, timeout: Duration, check: impl Fn(&ClusterSet) -> Option<()>) {
        let done = poll_every(INTERVAL, timeout, || check(self)).await;
        assert!(
            done.is_some(),
            "waited {timeout:?} for {what}:\n{}",
            self.logs()
        );
    }
}

/// A free port for a node, with its bus port (10000 above) free too and both below Linux's
/// ephemeral range.
fn free_node_port() -> u16 {
    loop {
        let port = free_port_below(32_768 - BUS_OFFSET);
        if port_is_free(port + BUS_OFFSET) {
            return port;
        }
    }
}

/// A cluster node on `port` with its data (an append-only log and `nodes.conf`) in `dir`,
/// logging to stdout.
fn node(port: u16, dir: &Path) -> Command {
    std::fs::create_dir_all(dir).unwrap();
    let mut command = Command::new("redis-server");
    command
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .arg("--dir")
        .arg(dir)
        .args(["--cluster-enabled", "yes"])
        .args(["--cluster-config-file", "nodes.conf"])
        .args(["--cluster-node-timeout", "1000"])
        .args(["--appendonly", "yes", "--save", ""])
        // A replica's first sync starts at once, not after the default five-second wait for
        // more replicas to share the transfer.
        .args(["--repl-diskless-sync-delay", "0"]);
    command
}

fn node_url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}")
}

/// Whether the node on `port` says `cluster_state:ok`.
fn cluster_ok(port: u16) -> bool {
    query::<String>(port, redis::cmd("CLUSTER").arg("INFO"))
        .and_then(|info| info_field(&info, "cluster_state"))
        .is_some_and(|state| state == "ok")
}

/// Whether the replica on `port` is in sync with its primary.
fn replica_link_up(port: u16) -> Option<bool> {
    let info: String = query(port, redis::cmd("INFO").arg("replication"))?;
    Some(info_field(&info, "master_link_status")? == "up")
}

/// The primary serving `slot`, in one node's view.
fn owner(nodes: &[Node], slot: u16) -> Option<&Node> {
    nodes.iter().find(|n| n.is_primary() && n.serves(slot))
}

/// `CLUSTER NODES` from the node on `port`, parsed.
fn cluster_nodes(port: u16) -> Option<Vec<Node>> {
    let text: String = query(port, redis::cmd("CLUSTER").arg("NODES"))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(parse_node)
        .collect()
}

fn parse_node(line: &str) -> Option<Node> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    // `ip:port@busport`, possibly followed by `,hostname`.
    let address = fields.get(1)?.split(['@', ',']).next()?;
    let port = address.rsplit(':').next()?.parse().ok()?;
    let slots = fields
        .get(8..)
        .unwrap_or_default()
        .iter()
        // `[slot->-id]` and `[slot-<-id]` are slots being migrated, not served.
        .filter(|range| !range.starts_with('['))
        .map(|range| match range.split_once('-') {
            Some((low, high)) => Some((low.parse().ok()?, high.parse().ok()?)),
            None => range.parse().ok().map(|slot| (slot, slot)),
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Node {
        id: fields.first()?.to_string(),
        port,
        flags: fields.get(2)?.split(',').map(str::to_string).collect(),
        primary_id: Some(fields.get(3)?.to_string()).filter(|id| id != "-"),
        connected: *fields.get(7)? == "connected",
        slots,
    })
}
