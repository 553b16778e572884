//! Redis Sentinel for tests: a primary and one replica (both appending every write to their own
//! log), watched by three sentinels that agree (quorum 2) to promote the replica when the primary
//! stops answering for a second. Everything runs on loopback ports in one temporary directory and
//! is killed when dropped.
//!
//! With these settings a SIGKILLed primary is replaced in about two to three seconds: one second
//! before a sentinel thinks it down, about one more for the others to agree and elect a leader,
//! and the promotion itself.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::redis_server::{info_field, query};
use super::{free_port_below, poll_every, Process};

/// How often the waits below ask (each asks several servers).
const INTERVAL: Duration = Duration::from_millis(100);

/// A primary, its replica and three sentinels.
pub struct SentinelSet {
    master_name: String,
    primary_port: u16,
    replica_port: u16,
    sentinel_ports: Vec<u16>,
    /// When [`SentinelSet::kill_primary`] ran.
    killed_at: Option<Instant>,
    // Sentinels first, so that dropping the set does not start a failover; `dir` last, so that
    // no server outlives its files.
    sentinels: Vec<Process>,
    primary: Option<Process>,
    replica: Process,
    dir: tempfile::TempDir,
}

impl SentinelSet {
    /// Starts the primary, then the replica and waits until it is in sync, then the sentinels,
    /// and waits until every sentinel knows the primary, the replica and the two other
    /// sentinels (without that, a failover could not be agreed on).
    pub async fn start() -> SentinelSet {
        let master_name = "pyrowire".to_string();
        let dir = tempfile::tempdir().unwrap();
        let primary_port = free_port_below(32_768);
        let replica_port = free_port_below(32_768);
        let sentinel_ports: Vec<u16> = (0..3).map(|_| free_port_below(32_768)).collect();

        let primary = Process::start(data_node(primary_port, &dir.path().join("primary")));
        let mut replica_command = data_node(replica_port, &dir.path().join("replica"));
        replica_command.args(["--replicaof", "127.0.0.1", &primary_port.to_string()]);
        let replica = Process::start(replica_command);

        let mut set = SentinelSet {
            master_name,
            primary_port,
            replica_port,
            sentinel_ports,
            killed_at: None,
            sentinels: Vec::new(),
            primary: Some(primary),
            replica,
            dir,
        };
        set.wait(
            "the replica to be in sync",
            Duration::from_secs(20),
            |set| {
                let info: String = query(set.replica_port, redis::cmd("INFO").arg("replication"))?;
                (info_field(&info, "master_link_status")? == "up").then_some(())
            },
        )
        .await;

        // The replica is in sync before the sentinels start, so the primary's first INFO to each
        // of them already lists it (the next would come ten seconds later).
        for (index, &port) in set.sentinel_ports.iter().enumerate() {
            let sentinel_dir = set.dir.path().join(format!("sentinel-{}", index + 1));
            std::fs::create_dir(&sentinel_dir).unwrap();
            // A sentinel rewrites its own configuration file (what it learns, its id), so each
            // has a file of its own.
            let config = sentinel_dir.join("sentinel.conf");
            std::fs::write(&config, set.sentinel_config(port, &sentinel_dir)).unwrap();
            let mut command = Command::new("redis-server");
            command.arg(&config).arg("--sentinel");
            set.sentinels.push(Process::start(command));
        }
        set.wait(
            "every sentinel to know the primary, the replica and the other sentinels",
            Duration::from_secs(30),
            |set| {
                set.sentinel_ports
                    .iter()
                    .all(|&port| {
                        let name = &set.master_name;
                        let primary = master_addr(port, name) == Some(set.primary_port);
                        let sentinels: Option<Vec<redis::Value>> =
                            query(port, redis::cmd("SENTINEL").arg("sentinels").arg(name));
                        let replicas: Option<Vec<Vec<String>>> =
                            query(port, redis::cmd("SENTINEL").arg("replicas").arg(name));
                        // The replica must look usable to the sentinels, or none would promote it.
                        let replica_ready = replicas.is_some_and(|replicas| {
                            replicas.len() == 1
                                && field(&replicas[0], "flags") == Some("slave")
                                && field(&replicas[0], "master-link-status") == Some("ok")
                        });
                        primary && sentinels.is_some_and(|s| s.len() == 2) && replica_ready
                    })
                    .then_some(())
            },
        )
        .await;
        set
    }

    /// The name the sentinels know the primary by.
    pub fn master_name(&self) -> &str {
        &self.master_name
    }

    /// `redis://127.0.0.1:<port>` for each of the three sentinels.
    pub fn sentinel_urls(&self) -> Vec<String> {
        self.sentinel_ports
            .iter()
            .map(|port| format!("redis://127.0.0.1:{port}"))
            .collect()
    }

    /// The sentinels' ports.
    pub fn sentinel_ports(&self) -> &[u16] {
        &self.sentinel_ports
    }

    /// The first primary, `redis://127.0.0.1:<port>/0`.
    pub fn primary_url(&self) -> String {
        node_url(self.primary_port)
    }

