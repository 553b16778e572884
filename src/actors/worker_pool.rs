//! `WorkerPool`: one per topic per process. It joins the topic's consumer group, starts `workers`
//! `TopicWorker`s under actix `Supervisor`s, reads only as many jobs as it has idle workers
//! (`XREADGROUP ... BLOCK` on its own connection), and periodically claims jobs that another
//! consumer took but left unacknowledged longer than `claim_idle_ms` (`XAUTOCLAIM`).

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use actix::{Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, Supervisor, WrapFuture};
use redis::aio::ConnectionManager;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadOptions, StreamReadReply,
};
use redis::AsyncCommands;

use crate::actors::topic_worker::{TopicWorker, WorkerDeps};
use crate::domain::Job;
use crate::messages::{JobFinished, RunJob, WorkerReady};
use crate::redis_keys::{Keys, GROUP};

/// How long one blocking read waits for new jobs.
pub const READ_BLOCK: Duration = Duration::from_millis(2000);

/// Pause after a failed Redis call before trying again.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// A topic's pool of workers and its reader.
pub struct WorkerPool {
    deps: WorkerDeps,
    keys: Keys,
    conn: ConnectionManager,
    size: usize,
    claim_idle: Duration,
    workers: Vec<Addr<TopicWorker>>,
    idle: VecDeque<usize>,
    in_flight: Vec<Option<String>>,
    backlog: VecDeque<RunJob>,
    group_ready: bool,
    reading: bool,
    claiming: bool,
}

impl WorkerPool {
    /// A pool of `size` workers; `conn` is used for blocking reads only.
    pub fn new(
        deps: WorkerDeps,
        keys: Keys,
        conn: ConnectionManager,
        size: usize,
        claim_idle: Duration,
    ) -> Self {
        WorkerPool {
            deps,
            keys,
            conn,
            size,
            claim_idle,
            workers: Vec::new(),
            idle: VecDeque::new(),
            in_flight: vec![None; size],
            backlog: VecDeque::new(),
            group_ready: false,
            reading: false,
            claiming: false,
        }
    }

    fn topic(&self) -> &str {
        &self.deps.topic.name
    }

