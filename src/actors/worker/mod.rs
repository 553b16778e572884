//! `TopicWorker`: handles one job at a time for its topic. An attempt sends the accept text when
//! the topic asks for it, runs the handler and sends the reply (each send at most once, see
//! [`crate::outbound::send_once`]). A failed attempt is recorded durably and retried after an exponential,
//! jittered backoff (or Twilio's Retry-After), holding the job meanwhile so no other worker takes
//! it; after the last attempt, or at once on a permanent Twilio error, the job is dead-lettered.
//! A panicking handler stops only this actor: the attempt is recorded, the `WorkerPool`'s
//! supervisor restarts the actor and the pool hands the job out again.

use std::time::Duration;

use actix::{
    Actor, ActorContext, ActorFutureExt, Context, Handler, Recipient, ResponseActFuture,
    Supervised, WrapFuture,
};

mod attempt;
mod deps;
mod end;

use deps::End;
pub use deps::WorkerDeps;

use crate::actors::messages::{JobFinished, RunJob, SessionWrite, WorkerReady};
use crate::domain::now_ms;
use crate::domain::record::{Outcome, Timings};
use attempt::attempt;
use end::{
    count_completed, count_outbound, dead_letter, finish, load_attempts, record, save_attempt,
    Ending,
};

/// One worker of a topic's pool.
pub struct TopicWorker {
    index: usize,
    deps: WorkerDeps,
    ready: Recipient<WorkerReady>,
    finished: Recipient<JobFinished>,
}

impl TopicWorker {
    /// Worker number `index` of its pool, reporting to the pool's recipients.
    pub fn new(
        index: usize,
        deps: WorkerDeps,
        ready: Recipient<WorkerReady>,
        finished: Recipient<JobFinished>,
    ) -> Self {
        TopicWorker {
            index,
            deps,
            ready,
            finished,
        }
    }
}

impl Actor for TopicWorker {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Self::Context) {
        self.ready.do_send(WorkerReady { worker: self.index });
    }
}

impl Supervised for TopicWorker {
    fn restarting(&mut self, _: &mut Self::Context) {
        log::warn!(
            "Worker restarted after a handler panic. topic={} worker={}",
            self.deps.topic.name,
            self.index
        );
        self.ready.do_send(WorkerReady { worker: self.index });
    }
}

impl Handler<RunJob> for TopicWorker {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, job: RunJob, _: &mut Self::Context) -> Self::Result {
        let deps = self.deps.clone();
        Box::pin(
            process(deps, job)
                .into_actor(self)
                .map(|end, act, ctx| match end {
                    // Stopping hands the actor to its supervisor, which restarts it; the pool still
                    // holds the job and hands it out again.
                    End::Panicked => ctx.stop(),
                    End::Done => act.finished.do_send(JobFinished { worker: act.index }),
                }),
        )
    }
}

/// How long a worker waits before trying again when Redis could not mark a send: at first this,
/// then as long as it has waited so far (so the handler re-runs ever less often), up to the max.
const UNAVAILABLE_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);
const UNAVAILABLE_PAUSE_MAX: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs one job to its record, retrying as the topic's retry settings say.
async fn process(deps: WorkerDeps, run: RunJob) -> End {
    let retry = deps.topic.settings.retry.clone();
    let mut attempts = if run.redelivered {
        load_attempts(&deps, &run.job.message).await
    } else {
        Vec::new()
    };
    let started_at = now_ms();
    let mut retry_after = None;
    // Since when Redis has kept the send from being marked (such tries do not count).
    let mut unavailable_since: Option<std::time::Instant> = None;
    loop {
        if attempts.len() >= retry.max_attempts as usize {
            return dead_letter(&deps, run, attempts, started_at).await;
        }
        if !attempts.is_empty() {
            let wait = backoff(&retry, attempts.len() as u32).max(retry_after.unwrap_or_default());
            actix_rt::time::sleep(wait).await;
        }
        match attempt(&deps, &run.job).await {
            Ok(handled) => {
                let timings = Timings {
                    received_at: run.job.message.received_at,
                    started_at,
                    handled_at: handled.handled_at,
                    finished_at: now_ms(),
                };
                count_completed(&deps, &handled.sent, &timings);
                count_outbound(&deps, &run.job, &handled.sent);
                let session = handled.session.map(|save| SessionWrite {
                    number: run.job.message.number.clone(),
                    save,
                    ttl_s: deps.topic.settings.session_ttl_s,
                });
                let record = record(
                    &deps,
                    &run,
                    Outcome::Completed,
                    handled.reply,
                    handled.sent,
                    attempts,
                    timings,
                );
                finish(&deps, run.entry_id, record, Ending::Completed(session)).await;
                return End::Done;
            }
            Err(failure) if failure.unavailable => {
                let first = unavailable_since.is_none();
                let since = *unavailable_since.get_or_insert_with(std::time::Instant::now);
                // Well before another process may claim the job (idle for `claim_idle_ms`; the
                // heartbeat that keeps it claimed fails while Redis does).
                if since.elapsed() >= deps.record_patience / 3 {
                    // Leave the job pending: it is claimed again once Redis is back.
                    log::warn!(
                        "Redis kept the send from being marked for too long; the job stays queued. topic={} sid={} error={}",
                        deps.topic.name,
                        run.job.message.sid,
                        failure.reason
                    );
                    return End::Done;
                }
                if first {
                    log::warn!(
                        "Send not marked, Redis unavailable; trying again (not counted as an attempt). topic={} sid={} error={}",
                        deps.topic.name,
                        run.job.message.sid,
                        failure.reason
                    );
                }
                let waited = since.elapsed().min(UNAVAILABLE_PAUSE_MAX);
                actix_rt::time::sleep(waited.max(UNAVAILABLE_PAUSE)).await;
            }
            Err(failure) => {
                unavailable_since = None;
                log::warn!(
                    "Attempt failed. topic={} sid={} attempt={} error={}",
                    deps.topic.name,
                    run.job.message.sid,
                    attempts.len() + 1,
                    failure.reason
                );
                deps.metrics
                    .failed
                    .with_label_values(&[&deps.topic.name])
                    .inc();
                attempts.push(failure.reason.clone());
                save_attempt(&deps, &run.job.message, failure.reason).await;
                if failure.panicked {
                    return End::Panicked;
                }
                if failure.permanent {
                    return dead_letter(&deps, run, attempts, started_at).await;
                }
                retry_after = failure.retry_after;
            }
        }
    }
}

/// `backoff_initial_ms * 2^(n-1)`, capped at `backoff_max_ms`, with full jitter over the upper
/// half so that many failing jobs do not retry in lockstep.
fn backoff(retry: &crate::settings::RetrySettings, failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(30);
    let base = retry
        .backoff_initial_ms
        .saturating_mul(1u64 << exponent)
        .min(retry.backoff_max_ms);
    let jittered = base / 2 + rand::random_range(0..=base / 2);
    Duration::from_millis(jittered)
}
