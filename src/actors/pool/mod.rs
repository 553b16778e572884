//! `WorkerPool`: one per topic per process. It joins the topic's consumer group, starts `workers`
//! `TopicWorker`s under actix `Supervisor`s, reads only as many jobs as it has idle workers
//! (`XREADGROUP ... BLOCK` on its own connection), and claims jobs that any consumer left
//! unacknowledged longer than `claim_idle_ms` (`XAUTOCLAIM`) — those of a process that died.
//!
//! Two lanes: the interactive queue (replies, texts sent first as `interactive`) and the bulk
//! queue, each read on its own connection. Interactive jobs are handed out first; bulk jobs
//! never hold more than all workers but one (see [`bulk_cap`]), so a reply always finds a worker
//! free, and a bulk send takes the topic's pace only when no reply waits for it (see
//! `claim_send.lua`).
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
use crate::domain::{Job, Lane, JOB_VERSION};
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

/// The lanes, interactive first.
const LANES: [Lane; 2] = [Lane::Interactive, Lane::Bulk];

/// Most bulk jobs a pool of `workers` holds at once: all its workers but one (one, for a pool of
/// one), so a reply never waits for a broadcast to free a worker.
pub(crate) fn bulk_cap(workers: usize) -> usize {
    workers.saturating_sub(1).max(1)
}

/// Redis connections of a pool.
pub(crate) struct PoolConnections {
    /// Used only for the blocking read of the interactive queue.
    pub reader: RedisConn,
    /// Used only for the blocking read of the bulk queue.
    pub bulk_reader: RedisConn,
    /// The process's shared connection, for everything else.
    pub shared: RedisConn,
}

impl PoolConnections {
    fn reader(&self, lane: Lane) -> RedisConn {
        match lane {
            Lane::Interactive => self.reader.clone(),
            Lane::Bulk => self.bulk_reader.clone(),
        }
    }
}

struct Parked {
    job: RunJob,
    since: Instant,
}

/// What a pool is doing with one lane's stream.
#[derive(Debug, Default, Clone, Copy)]
struct LaneState {
    group_ready: bool,
    reading: bool,
    /// The last read (or join) of the lane's queue failed.
    read_failing: bool,
    claiming: bool,
}

/// A topic's pool of workers and its readers.
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
    /// Senders with a job running here, per lane (see [`slot`]).
    busy_senders: [HashSet<String>; 2],
    lanes: [LaneState; 2],
    checking: bool,
    recheck: bool,
    draining: bool,
    drained: Vec<oneshot::Sender<()>>,
}

