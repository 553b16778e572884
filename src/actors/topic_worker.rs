//! `TopicWorker`: handles one job at a time for its topic. An attempt sends the accept text when
//! the topic asks for it, runs the handler and sends the reply (each send at most once, see
//! [`crate::send_once`]). A failed attempt is recorded durably and retried after an exponential,
//! jittered backoff (or Twilio's Retry-After), holding the job meanwhile so no other worker takes
//! it; after the last attempt, or at once on a permanent Twilio error, the job is dead-lettered.
//! A panicking handler stops only this actor: the attempt is recorded, the `WorkerPool`'s
//! supervisor restarts the actor and the pool hands the job out again.

use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::{
    Actor, ActorContext, ActorFutureExt, Addr, Context, Handler, Recipient, ResponseActFuture,
    Supervised, WrapFuture,
};
use futures_util::FutureExt;

use crate::actors::recorder::Recorder;
use crate::actors::twilio_sender::TwilioSender;
use crate::domain::{now_ms, InboundMessage, Job, Reply};
use crate::handlers::{HandlerContext, SendFn};
use crate::messages::{
    JobFinished, LoadAttempts, RecordAttempt, RecordOutcome, RunJob, SendSms, WorkerReady,
};
use crate::metrics::Metrics;
use crate::record::{DeadLetter, Outcome, Record, SentSms, Timings};
use crate::segments::{split, MAX_BODY_CHARS};
use crate::topics::Topic;
use crate::twilio::{OutboundSms, TwilioError};

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
    /// How long to keep trying to record an outcome while Redis is away.
    pub record_patience: Duration,
    /// `StatusCallback` of every send (`{public_url}/status/{topic}`), when `public_url` is set.
    pub status_callback: Option<String>,
    /// This process's metrics.
    pub metrics: Metrics,
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

/// How a job's processing ended.
enum End {
    /// Recorded (completed or dead-lettered), or left pending for a later claim.
    Done,
    /// The handler panicked; the attempt is recorded and the job must be handed out again.
    Panicked,
}

/// Why one attempt failed.
struct Failure {
    reason: String,
    permanent: bool,
    retry_after: Option<Duration>,
    panicked: bool,
}

