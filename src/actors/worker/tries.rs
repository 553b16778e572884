//! A job's tries, for `TopicWorker`: the reasons of its failed attempts so far (durable, so the
//! count survives a crash), the backoff before the next one, and the pause while Redis keeps a
//! send from being marked, which does not count.

use std::time::{Duration, Instant};

use super::deps::WorkerDeps;
use super::failure::AttemptError;
use crate::actors::messages::{LoadAttempts, RecordAttempt, RunJob};
use crate::actors::recorder::RecordError;
use crate::domain::{now_ms, InboundMessage};
use crate::errors::{chain, Chain};
use crate::settings::RetrySettings;

/// How long a worker waits before trying again when Redis could not mark a send: at first this,
/// then as long as it has waited so far (so the handler re-runs ever less often), up to the max.
const REDIS_PAUSE: Duration = Duration::from_millis(250);
const REDIS_PAUSE_MAX: Duration = Duration::from_secs(2);

/// Where a job's tries stand.
pub(super) struct Tries {
    /// Each counted failed attempt's reason, oldest first.
    pub(super) reasons: Vec<String>,
    /// Twilio's error code of the last counted failure, when Twilio refused a send in it.
    pub(super) last_code: Option<i64>,
    /// When this run of the job started (ms).
    pub(super) started_at: u64,
    /// How long Twilio last asked to wait.
    retry_after: Option<Duration>,
    /// Since when Redis has kept the send from being marked (such tries do not count).
    redis_away_since: Option<Instant>,
}

impl Tries {
    /// The job's tries so far: none for a new job, the recorded ones for a redelivered one.
    pub(super) async fn of(deps: &WorkerDeps, run: &RunJob) -> Tries {
        let reasons = if run.redelivered {
            load_attempts(deps, &run.job.message).await
        } else {
            Vec::new()
        };
        Tries {
            reasons,
            last_code: None,
            started_at: now_ms(),
            retry_after: None,
            redis_away_since: None,
        }
    }

    /// Whether every attempt allowed was made.
    pub(super) fn exhausted(&self, retry: &RetrySettings) -> bool {
        self.reasons.len() >= retry.max_attempts as usize
    }

    /// Waits out the backoff before the next attempt (none before the first).
    pub(super) async fn wait_turn(&self, retry: &RetrySettings) {
        if self.reasons.is_empty() {
            return;
        }
        let failures = self.reasons.len() as u32;
        let wait = backoff(retry, failures).max(self.retry_after.unwrap_or_default());
        actix_rt::time::sleep(wait).await;
    }

    /// Counts a failed attempt: logged, in `/metrics`, kept with the job in Redis.
    pub(super) async fn count(
        &mut self,
        deps: &WorkerDeps,
        run: &RunJob,
        error: &AttemptError,
        retry_after: Option<Duration>,
    ) {
        self.redis_away_since = None;
        self.retry_after = retry_after;
        self.last_code = error.twilio_code();
        let reason = chain(error);
        log::warn!(
            "Attempt failed. topic={} sid={} attempt={} error={reason}",
            deps.topic.name,
            run.job.message.sid,
            self.reasons.len() + 1,
        );
        deps.metrics
            .failed
            .with_label_values(&[&deps.topic.name])
            .inc();
        self.reasons.push(reason.clone());
        save_attempt(deps, &run.job.message, reason).await;
    }

    /// Pauses while Redis keeps the send from being marked; answers false once it has kept it so
    /// for a third of `claim_idle_ms`: the job is then left pending, to be claimed again once
    /// Redis is back (well before another process may claim it: the heartbeat that keeps it
    /// claimed fails while Redis does).
    pub(super) async fn wait_for_redis(
        &mut self,
        deps: &WorkerDeps,
        run: &RunJob,
        error: &AttemptError,
    ) -> bool {
        let first = self.redis_away_since.is_none();
        let since = *self.redis_away_since.get_or_insert_with(Instant::now);
        let (topic, sid) = (&deps.topic.name, &run.job.message.sid);
        if since.elapsed() >= deps.record_patience / 3 {
            log::warn!(
                "Redis kept the send from being marked for too long; the job stays queued. topic={topic} sid={sid} error={}",
                chain(error)
            );
            return false;
        }
        if first {
            log::warn!(
                "Send not marked, Redis unavailable; trying again (not counted as an attempt). topic={topic} sid={sid} error={}",
                chain(error)
            );
        }
        let waited = since.elapsed().min(REDIS_PAUSE_MAX);
        actix_rt::time::sleep(waited.max(REDIS_PAUSE)).await;
        true
    }
}

/// The reasons recorded for a redelivered job's earlier attempts; none when Redis fails.
async fn load_attempts(deps: &WorkerDeps, message: &InboundMessage) -> Vec<String> {
    let request = LoadAttempts {
        topic: deps.topic.name.clone(),
        sid: message.sid.clone(),
    };
    let loaded = match deps.recorder.send(request).await {
        Ok(loaded) => loaded,
        Err(gone) => Err(RecordError::from(gone)),
    };
    loaded.unwrap_or_else(|e| {
        log::warn!(
            "Failed to read a redelivered job's attempts; its count starts again. topic={} sid={} error={}",
            deps.topic.name,
            message.sid,
            Chain(&e)
        );
        Vec::new()
    })
}

/// Keeps an attempt's reason with the job in Redis.
async fn save_attempt(deps: &WorkerDeps, message: &InboundMessage, reason: String) {
    let request = RecordAttempt {
        topic: deps.topic.name.clone(),
        sid: message.sid.clone(),
        reason,
    };
    let saved = match deps.recorder.send(request).await {
        Ok(saved) => saved,
        Err(gone) => Err(RecordError::from(gone)),
    };
    if let Err(e) = saved {
        log::warn!(
            "Failed to save an attempt; the count restarts if the job is claimed again. topic={} sid={} error={}",
            deps.topic.name,
            message.sid,
            Chain(&e)
        );
    }
}

/// `backoff_initial_ms * 2^(n-1)`, capped at `backoff_max_ms`, with full jitter over the upper
/// half so that many failing jobs do not retry in lockstep.
fn backoff(retry: &RetrySettings, failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(30);
    let base = retry
        .backoff_initial_ms
        .saturating_mul(1u64 << exponent)
        .min(retry.backoff_max_ms);
    let jittered = base / 2 + rand::random_range(0..=base / 2);
    Duration::from_millis(jittered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_jitter_and_stops_at_the_cap() {
        let retry = RetrySettings {
            max_attempts: 10,
            backoff_initial_ms: 100,
            backoff_max_ms: 1000,
        };

        let waits: Vec<u128> = (1..=6).map(|n| backoff(&retry, n).as_millis()).collect();

        for (n, wait) in waits.iter().enumerate() {
            let base = (100u128 << n).min(1000);
            assert!(
                (base / 2..=base).contains(wait),
                "failure {}: {wait} ms",
                n + 1
            );
        }
    }
}