fn slot(lane: Lane) -> usize {
    match lane {
        Lane::Interactive => 0,
        Lane::Bulk => 1,
    }
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
            busy_senders: Default::default(),
            lanes: [LaneState::default(); 2],
            checking: false,
            recheck: false,
            draining: false,
            drained: Vec::new(),
        }
    }

    fn topic(&self) -> String {
        self.deps.topic.name.clone()
    }

    fn stream(&self, lane: Lane) -> String {
        self.keys.lane_queue(&self.deps.topic.name, lane)
    }

    /// Whether a job of `number` in `lane` runs here now.
    fn sender_busy(&self, lane: Lane, number: &str) -> bool {
        self.busy_senders[slot(lane)].contains(number)
    }

    fn lane(&mut self, lane: Lane) -> &mut LaneState {
        &mut self.lanes[slot(lane)]
    }

    fn ensure_group(&mut self, lane: Lane, ctx: &mut Context<Self>) {
        let fut = ops::ensure_group(self.conns.shared.clone(), self.stream(lane));
        ctx.spawn(
            fut.into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok(()) => {
                        let state = act.lane(lane);
                        state.group_ready = true;
                        state.read_failing = false;
                        act.fetch(lane, ctx);
                        act.claim(lane, ctx);
                    }
                    Err(e) => {
                        act.lane(lane).read_failing = true;
                        log::warn!(
                            "Failed to join consumer group; retrying. topic={} lane={} error={e}",
                            act.topic(),
                            lane.as_str()
                        );
                        ctx.run_later(RETRY_PAUSE, move |act, ctx| act.ensure_group(lane, ctx));
                    }
                }),
        );
    }

    /// How many more bulk jobs this pool may hold (running, ready or parked) under
    /// [`bulk_cap`].
    fn bulk_room(&self) -> usize {
        let held = self.held().filter(|job| job.lane.is_bulk()).count();
        bulk_cap(self.in_flight.len()).saturating_sub(held)
    }

    /// How many jobs of `lane` to read now (0: none).
    fn wanted(&self, lane: Lane) -> usize {
        if self.draining || self.parked.len() >= MAX_PARKED {
            return 0;
        }
        match lane {
            Lane::Interactive => {
                let waiting = self.ready.iter().any(|job| !job.lane.is_bulk());
                if waiting {
                    0
                } else {
                    self.idle.len()
                }
            }
            Lane::Bulk => self.bulk_room(),
        }
    }

    /// Reads new jobs of `lane` for the idle workers (bulk: up to its cap), unless a read is
    /// under way or jobs are waiting.
    fn fetch(&mut self, lane: Lane, ctx: &mut Context<Self>) {
        let state = self.lanes[slot(lane)];
        if !state.group_ready || state.reading {
            return;
        }
        let count = self.wanted(lane);
        if count == 0 {
            return;
        }
        self.lane(lane).reading = true;
        let consumer = self.deps.consumer.clone();
        let fut = ops::read_new(
            self.conns.reader(lane),
            self.stream(lane),
            consumer,
            count,
            READ_BLOCK,
        );
        ctx.spawn(fut.into_actor(self).map(move |result, act, ctx| {
            let state = act.lane(lane);
            state.reading = false;
            state.read_failing = result.is_err();
            match result {
                Ok(entries) => {
                    act.accept(entries, lane, false, ctx);
                    act.fetch(lane, ctx);
                }
                Err(e) if e.code() == Some("NOGROUP") => {
                    // The stream or group was deleted under us: join again.
                    act.lane(lane).group_ready = false;
                    act.ensure_group(lane, ctx);
                }
                Err(e) => {
                    log::warn!(
                        "Failed to read jobs; retrying. topic={} lane={} error={}",
                        act.topic(),
                        lane.as_str(),
                        loggable(&e)
                    );
                    ctx.run_later(RETRY_PAUSE, move |act, ctx| act.fetch(lane, ctx));
                }
            }
        }));
    }

    /// Reads both lanes, as far as each has room.
    fn fetch_all(&mut self, ctx: &mut Context<Self>) {
        for lane in LANES {
            self.fetch(lane, ctx);
        }
    }

    /// Claims jobs of `lane` other consumers (or a crashed earlier run) left idle too long.
    fn claim(&mut self, lane: Lane, ctx: &mut Context<Self>) {
        let state = self.lanes[slot(lane)];
        if !state.group_ready || state.claiming || self.draining {
            return;
        }
        let count = match lane {
            Lane::Interactive => self.idle.len(),
            Lane::Bulk => self.bulk_room(),
        };
        if count == 0 {
            return;
        }
        self.lane(lane).claiming = true;
        let consumer = self.deps.consumer.clone();
        let fut = ops::claim_abandoned(
            self.conns.shared.clone(),
            self.stream(lane),
            consumer,
            self.claim_idle,
            count,
        );
        ctx.spawn(fut.into_actor(self).map(move |result, act, ctx| {
            act.lane(lane).claiming = false;
            match result {
                Ok(claimed) if !claimed.is_empty() => {
                    log::info!(
                        "Claimed jobs left unacknowledged. topic={} lane={} count={}",
                        act.topic(),
                        lane.as_str(),
                        claimed.len()
                    );
                    act.accept(claimed, lane, true, ctx);
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
        for lane in LANES {
            let held: Vec<String> = self
                .held()
                .filter(|job| job.lane == lane)
                .map(|job| job.entry_id.clone())
                .collect();
            if held.is_empty() {
                continue;
            }
            let fut = ops::keep_claimed(
                self.conns.shared.clone(),
                self.stream(lane),
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
    }

    /// Every job this pool holds: running, ready, or parked.
    fn held(&self) -> impl Iterator<Item = &RunJob> {
        self.in_flight
            .iter()
            .flatten()
            .chain(self.ready.iter())
            .chain(self.parked.iter().map(|p| &p.job))
    }

    fn holds(&self, id: &str, lane: Lane) -> bool {
        self.held().any(|j| j.entry_id == id && j.lane == lane)
    }

    /// Parks read or claimed entries of `lane` until it is their sender's turn.
    fn accept(
        &mut self,
        entries: Vec<StreamId>,
        lane: Lane,
        redelivered: bool,
        ctx: &mut Context<Self>,
    ) {
        for entry in entries {
            if self.holds(&entry.id, lane) {
                continue;
            }
            match decode(&entry) {
                Ok(job) => self.parked.push(Parked {
                    job: RunJob {
                        entry_id: entry.id,
                        job,
                        redelivered,
                        lane,
                    },
                    since: Instant::now(),
                }),
                Err(e) => log::error!(
                    "Unreadable job left in the queue for inspection. topic={} lane={} job_id={} error={e}",
                    self.topic(),
                    lane.as_str(),
                    entry.id
                ),
            }
        }
        self.check_parked(ctx);
    }

    /// The next ready job to hand out: the first interactive one, else the first bulk one while
    /// bulk jobs run on fewer than [`bulk_cap`] workers.
    fn next_ready(&mut self) -> Option<RunJob> {
        if let Some(at) = self.ready.iter().position(|job| !job.lane.is_bulk()) {
            return self.ready.remove(at);
        }
        let bulk_running = self.in_flight.iter().flatten().filter(|j| j.lane.is_bulk());
        if bulk_running.count() >= bulk_cap(self.in_flight.len()) {
            return None;
        }
        self.ready.pop_front()
    }

    fn dispatch(&mut self) {
        while !self.draining && !self.ready.is_empty() && !self.idle.is_empty() {
            let Some(job) = self.next_ready() else {
                return;
            };
            let Some(worker) = self.idle.pop_front() else {
                self.ready.push_front(job);
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
                self.busy_senders[slot(job.lane)].remove(job.job.message.number.as_str());
            }
        }
        if !self.idle.contains(&worker) {
            self.idle.push_back(worker);
        }
        self.dispatch();
        self.check_parked(ctx);
        self.fetch_all(ctx);
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
        for lane in LANES {
            self.ensure_group(lane, ctx);
        }
        let claim_every = (self.claim_idle / 2).max(Duration::from_millis(100));
        ctx.run_interval(claim_every, |act, ctx| {
            for lane in LANES {
                act.claim(lane, ctx);
            }
        });
        let heartbeat_every = (self.claim_idle / 3).max(Duration::from_millis(50));
        ctx.run_interval(heartbeat_every, |act, ctx| act.heartbeat(ctx));
        for lane in LANES {
            let prune = ops::prune_consumers(self.conns.shared.clone(), self.stream(lane));
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
        } else if self.lanes.iter().any(|lane| lane.read_failing) {
            PoolState::Retrying
        } else if self.lanes.iter().any(|lane| !lane.group_ready) {
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
