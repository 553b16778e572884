//! `WorkerPool`: one per topic per process. It joins the topic's consumer group, starts `workers`
//! `TopicWorker`s under actix `Supervisor`s, reads only as many jobs as it has idle workers
//! (`XREADGROUP ... BLOCK` on its own connection), and claims jobs that any consumer left
//! unacknowledged longer than `claim_idle_ms` (`XAUTOCLAIM`) — those of a process that died.
//!
//! Order per sender: a job is handed to a worker only when it is its sender's oldest unfinished
//! job (the head of the sender's list in Redis), so one number's messages are answered in arrival
//! order across all processes, while different numbers run in parallel. Jobs waiting for their
//! turn are parked here; every held job is kept claimed (`XCLAIM` heartbeat) so that no other
//! process takes it meanwhile.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::store::connection::RedisConn;
use actix::{
    Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, ResponseFuture, Supervisor,
    WrapFuture,
};
use redis::streams::StreamId;
use tokio::sync::oneshot;

mod order;
pub(crate) mod stream;

use crate::actors::messages::{
    Drain, JobFinished, PoolReport, PoolState, ReportPool, RunJob, WorkerReady,
};
use crate::actors::worker::{TopicWorker, WorkerDeps};
use crate::domain::{Job, JOB_VERSION};
use crate::store::connection::loggable;
use crate::store::keys::Keys;
use stream as ops;

/// How long one blocking read waits for new jobs.
pub(crate) const READ_BLOCK: Duration = Duration::from_millis(2000);

/// Pause after a failed Redis call before trying again.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// How often parked jobs ask again whether it is their sender's turn.
const PARKED_POLL: Duration = Duration::from_millis(50);

/// Most jobs parked at once; reading pauses above it.
const MAX_PARKED: usize = 512;

/// Redis connections of a pool.
pub(crate) struct PoolConnections {
    /// Used only for the blocking read.
    pub reader: RedisConn,
    /// The process's shared connection, for everything else.
    pub shared: RedisConn,
}

struct Parked {
    job: RunJob,
    since: Instant,
}

/// A topic's pool of workers and its reader.
pub(crate) struct WorkerPool {
    deps: WorkerDeps,
    keys: Keys,
    conns: PoolConnections,
    claim_idle: Duration,
    workers: Vec<Addr<TopicWorker>>,
    idle: VecDeque<usize>,
    in_flight: Vec<Option<RunJob>>,
    ready: VecDeque<RunJob>,
    parked: Vec<Parked>,
    busy_senders: HashSet<String>,
    group_ready: bool,
    reading: bool,
    /// The last read (or join) of the queue failed.
    read_failing: bool,
    claiming: bool,
    checking: bool,
    recheck: bool,
    draining: bool,
    drained: Vec<oneshot::Sender<()>>,
}

impl WorkerPool {
    /// A pool of `size` workers.
    pub(crate) fn new(
        deps: WorkerDeps,
        keys: Keys,
        conns: PoolConnections,
        size: usize,
        claim_idle: Duration,
    ) -> Self {
        WorkerPool {
            deps,
            keys,
            conns,
            claim_idle,
            workers: Vec::new(),
            idle: VecDeque::new(),
            in_flight: vec![None; size],
            ready: VecDeque::new(),
            parked: Vec::new(),
            busy_senders: HashSet::new(),
            group_ready: false,
            reading: false,
            read_failing: false,
            claiming: false,
            checking: false,
            recheck: false,
            draining: false,
            drained: Vec::new(),
        }
    }

    fn topic(&self) -> String {
        self.deps.topic.name.clone()
    }

    fn stream(&self) -> String {
        self.keys.queue(&self.deps.topic.name)
    }

    fn ensure_group(&mut self, ctx: &mut Context<Self>) {
        let fut = ops::ensure_group(self.conns.shared.clone(), self.stream());
        ctx.spawn(fut.into_actor(self).map(|result, act, ctx| match result {
            Ok(()) => {
                act.group_ready = true;
                act.read_failing = false;
                act.fetch(ctx);
                act.claim(ctx);
            }
            Err(e) => {
                act.read_failing = true;
                log::warn!(
                    "Failed to join consumer group; retrying. topic={} error={e}",
                    act.topic()
                );
                ctx.run_later(RETRY_PAUSE, |act, ctx| act.ensure_group(ctx));
            }
        }));
    }

