//! How a job ends, for `TopicWorker`: completed (its record, its metrics and its sender's
//! session) or dead-lettered (its record and dead letter), written and acknowledged through the
//! `Recorder`, retried while Redis is away.

use std::time::Duration;

use super::attempt::Handled;
use super::deps::{End, WorkerDeps};
use super::tries::Tries;
use crate::actors::messages::{HoldText, RecordOutcome, RunJob, SessionWrite, Waiting};
use crate::actors::recorder::RecordError;
use crate::domain::record::{DeadLetter, Outcome, Record, SentSms, Timings};
use crate::domain::{now_ms, Job, Lane, Reply};
use crate::errors::Chain;
use crate::outbound::delivery::SidStore;

/// A job whose attempt succeeded: counted, then recorded with the handler's session change.
pub(super) async fn complete(
    deps: &WorkerDeps,
    run: RunJob,
    handled: Handled,
    tries: Tries,
) -> End {
    let timings = Timings {
        received_at: run.job.message.received_at,
        started_at: tries.started_at,
        handled_at: handled.handled_at,
        finished_at: now_ms(),
    };
    count_completed(deps, &handled.sent, &timings);
    count_outbound(deps, &run.job, &handled.sent);
    let session = handled.session.map(|save| SessionWrite {
        save,
        ttl_s: deps.topic.settings.session_ttl_s,
    });
    let had_attempts = !tries.reasons.is_empty() || run.redelivered;
    let waiting = waiting_after(&run.job, handled.expect_reply);
    let record = Record {
        outcome: Outcome::Completed,
        message: run.job.message.clone(),
        reply: handled.reply,
        sent: handled.sent,
        error: None,
        attempts: tries.reasons,
        job_id: run.entry_id.clone(),
        worker: deps.consumer.clone(),
        timings,
    };
    let ending = Ending::Completed {
        session,
        stores: handled.stores,
        had_attempts,
        waiting,
    };
    finish(deps, (run.entry_id, run.lane), record, ending).await;
    End::Done
}

/// What a completed job does to the wait for its sender's reply: a text sent first leaves it; a
/// message from the sender (or a timeout event) ends it, or starts a new one when its handler
/// asked to hear back within `wait`.
fn waiting_after(job: &Job, wait: Option<Duration>) -> Waiting {
    if job.outbound.is_some() {
        return Waiting::Leave;
    }
    let Some(wait) = wait else {
        return Waiting::Clear;
    };
    let due_ms = now_ms() + wait.as_millis() as u64;
    let event = Job::reply_timeout(&job.message, due_ms);
    match serde_json::to_string(&event) {
        Ok(job) => Waiting::Until { due_ms, job },
        Err(e) => {
            log::warn!("Failed to encode a reply-timeout event; no wait kept. error={e}");
            Waiting::Clear
        }
    }
}

/// A job that failed for good: its record and dead letter, with every reason.
pub(super) async fn dead_letter(deps: &WorkerDeps, run: RunJob, tries: Tries) -> End {
    let now = now_ms();
    let reasons = tries.reasons;
    log::error!(
        "Job dead-lettered. topic={} sid={} attempts={} error={}",
        deps.topic.name,
        run.job.message.sid,
        reasons.len(),
        reasons.last().map_or("", String::as_str)
    );
    let timings = Timings {
        received_at: run.job.message.received_at,
        started_at: tries.started_at,
        handled_at: now,
        finished_at: now,
    };
    let dead = DeadLetter {
        job: run.job.clone(),
        reasons: reasons.clone(),
        dead_at: now,
        error_code: tries.last_code,
    };
    let record = Record {
        outcome: Outcome::DeadLettered,
        message: run.job.message.clone(),
        reply: Reply::none(),
        sent: Vec::new(),
        error: reasons.last().cloned(),
        attempts: reasons,
        job_id: run.entry_id.clone(),
        worker: deps.consumer.clone(),
        timings,
    };
    let labels = [deps.topic.name.as_str(), Outcome::DeadLettered.as_str()];
    deps.metrics.processed.with_label_values(&labels).inc();
    if run.job.outbound.is_some() {
        let labels = [deps.topic.name.as_str(), "failed"];
        deps.metrics
            .outbound_finished
            .with_label_values(&labels)
            .inc();
    }
    let ending = Ending::DeadLettered(Box::new(dead));
    finish(deps, (run.entry_id, run.lane), record, ending).await;
    End::Done
}

