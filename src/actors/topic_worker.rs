//! `TopicWorker`: handles one job at a time for its topic: send the accept text when the topic
//! asks for it, run the handler, send the reply, then have the recorder write the outcome and
//! acknowledge the job. A panicking handler stops only this actor; its `WorkerPool`'s supervisor
//! restarts it, and the job, still pending in Redis, is claimed again later.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use actix::{
    Actor, ActorContext, ActorFutureExt, Addr, Context, Handler, Recipient, ResponseActFuture,
    Supervised, WrapFuture,
};
use futures_util::FutureExt;

use crate::actors::recorder::Recorder;
use crate::actors::twilio_sender::TwilioSender;
use crate::domain::{now_ms, InboundMessage, Reply};
use crate::messages::{JobFinished, RecordOutcome, RunJob, SendSms, WorkerReady};
use crate::record::{Outcome, Record, SentSms, Timings};
use crate::topics::Topic;
use crate::twilio::OutboundSms;

/// What a worker needs besides its job; cloned into each job's future.
#[derive(Clone)]
pub struct WorkerDeps {
    /// The topic worked.
    pub topic: Arc<Topic>,
    /// Sends replies.
    pub sender: Addr<TwilioSender>,
    /// Records outcomes and acknowledges jobs.
    pub recorder: Addr<Recorder>,
    /// This process's consumer name in the topic's group.
    pub consumer: String,
}

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
        log::info!(
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
                .map(|panicked, act, ctx| {
                    if panicked {
                        // Stopping hands the actor to its supervisor, which restarts it.
                        ctx.stop();
                    } else {
                        act.finished.do_send(JobFinished { worker: act.index });
                    }
                }),
        )
    }
}

/// Runs one job to its record; returns whether the handler panicked.
async fn process(deps: WorkerDeps, run: RunJob) -> bool {
    let topic = &deps.topic;
    let message = run.job.message;
    let started_at = now_ms();
    let mut sent = Vec::new();
    let mut error = None;
    if let Some(text) = run.job.accept_sms.filter(|t| !t.is_empty()) {
        let accept = Reply::text(text);
        match send(&deps, "accept", &message, &accept).await {
            Ok(sms) => sent.push(sms),
            Err(e) => error = Some(format!("sending the accept text failed: {e}")),
        }
    }
    let handled = AssertUnwindSafe(topic.handler.handle(&message, &topic.context))
        .catch_unwind()
        .await;
    let handled_at = now_ms();
    let mut panicked = false;
    let reply = match handled {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => {
            error.get_or_insert(format!("handler failed: {e}"));
            Reply::none()
        }
        Err(_) => {
            panicked = true;
            error.get_or_insert("handler panicked".to_string());
            Reply::none()
        }
    };
    if error.is_none() && !reply.is_empty() {
        match send(&deps, "reply", &message, &reply).await {
            Ok(sms) => sent.push(sms),
            Err(e) => error = Some(format!("sending the reply failed: {e}")),
        }
    }
    let record = Record {
        outcome: if error.is_some() {
            Outcome::Error
        } else {
            Outcome::Completed
        },
        reply,
        sent,
        error,
        job_id: run.entry_id.clone(),
        worker: deps.consumer.clone(),
        timings: Timings {
            received_at: message.received_at,
            started_at,
            handled_at,
            finished_at: now_ms(),
        },
        message,
    };
    finish(&deps, run.entry_id, record).await;
    panicked
}

async fn send(
    deps: &WorkerDeps,
    kind: &'static str,
    message: &InboundMessage,
    reply: &Reply,
) -> Result<SentSms, String> {
    let twilio = &deps.topic.settings.twilio;
    let sms = OutboundSms {
        to: message.number.clone(),
        from: twilio.from_number.clone(),
        body: reply.text.clone(),
        media_urls: reply.media_urls.clone(),
        status_callback: None,
    };
    let request = SendSms {
        topic: deps.topic.name.clone(),
        kind,
        sms,
    };
    match deps.sender.send(request).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(e) => Err(format!("sender unavailable: {e}")),
    }
}

async fn finish(deps: &WorkerDeps, entry_id: String, record: Record) {
    let topic = deps.topic.name.clone();
    let sid = record.message.sid.clone();
    let outcome = record.outcome;
    let total_ms = record
        .timings
        .finished_at
        .saturating_sub(record.timings.received_at);
    let request = RecordOutcome { entry_id, record };
    match deps.recorder.send(request).await {
        Ok(Ok(())) => log::debug!(
            "Job finished. topic={topic} sid={sid} outcome={outcome:?} total_ms={total_ms}"
        ),
        Ok(Err(e)) => log::warn!(
            "Failed to record outcome; the job stays queued and will be claimed again. \
             topic={topic} sid={sid} error={e}"
        ),
        Err(e) => log::warn!(
            "Recorder unavailable; the job stays queued. topic={topic} sid={sid} error={e}"
        ),
    }
}