    /// Reads new jobs for the idle workers, unless a read is under way or jobs are waiting.
    fn fetch(&mut self, ctx: &mut Context<Self>) {
        let waiting = !self.ready.is_empty() || self.parked.len() >= MAX_PARKED;
        if !self.group_ready || self.reading || self.draining || self.idle.is_empty() || waiting {
            return;
        }
        self.reading = true;
        let consumer = self.deps.consumer.clone();
        let fut = ops::read_new(
            self.conns.reader.clone(),
            self.stream(),
            consumer,
            self.idle.len(),
            READ_BLOCK,
        );
        ctx.spawn(fut.into_actor(self).map(|result, act, ctx| {
            act.reading = false;
            act.read_failing = result.is_err();
            match result {
                Ok(entries) => {
                    act.accept(entries, false, ctx);
                    act.fetch(ctx);
                }
                Err(e) if e.code() == Some("NOGROUP") => {
                    // The stream or group was deleted under us: join again.
                    act.group_ready = false;
                    act.ensure_group(ctx);
                }
                Err(e) => {
                    log::warn!(
                        "Failed to read jobs; retrying. topic={} error={}",
                        act.topic(),
                        loggable(&e)
                    );
                    ctx.run_later(RETRY_PAUSE, |act, ctx| act.fetch(ctx));
                }
            }
        }));
    }

    /// Claims jobs other consumers (or a crashed earlier run) left idle too long.
    fn claim(&mut self, ctx: &mut Context<Self>) {
        if !self.group_ready || self.claiming || self.draining || self.idle.is_empty() {
            return;
        }
        self.claiming = true;
        let (consumer, count) = (self.deps.consumer.clone(), self.idle.len());
        let fut = ops::claim_abandoned(
            self.conns.shared.clone(),
            self.stream(),
            consumer,
            self.claim_idle,
            count,
        );
        ctx.spawn(fut.into_actor(self).map(|result, act, ctx| {
            act.claiming = false;
            match result {
                Ok(claimed) if !claimed.is_empty() => {
                    log::info!(
                        "Claimed jobs left unacknowledged. topic={} count={}",
                        act.topic(),
                        claimed.len()
                    );
                    act.accept(claimed, true, ctx);
                }
                Ok(_) => {}
                Err(e) => log::warn!(
                    "Failed to claim idle jobs. topic={} error={}",
                    act.topic(),
                    loggable(&e)
                ),
            }
        }));
    }

    /// Keeps every held job claimed by this consumer.
    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        let held: Vec<String> = self.held().map(|job| job.entry_id.clone()).collect();
        if held.is_empty() {
            return;
        }
        let fut = ops::keep_claimed(
            self.conns.shared.clone(),
            self.stream(),
            self.deps.consumer.clone(),
            held,
        );
        ctx.spawn(fut.into_actor(self).map(|result, act, _| {
            if let Err(e) = result {
                log::warn!(
                    "Failed to keep jobs claimed. topic={} error={e}",
                    act.topic()
                );
            }
        }));
    }

    /// Every job this pool holds: running, ready, or parked.
    fn held(&self) -> impl Iterator<Item = &RunJob> {
        self.in_flight
            .iter()
            .flatten()
            .chain(self.ready.iter())
            .chain(self.parked.iter().map(|p| &p.job))
    }

    fn holds(&self, id: &str) -> bool {
        self.held().any(|j| j.entry_id == id)
    }

    /// Parks read or claimed entries until it is their sender's turn.
    fn accept(&mut self, entries: Vec<StreamId>, redelivered: bool, ctx: &mut Context<Self>) {
        for entry in entries {
            if self.holds(&entry.id) {
                continue;
            }
            match decode(&entry) {
                Ok(job) => self.parked.push(Parked {
                    job: RunJob {
                        entry_id: entry.id,
                        job,
                        redelivered,
                    },
                    since: Instant::now(),
                }),
                Err(e) => log::error!(
                    "Unreadable job left in the queue for inspection. topic={} job_id={} error={e}",
                    self.topic(),
                    entry.id
                ),
            }
        }
        self.check_parked(ctx);
    }

    fn dispatch(&mut self) {
        while !self.draining && !self.ready.is_empty() {
            let Some(worker) = self.idle.pop_front() else {
                return;
            };
            let Some(job) = self.ready.pop_front() else {
                return;
            };
            self.in_flight[worker] = Some(job.clone());
            self.workers[worker].do_send(job);
        }
    }

    fn mark_idle(&mut self, worker: usize, restarted: bool, ctx: &mut Context<Self>) {
        if let Some(mut job) = self.in_flight[worker].take() {
            if restarted {
                // The handler panicked: hand the job out again (its attempt is recorded).
                job.redelivered = true;
                self.ready.push_front(job);
            } else {
                self.busy_senders.remove(job.job.message.number.as_str());
            }
        }
        if !self.idle.contains(&worker) {
            self.idle.push_back(worker);
        }
        self.dispatch();
        self.check_parked(ctx);
        self.fetch(ctx);
        if self.draining && self.in_flight.iter().all(Option::is_none) {
            for done in self.drained.drain(..) {
                let _ = done.send(());
            }
        }
    }
}

