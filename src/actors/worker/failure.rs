//! Why an attempt failed, by what failed, and what the worker does about it: try again after a
//! backoff, dead-letter now, restart the actor after a panic, or wait for Redis without counting
//! the attempt. The reason kept with the job is the error with its causes.

use std::time::Duration;

use crate::actors::recorder::RecordError;
use crate::domain::{SendKind, SessionTooLarge};
use crate::handlers::HandlerError;
use crate::outbound::send_once::SendError;

/// Why one attempt at a job failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AttemptError {
    /// The handler answered an error.
    #[error("handler failed")]
    Handler(#[source] HandlerError),
    /// The handler panicked.
    #[error("handler panicked")]
    Panicked,
    /// One of the job's sends failed.
    #[error("sending the {kind} failed")]
    Send {
        /// Which send.
        kind: SendKind,
        /// Why.
        #[source]
        source: SendError,
    },
    /// The sender's session could not be read.
    #[error("reading the session failed")]
    Session(#[source] RecordError),
    /// The handler left a session too large to save.
    #[error(transparent)]
    SessionTooLarge(#[from] SessionTooLarge),
}

/// What the worker does about a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Count it, then try again after the backoff (and at least `after`, Twilio's Retry-After).
    Retry {
        /// How long Twilio asked to wait.
        after: Option<Duration>,
    },
    /// Count it and dead-letter the job: trying again cannot help.
    Permanent,
    /// Count it and stop the worker actor: its supervisor restarts it, the pool hands the job
    /// out again.
    Panicked,
    /// Redis is away and nothing was sent: try again soon without counting.
    WaitForRedis,
}

impl AttemptError {
    /// Twilio's error code, when Twilio refused one of the sends.
    pub(crate) fn twilio_code(&self) -> Option<i64> {
        match self {
            AttemptError::Send { source, .. } => source.twilio_code(),
            _ => None,
        }
    }

    /// What to do about this failure.
    pub(crate) fn verdict(&self) -> Verdict {
        match self {
            AttemptError::Panicked => Verdict::Panicked,
            AttemptError::Session(_) => Verdict::WaitForRedis,
            AttemptError::SessionTooLarge(_) => Verdict::Permanent,
            AttemptError::Handler(_) => Verdict::Retry { after: None },
            AttemptError::Send { source, .. } if source.waits_for_redis() => Verdict::WaitForRedis,
            AttemptError::Send { source, .. } if source.is_permanent() => Verdict::Permanent,
            AttemptError::Send { source, .. } => Verdict::Retry {
                after: source.retry_after(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twilio::client::TwilioError;

    fn send(source: SendError) -> AttemptError {
        AttemptError::Send {
            kind: SendKind::Reply(1),
            source,
        }
    }

    fn twilio(status: u16, retry_after: Option<Duration>) -> SendError {
        SendError::Twilio(TwilioError::Api {
            status,
            code: Some(20429),
            message: "Too Many Requests".into(),
            retry_after,
        })
    }

    #[test]
    fn each_failure_gets_its_verdict() {
        let wait = Some(Duration::from_secs(3));
        let refused = redis::RedisError::from((redis::ErrorKind::ResponseError, "OOM"));
        let down =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));

        assert_eq!(
            send(twilio(429, wait)).verdict(),
            Verdict::Retry { after: wait }
        );
        assert_eq!(send(twilio(400, None)).verdict(), Verdict::Permanent);
        assert_eq!(
            send(SendError::of_redis(down)).verdict(),
            Verdict::WaitForRedis
        );
        assert_eq!(
            send(SendError::of_redis(refused)).verdict(),
            Verdict::Retry { after: None },
            "a refusal that does not pass counts"
        );
        assert_eq!(AttemptError::Panicked.verdict(), Verdict::Panicked);
        let too_large = AttemptError::from(SessionTooLarge { bytes: 20_000 });
        assert_eq!(too_large.verdict(), Verdict::Permanent);
    }

    #[test]
    fn the_reason_names_the_send_and_its_cause() {
        let error = send(twilio(429, None));

        let reason = crate::errors::chain(&error);

        assert_eq!(
            reason,
            "sending the reply failed: twilio answered 429 with code 20429: Too Many Requests"
        );
    }
}
