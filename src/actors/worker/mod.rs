//! `TopicWorker`: handles one job at a time for its topic. An attempt sends the accept text when
//! the topic asks for it, runs the handler and sends the reply (each send at most once, see
//! [`crate::outbound::send_once`]). A failed attempt is recorded durably and retried after an exponential,
//! jittered backoff (or Twilio's Retry-After), holding the job meanwhile so no other worker takes
//! it; after the last attempt, or at once on a permanent Twilio error, the job is dead-lettered.
//! A panicking handler stops only this actor: the attempt is recorded, the `WorkerPool`'s
//! supervisor restarts the actor and the pool hands the job out again.

use std::rc::Rc;

use actix::{
    Actor, ActorContext, ActorFutureExt, Context, Handler, Recipient, ResponseActFuture,
    Supervised, WrapFuture,
};

mod attempt;
mod deps;
mod end;
mod failure;
mod tries;

use deps::End;
pub(crate) use deps::WorkerDeps;

use crate::actors::messages::{JobFinished, RunJob, WorkerReady};
use attempt::attempt;
use end::{complete, dead_letter};
use failure::Verdict;
use tries::Tries;

/// One worker of a topic's pool.
pub(crate) struct TopicWorker {
    index: usize,
    /// Shared by its jobs' futures: a job takes it with one reference count, not a copy.
    deps: Rc<WorkerDeps>,
    ready: Recipient<WorkerReady>,
    finished: Recipient<JobFinished>,
}

impl TopicWorker {
    /// Worker number `index` of its pool, reporting to the pool's recipients.
    pub(crate) fn new(
        index: usize,
        deps: WorkerDeps,
        ready: Recipient<WorkerReady>,
        finished: Recipient<JobFinished>,
    ) -> Self {
        TopicWorker {
            index,
            deps: Rc::new(deps),
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
        let deps = Rc::clone(&self.deps);
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

/// Runs one job to its record, retrying as the topic's retry settings say.
async fn process(deps: Rc<WorkerDeps>, run: RunJob) -> End {
    if let Some(until) = end::closed_window(&deps, &run) {
        return end::hold(&deps, run, until).await;
    }
    let retry = deps.topic.settings.retry.clone();
    let mut tries = Tries::of(&deps, &run).await;
    loop {
        if tries.exhausted(&retry) {
            return dead_letter(&deps, run, tries).await;
        }
        tries.wait_turn(&retry).await;
        let error = match attempt(&deps, &run.job, run.lane).await {
            Ok(handled) => return complete(&deps, run, handled, tries).await,
            Err(error) => error,
        };
        let verdict = error.verdict();
        if verdict == Verdict::WaitForRedis {
            if tries.wait_for_redis(&deps, &run, &error).await {
                continue;
            }
            // Left pending, to be claimed again once Redis is back.
            return End::Done;
        }
        let after = match verdict {
            Verdict::Retry { after } => after,
            _ => None,
        };
        tries.count(&deps, &run, &error, after).await;
        match verdict {
            Verdict::Panicked => return End::Panicked,
            Verdict::Permanent => return dead_letter(&deps, run, tries).await,
            _ => {}
        }
    }
}