fn decode(entry: &StreamId) -> Result<Job, String> {
    let raw: String = entry
        .get("job")
        .ok_or_else(|| "entry has no `job` field".to_string())?;
    let job: Job = serde_json::from_str(&raw).map_err(|e| e.to_string())?;
    if job.v > JOB_VERSION {
        return Err(format!(
            "job version {} is newer than this build reads ({JOB_VERSION}); a newer pyrowire handles it",
            job.v
        ));
    }
    Ok(job)
}

impl Actor for WorkerPool {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let pool = ctx.address();
        for index in 0..self.in_flight.len() {
            let deps = self.deps.clone();
            let (ready, finished) = (pool.clone().recipient(), pool.clone().recipient());
            let worker = Supervisor::start(move |_| TopicWorker::new(index, deps, ready, finished));
            self.workers.push(worker);
        }
        log::info!(
            "Worker pool started. topic={} workers={} consumer={}",
            self.topic(),
            self.in_flight.len(),
            self.deps.consumer
        );
        self.ensure_group(ctx);
        let claim_every = (self.claim_idle / 2).max(Duration::from_millis(100));
        ctx.run_interval(claim_every, |act, ctx| act.claim(ctx));
        let heartbeat_every = (self.claim_idle / 3).max(Duration::from_millis(50));
        ctx.run_interval(heartbeat_every, |act, ctx| act.heartbeat(ctx));
        let prune = ops::prune_consumers(self.conns.shared.clone(), self.stream());
        ctx.spawn(prune.into_actor(self).map(|result, act, _| {
            if let Err(e) = result {
                log::debug!(
                    "Failed to prune old consumers. topic={} error={e}",
                    act.topic()
                );
            }
        }));
    }
}

impl Handler<WorkerReady> for WorkerPool {
    type Result = ();

    fn handle(&mut self, msg: WorkerReady, ctx: &mut Self::Context) {
        self.mark_idle(msg.worker, true, ctx);
    }
}

impl Handler<JobFinished> for WorkerPool {
    type Result = ();

    fn handle(&mut self, msg: JobFinished, ctx: &mut Self::Context) {
        self.mark_idle(msg.worker, false, ctx);
    }
}

impl Handler<ReportPool> for WorkerPool {
    type Result = actix::MessageResult<ReportPool>;

    fn handle(&mut self, _: ReportPool, _: &mut Self::Context) -> Self::Result {
        let state = if self.draining {
            PoolState::Draining
        } else if self.read_failing {
            PoolState::Retrying
        } else if !self.group_ready {
            PoolState::Starting
        } else {
            PoolState::Reading
        };
        actix::MessageResult(PoolReport {
            topic: self.topic(),
            state,
        })
    }
}

impl Handler<Drain> for WorkerPool {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Drain, _: &mut Self::Context) -> Self::Result {
        self.draining = true;
        let in_flight = self.in_flight.iter().flatten().count();
        log::info!(
            "Draining worker pool. topic={} in_flight={in_flight}",
            self.topic()
        );
        if in_flight == 0 {
            return Box::pin(async {});
        }
        let (done, wait) = oneshot::channel();
        self.drained.push(done);
        Box::pin(async move {
            let _ = wait.await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(job: &str) -> StreamId {
        let mut map = std::collections::HashMap::new();
        map.insert(
            "job".to_string(),
            redis::Value::BulkString(job.as_bytes().to_vec()),
        );
        StreamId {
            id: "1-0".into(),
            map,
        }
    }

    #[test]
    fn a_job_of_a_newer_version_is_left_for_a_newer_build() {
        let message = r#"{"message":"hi","number":"+1555","sid":"SM1","topic":"t","from_city":null,
            "from_state":null,"from_country":null,"from_zip":null,"to_city":null,"to_state":null,
            "to_country":null,"to_zip":null,"media":{"count":0,"media":{}},"reply":null,
            "received_at":0}"#;
        for v in [1, JOB_VERSION] {
            let job = decode(&entry(&format!(r#"{{"v":{v},"message":{message}}}"#))).unwrap();
            assert_eq!(job.v, v);
        }
        let newer = format!(r#"{{"v":{},"message":{message}}}"#, JOB_VERSION + 1);
        let error = decode(&entry(&newer)).unwrap_err();
        assert!(error.contains("newer than this build"), "{error}");
    }
}