fn count_completed(deps: &WorkerDeps, sent: &[SentSms], timings: &Timings) {
    let (metrics, topic) = (&deps.metrics, deps.topic.name.as_str());
    metrics
        .processed
        .with_label_values(&[topic, Outcome::Completed.as_str()])
        .inc();
    let seconds = timings.total_ms() as f64 / 1000.0;
    metrics
        .end_to_end_seconds
        .with_label_values(&[topic])
        .observe(seconds);
    for sms in sent.iter().filter(|s| !s.dry_run && !s.sid.is_empty()) {
        let encoding = match sms.encoding {
            Some(crate::twilio::segments::Encoding::Ucs2) => "ucs2",
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

/// Counts a completed outbound text as `sent`, `opted_out`, `expired` or `cancelled`.
fn count_outbound(deps: &WorkerDeps, job: &Job, sent: &[SentSms]) {
    if job.outbound.is_none() {
        return;
    }
    let skipped = sent.iter().find_map(|s| match s.status.as_deref() {
        Some(status @ ("opted_out" | "expired" | "cancelled")) => Some(status),
        _ => None,
    });
    let result = skipped.unwrap_or("sent");
    deps.metrics
        .outbound_finished
        .with_label_values(&[&deps.topic.name, result])
        .inc();
}

/// What is written with a job's record besides it.
enum Ending {
    /// Completed: the handler's change to the sender's session is saved (none for an outbound
    /// text), and its sends' Twilio SIDs stored.
    Completed {
        session: Option<SessionWrite>,
        stores: Vec<SidStore>,
        /// Whether the job may have a list of failed attempts to delete.
        had_attempts: bool,
        /// The wait for the sender's reply.
        waiting: Waiting,
    },
    /// Failed for good: this dead letter is kept, and the session left as it was.
    DeadLettered(Box<DeadLetter>),
}

/// Writes the record and acknowledges the job, retrying while Redis is away; after
/// `record_patience` the job is left pending, to be claimed again.
async fn finish(deps: &WorkerDeps, entry: (String, Lane), record: Record, ending: Ending) {
    let (entry_id, lane) = entry;
    let (dead, session, stores, had_attempts, waiting) = match ending {
        Ending::Completed {
            session,
            stores,
            had_attempts,
            waiting,
        } => (None, session, stores, had_attempts, waiting),
        Ending::DeadLettered(dead) => {
            // The sender wrote (unless it was a text sent first): the wait is over.
            let waiting = match dead.job.outbound {
                Some(_) => Waiting::Leave,
                None => Waiting::Clear,
            };
            (Some(*dead), None, Vec::new(), true, waiting)
        }
    };
    let topic = deps.topic.name.clone();
    let sid = record.message.sid.clone();
    let total_ms = record.timings.total_ms();
    let give_up = std::time::Instant::now() + deps.record_patience;
    let mut pause = Duration::from_millis(100);
    loop {
        let request = RecordOutcome {
            entry_id: entry_id.clone(),
            lane,
            record: record.clone(),
            dead: dead.clone(),
            session: session.clone(),
            stores: stores.clone(),
            had_attempts,
            waiting: waiting.clone(),
        };
        let error = match deps.recorder.send(request).await {
            Ok(Ok(())) => {
                log::debug!(
                    "Job finished. topic={topic} sid={sid} outcome={:?} total_ms={total_ms}",
                    record.outcome
                );
                return;
            }
            Ok(Err(e)) => e,
            Err(gone) => RecordError::from(gone),
        };
        if std::time::Instant::now() >= give_up {
            log::warn!(
                "Failed to record outcome; the job stays queued and will be claimed again. \
                 topic={topic} sid={sid} error={}",
                Chain(&error)
            );
            return;
        }
        actix_rt::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// When the topic's `send_window` opens for an outbound text that reached its worker while it
/// is closed (queued in time, then late behind a backlog); `None` to send it now. Replies are
/// never held.
pub(super) fn closed_window(deps: &WorkerDeps, run: &RunJob) -> Option<u64> {
    run.job.outbound.as_ref()?;
    // The text's own window (its broadcast's), else the topic's.
    let own = run.job.window.as_ref().and_then(|spec| {
        Some(crate::domain::window::TopicWindow {
            window: spec.parse().ok()?,
            default_zone: deps.topic.default_zone.clone(),
        })
    });
    let window = own.as_ref().or(deps.topic.window.as_ref())?;
    let to = run.job.message.number.as_str();
    crate::outbound::window::closed_until(window, to, run.job.timezone.as_deref(), now_ms())
}

/// Puts the text back until `until` (the scheduler queues it then); on a Redis failure the job
/// stays pending, to be claimed and checked again.
pub(super) async fn hold(deps: &WorkerDeps, run: RunJob, until: u64) -> End {
    let (topic, id) = (deps.topic.name.clone(), run.job.message.sid.to_string());
    let job = match serde_json::to_string(&run.job) {
        Ok(job) => job,
        Err(e) => {
            log::error!(
                "Failed to encode a held text; it stays queued. topic={topic} id={id} error={e}"
            );
            return End::Done;
        }
    };
    let held = crate::outbound::window::Held {
        topic: topic.clone(),
        id: id.clone(),
        to: run.job.message.number.to_string(),
        entry_id: run.entry_id,
        lane: run.lane,
        job,
        until,
        record_ttl_s: deps.record_ttl_s,
    };
    match deps.recorder.send(HoldText { held }).await {
        Ok(Ok(())) => log::info!(
            "Outbound text held: the send window is closed for its recipient. topic={topic} id={id} send_at={until}"
        ),
        Ok(Err(e)) => log::warn!(
            "Failed to hold a text outside its send window; it stays pending and is checked again. topic={topic} id={id} error={}",
            Chain(&e)
        ),
        Err(e) => log::warn!(
            "Failed to hold a text outside its send window; it stays pending. topic={topic} id={id} error={e}"
        ),
    }
    End::Done
}