impl Failure {
    fn handler(reason: String, panicked: bool) -> Self {
        Failure {
            reason,
            permanent: false,
            retry_after: None,
            panicked,
        }
    }
}

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
    loop {
        if attempts.len() >= retry.max_attempts as usize {
            return dead_letter(&deps, run, attempts, started_at).await;
        }
        if !attempts.is_empty() {
            let wait = backoff(&retry, attempts.len() as u32).max(retry_after.unwrap_or_default());
            actix_rt::time::sleep(wait).await;
        }
        match attempt(&deps, &run.job).await {
            Ok((reply, sent, handled_at)) => {
                let timings = Timings {
                    received_at: run.job.message.received_at,
                    started_at,
                    handled_at,
                    finished_at: now_ms(),
                };
                count_completed(&deps, &sent, &timings);
                let record = record(
                    &deps,
                    &run,
                    Outcome::Completed,
                    reply,
                    sent,
                    attempts,
                    timings,
                );
                finish(&deps, run.entry_id, record, None).await;
                return End::Done;
            }
            Err(failure) => {
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

/// One try: accept text (if any), handler, reply. Sends already made are not made again.
async fn attempt(deps: &WorkerDeps, job: &Job) -> Result<(Reply, Vec<SentSms>, u64), Failure> {
    let topic = &deps.topic;
    let message = &job.message;
    let mut sent = Vec::new();
    if let Some(text) = job.accept_sms.as_deref().filter(|t| !t.is_empty()) {
        sent.push(send(deps, "accept".into(), message, &Reply::text(text)).await?);
    }
    let context = handler_context(deps, message);
    let started = std::time::Instant::now();
    let handled = AssertUnwindSafe(topic.handler.handle(message, &context))
        .catch_unwind()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    deps.metrics
        .handler_seconds
        .with_label_values(&[&topic.name])
        .observe(seconds);
    sent.extend(context.take_sent());
    let reply = match handled {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => return Err(Failure::handler(format!("handler failed: {e}"), false)),
        Err(_) => return Err(Failure::handler("handler panicked".into(), true)),
    };
    let handled_at = now_ms();
    if !reply.is_empty() {
        for (kind, part) in reply_parts(&reply) {
            sent.push(send(deps, kind, message, &part).await?);
        }
    }
    Ok((reply, sent, handled_at))
}

/// The handler's context for one attempt: its extra sends (`sms`, `mms`) go through the sender
/// like replies do.
fn handler_context(deps: &WorkerDeps, message: &InboundMessage) -> HandlerContext {
    let topic = deps.topic.name.clone();
    let properties = deps.topic.properties.clone();
    let (deps, message) = (deps.clone(), message.clone());
    let send: SendFn = Rc::new(move |kind: String, reply: Reply| {
        let (deps, message) = (deps.clone(), message.clone());
        async move {
            send(&deps, kind, &message, &reply)
                .await
                .map_err(|failure| failure.reason)
        }
        .boxed_local()
    });
    HandlerContext::with_sender(topic, properties, send)
}

/// A reply over Twilio's 1600 characters goes out as several messages split at word boundaries,
/// named `reply`, `reply-2`, ...; media rides with the first.
fn reply_parts(reply: &Reply) -> Vec<(String, Reply)> {
    let text = reply.text.as_deref().unwrap_or_default();
    if text.chars().count() <= MAX_BODY_CHARS {
        return vec![("reply".to_string(), reply.clone())];
    }
    split(text, MAX_BODY_CHARS)
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let kind = if i == 0 {
                "reply".to_string()
            } else {
                format!("reply-{}", i + 1)
            };
            let media_urls = if i == 0 {
                reply.media_urls.clone()
            } else {
                Vec::new()
            };
            (
                kind,
                Reply {
                    text: Some(part),
                    media_urls,
                },
            )
        })
        .collect()
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

async fn send(
    deps: &WorkerDeps,
    kind: String,
    message: &InboundMessage,
    reply: &Reply,
) -> Result<SentSms, Failure> {
    let twilio = &deps.topic.settings.twilio;
    let request = SendSms {
        topic: deps.topic.name.clone(),
        inbound_sid: message.sid.clone(),
        kind: kind.clone(),
        sms: OutboundSms {
            to: message.number.clone(),
            from: twilio.from_number.clone(),
            body: reply.text.clone(),
            media_urls: reply.media_urls.clone(),
            status_callback: deps.status_callback.clone(),
        },
    };
    let result = deps
        .sender
        .send(request)
        .await
        .unwrap_or_else(|e| Err(TwilioError::not_sent(format!("sender unavailable: {e}"))));
    result.map_err(|error| Failure {
        reason: format!("sending the {kind} failed: {error}"),
        permanent: !error.is_transient(),
        retry_after: error.retry_after(),
        panicked: false,
    })
}

fn record(
    deps: &WorkerDeps,
    run: &RunJob,
    outcome: Outcome,
    reply: Reply,
    sent: Vec<SentSms>,
    attempts: Vec<String>,
    timings: Timings,
) -> Record {
    Record {
        outcome,
        message: run.job.message.clone(),
        reply,
        sent,
        error: attempts
            .last()
            .filter(|_| outcome != Outcome::Completed)
            .cloned(),
        attempts,
        job_id: run.entry_id.clone(),
        worker: deps.consumer.clone(),
        timings,
    }
}

async fn dead_letter(deps: &WorkerDeps, run: RunJob, reasons: Vec<String>, started_at: u64) -> End {
    let now = now_ms();
    log::error!(
        "Job dead-lettered. topic={} sid={} attempts={} error={}",
        deps.topic.name,
        run.job.message.sid,
        reasons.len(),
        reasons.last().map_or("", String::as_str)
    );
    let timings = Timings {
        received_at: run.job.message.received_at,
        started_at,
        handled_at: now,
        finished_at: now,
    };
    let dead = DeadLetter {
        job: run.job.clone(),
        reasons: reasons.clone(),
        dead_at: now,
    };
    let record = record(
        deps,
        &run,
        Outcome::DeadLettered,
        Reply::none(),
        Vec::new(),
        reasons,
        timings,
    );
    let labels = [deps.topic.name.as_str(), "dead_lettered"];
    deps.metrics.processed.with_label_values(&labels).inc();
    finish(deps, run.entry_id, record, Some(dead)).await;
    End::Done
}

fn count_completed(deps: &WorkerDeps, sent: &[SentSms], timings: &Timings) {
    let (metrics, topic) = (&deps.metrics, deps.topic.name.as_str());
    metrics
        .processed
        .with_label_values(&[topic, "completed"])
        .inc();
    let total_ms = timings.finished_at.saturating_sub(timings.received_at);
    let seconds = total_ms as f64 / 1000.0;
    metrics
        .end_to_end_seconds
        .with_label_values(&[topic])
        .observe(seconds);
    for sms in sent.iter().filter(|s| !s.dry_run && !s.sid.is_empty()) {
        let encoding = match sms.encoding {
            Some(crate::segments::Encoding::Ucs2) => "ucs2",
            _ => "gsm7",
        };
        metrics.sent.with_label_values(&[topic, encoding]).inc();
        let segments = u64::from(sms.segments.unwrap_or(1));
        metrics
            .segments
            .with_label_values(&[topic])
            .inc_by(segments);
    }
}

async fn load_attempts(deps: &WorkerDeps, message: &InboundMessage) -> Vec<String> {
    let request = LoadAttempts {
        topic: deps.topic.name.clone(),
        sid: message.sid.clone(),
    };
    match deps.recorder.send(request).await {
        Ok(Ok(attempts)) => attempts,
        _ => Vec::new(),
    }
}

async fn save_attempt(deps: &WorkerDeps, message: &InboundMessage, reason: String) {
    let request = RecordAttempt {
        topic: deps.topic.name.clone(),
        sid: message.sid.clone(),
        reason,
    };
    if !matches!(deps.recorder.send(request).await, Ok(Ok(()))) {
        log::warn!(
            "Failed to save an attempt; the count restarts if the job is claimed again. topic={} sid={}",
            deps.topic.name,
            message.sid
        );
    }
}

/// Writes the record and acknowledges the job, retrying while Redis is away; after
/// `record_patience` the job is left pending, to be claimed again.
async fn finish(deps: &WorkerDeps, entry_id: String, record: Record, dead: Option<DeadLetter>) {
    let topic = deps.topic.name.clone();
    let sid = record.message.sid.clone();
    let total_ms = record
        .timings
        .finished_at
        .saturating_sub(record.timings.received_at);
    let give_up = std::time::Instant::now() + deps.record_patience;
    let mut pause = Duration::from_millis(100);
    loop {
        let request = RecordOutcome {
            entry_id: entry_id.clone(),
            record: record.clone(),
            dead: dead.clone(),
        };
        let error = match deps.recorder.send(request).await {
            Ok(Ok(())) => {
                log::debug!(
                    "Job finished. topic={topic} sid={sid} outcome={:?} total_ms={total_ms}",
                    record.outcome
                );
                return;
            }
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        if std::time::Instant::now() >= give_up {
            log::warn!(
                "Failed to record outcome; the job stays queued and will be claimed again. \
                 topic={topic} sid={sid} error={error}"
            );
            return;
        }
        actix_rt::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}