    fn ensure_group(&mut self, ctx: &mut Context<Self>) {
        let mut conn = self.conn.clone();
        let stream = self.keys.queue(self.topic());
        let fut = async move {
            let created: redis::RedisResult<()> =
                conn.xgroup_create_mkstream(&stream, GROUP, "0").await;
            match created {
                Err(e) if e.code() != Some("BUSYGROUP") => Err(e),
                _ => Ok(()),
            }
        };
        ctx.spawn(fut.into_actor(self).map(|result, act, ctx| match result {
            Ok(()) => {
                act.group_ready = true;
                act.fetch(ctx);
            }
            Err(e) => {
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
        if !self.group_ready || self.reading || self.idle.is_empty() || !self.backlog.is_empty() {
            return;
        }
        self.reading = true;
        let options = StreamReadOptions::default()
            .group(GROUP, &self.deps.consumer)
            .count(self.idle.len())
            .block(READ_BLOCK.as_millis() as usize);
        let stream = self.keys.queue(self.topic());
        let mut conn = self.conn.clone();
        let fut = async move {
            conn.xread_options::<_, _, Option<StreamReadReply>>(&[&stream], &[">"], &options)
                .await
        };
        ctx.spawn(fut.into_actor(self).map(|result, act, ctx| {
            act.reading = false;
            match result {
                Ok(reply) => {
                    let entries = reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids);
                    act.accept(entries.collect());
                    act.fetch(ctx);
                }
                Err(e) => act.read_failed(e, ctx),
            }
        }));
    }

    fn read_failed(&mut self, error: redis::RedisError, ctx: &mut Context<Self>) {
        if error.code() == Some("NOGROUP") {
            // The stream or group was deleted under us: join again.
            self.group_ready = false;
            self.ensure_group(ctx);
            return;
        }
        log::warn!(
            "Failed to read jobs; retrying. topic={} error={error}",
            self.topic()
        );
        ctx.run_later(RETRY_PAUSE, |act, ctx| act.fetch(ctx));
    }

    /// Claims jobs other consumers (or a crashed earlier run) left idle too long.
    fn claim(&mut self, ctx: &mut Context<Self>) {
        if !self.group_ready || self.claiming || self.idle.is_empty() {
            return;
        }
        self.claiming = true;
        let options = StreamAutoClaimOptions::default().count(self.idle.len());
        let stream = self.keys.queue(self.topic());
        let consumer = self.deps.consumer.clone();
        let min_idle = self.claim_idle.as_millis() as usize;
        let mut conn = self.conn.clone();
        let fut = async move {
            conn.xautoclaim_options::<_, _, _, _, _, StreamAutoClaimReply>(
                &stream, GROUP, &consumer, min_idle, "0-0", options,
            )
            .await
        };
        ctx.spawn(fut.into_actor(self).map(|result, act, ctx| {
            act.claiming = false;
            match result {
                Ok(reply) => {
                    if !reply.claimed.is_empty() {
                        log::info!(
                            "Claimed jobs left unacknowledged. topic={} count={}",
                            act.topic(),
                            reply.claimed.len()
                        );
                    }
                    act.accept(reply.claimed);
                }
                Err(e) => log::warn!("Failed to claim idle jobs. topic={} error={e}", act.topic()),
            }
            act.fetch(ctx);
        }));
    }

    /// Queues read or claimed entries locally and hands them to idle workers.
    fn accept(&mut self, entries: Vec<StreamId>) {
        let busy: HashSet<&String> = self.in_flight.iter().flatten().collect();
        let fresh: Vec<StreamId> = entries
            .into_iter()
            .filter(|e| !busy.contains(&e.id) && !self.backlog.iter().any(|b| b.entry_id == e.id))
            .collect();
        for entry in fresh {
            match decode(&entry) {
                Ok(job) => self.backlog.push_back(RunJob {
                    entry_id: entry.id,
                    job,
                }),
                Err(e) => log::error!(
                    "Unreadable job left in the queue for inspection. topic={} job_id={} error={e}",
                    self.topic(),
                    entry.id
                ),
            }
        }
        self.dispatch();
    }

    fn dispatch(&mut self) {
        while !self.backlog.is_empty() {
            let Some(worker) = self.idle.pop_front() else {
                return;
            };
            let Some(job) = self.backlog.pop_front() else {
                return;
            };
            self.in_flight[worker] = Some(job.entry_id.clone());
            self.workers[worker].do_send(job);
        }
    }

    fn mark_idle(&mut self, worker: usize, ctx: &mut Context<Self>) {
        self.in_flight[worker] = None;
        if !self.idle.contains(&worker) {
            self.idle.push_back(worker);
        }
        self.dispatch();
        self.fetch(ctx);
    }
}

fn decode(entry: &StreamId) -> Result<Job, String> {
    let raw: String = entry
        .get("job")
        .ok_or_else(|| "entry has no `job` field".to_string())?;
    serde_json::from_str(&raw).map_err(|e| e.to_string())
}

impl Actor for WorkerPool {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let pool = ctx.address();
        for index in 0..self.size {
            let deps = self.deps.clone();
            let (ready, finished) = (pool.clone().recipient(), pool.clone().recipient());
            let worker = Supervisor::start(move |_| TopicWorker::new(index, deps, ready, finished));
            self.workers.push(worker);
        }
        log::info!(
            "Worker pool started. topic={} workers={} consumer={}",
            self.topic(),
            self.size,
            self.deps.consumer
        );
        self.ensure_group(ctx);
        let every = (self.claim_idle / 2).max(Duration::from_millis(100));
        ctx.run_interval(every, |act, ctx| act.claim(ctx));
    }
}

impl Handler<WorkerReady> for WorkerPool {
    type Result = ();

    fn handle(&mut self, msg: WorkerReady, ctx: &mut Self::Context) {
        self.mark_idle(msg.worker, ctx);
    }
}

impl Handler<JobFinished> for WorkerPool {
    type Result = ();

    fn handle(&mut self, msg: JobFinished, ctx: &mut Self::Context) {
        self.mark_idle(msg.worker, ctx);
    }
}