    /// The first primary's port.
    pub fn primary_port(&self) -> u16 {
        self.primary_port
    }

    /// The replica (the primary after a failover), `redis://127.0.0.1:<port>/0`.
    pub fn replica_url(&self) -> String {
        node_url(self.replica_port)
    }

    /// The replica's port.
    pub fn replica_port(&self) -> u16 {
        self.replica_port
    }

    /// The primary as the first sentinel that answers names it, `redis://127.0.0.1:<port>/0`.
    pub fn current_primary_url(&self) -> Option<String> {
        self.sentinel_ports
            .iter()
            .find_map(|&port| master_addr(port, &self.master_name))
            .map(node_url)
    }

    /// SIGKILLs the primary (no shutdown, no last write to disk) and notes the time.
    pub fn kill_primary(&mut self) {
        let mut primary = self.primary.take().expect("the primary is running");
        primary.kill();
        self.killed_at = Some(Instant::now());
    }

    /// Starts the killed primary again, as a replica of the promoted one (as its supervisor
    /// would, with the configuration an operator gives a node that lost its role), and waits
    /// until it is in sync: the promoted primary has a replica again.
    pub async fn restart_old_primary_as_replica(&mut self) {
        assert!(self.primary.is_none(), "the old primary is still running");
        let mut command = data_node(self.primary_port, &self.dir.path().join("primary"));
        command.args(["--replicaof", "127.0.0.1", &self.replica_port.to_string()]);
        self.primary = Some(Process::start(command));
        self.wait(
            "the old primary to be in sync as a replica",
            Duration::from_secs(20),
            |set| {
                let info: String = query(set.primary_port, redis::cmd("INFO").arg("replication"))?;
                (info_field(&info, "master_link_status")? == "up").then_some(())
            },
        )
        .await;
    }

    /// Waits until every sentinel names the former replica as the primary and the replica says
    /// it is one (`role:master`); returns the seconds since [`SentinelSet::kill_primary`].
    /// Panics, with the servers' last log lines, when that takes longer than `timeout`.
    pub async fn wait_for_promotion(&self, timeout: Duration) -> f64 {
        let killed_at = self.killed_at.expect("kill_primary ran first");
        self.wait("the sentinels to promote the replica", timeout, |set| {
            let named = set
                .sentinel_ports
                .iter()
                .all(|&port| master_addr(port, &set.master_name) == Some(set.replica_port));
            let info: String = query(set.replica_port, redis::cmd("INFO").arg("replication"))?;
            (named && info_field(&info, "role")? == "master").then_some(())
        })
        .await;
        killed_at.elapsed().as_secs_f64()
    }

    /// The last lines each server printed, for failure messages.
    pub fn logs(&self) -> String {
        let mut logs = Vec::new();
        if let Some(primary) = &self.primary {
            logs.push(format!("--- primary\n{}", primary.tail()));
        }
        logs.push(format!("--- replica\n{}", self.replica.tail()));
        for (index, sentinel) in self.sentinels.iter().enumerate() {
            logs.push(format!("--- sentinel {}\n{}", index + 1, sentinel.tail()));
        }
        logs.join("\n")
    }

    /// Polls `check` until it gives a value; panics with the logs after `timeout`.
    async fn wait(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn(&SentinelSet) -> Option<()>,
    ) {
        let done = poll_every(INTERVAL, timeout, || check(self)).await;
        assert!(
            done.is_some(),
            "waited {timeout:?} for {what}:\n{}",
            self.logs()
        );
    }

    fn sentinel_config(&self, port: u16, dir: &Path) -> String {
        let name = &self.master_name;
        format!(
            "port {port}\n\
             bind 127.0.0.1\n\
             dir {dir}\n\
             sentinel monitor {name} 127.0.0.1 {primary} 2\n\
             sentinel down-after-milliseconds {name} 1000\n\
             sentinel failover-timeout {name} 5000\n\
             sentinel parallel-syncs {name} 1\n",
            dir = dir.display(),
            primary = self.primary_port,
        )
    }
}

/// A `redis-server` on `port` with its data (an append-only log) in `dir`, logging to stdout.
fn data_node(port: u16, dir: &Path) -> Command {
    std::fs::create_dir_all(dir).unwrap();
    let mut command = Command::new("redis-server");
    command
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .arg("--dir")
        .arg(dir)
        .args(["--appendonly", "yes", "--save", ""])
        // A replica's first sync starts at once, not after the default five-second wait for
        // more replicas to share the transfer.
        .args(["--repl-diskless-sync-delay", "0"]);
    command
}

fn node_url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}/0")
}

/// The primary's port as the sentinel on `port` names it.
fn master_addr(port: u16, master_name: &str) -> Option<u16> {
    let (_host, primary): (String, u16) = query(
        port,
        redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(master_name),
    )?;
    Some(primary)
}

/// A field of a SENTINEL reply entry (a flat list of names and values).
fn field<'a>(entry: &'a [String], name: &str) -> Option<&'a str> {
    entry
        .chunks(2)
        .find(|pair| pair[0] == name)
        .and_then(|pair| pair.get(1))
        .map(String::as_str)
}
