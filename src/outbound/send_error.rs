//! Why a send did not go out, named by what failed: Twilio (its answer, or reaching it), Redis
//! (the send marker could not be written or confirmed), the sender actor, or the lookup of an
//! interrupted send. A failure keeps its name across layers: a Redis error met while sending
//! stays a Redis error, never a Twilio one.

use std::time::Duration;

use crate::store::breaker::is_outage;
use crate::store::connection::ReplicationError;
use crate::twilio::client::TwilioError;

/// Why a send did not go out.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// Twilio refused it or could not be reached.
    #[error(transparent)]
    Twilio(#[from] TwilioError),
    /// Redis could not take the send marker, and the failure passes (the node is down,
    /// demoted, loading, or between primaries): nothing was sent, and the attempt does not
    /// count against the job.
    #[error("redis is unavailable for the send marker")]
    StoreUnavailable(#[source] redis::RedisError),
    /// The marker was written but `WAIT` did not see `min_replica_acks` replicas hold it:
    /// nothing was sent, and the attempt does not count.
    #[error("the send marker was not confirmed by enough replicas")]
    NotReplicated(#[source] ReplicationError),
    /// Redis refused the marker for a reason that does not pass by itself (out of memory, a
    /// full disk): nothing was sent, and the attempt counts.
    #[error("redis refused the send marker")]
    StoreRefused(#[source] redis::RedisError),
    /// The sender actor is gone (the process is stopping).
    #[error("the twilio sender is unavailable")]
    SenderGone(#[source] actix::MailboxError),
    /// The sender has no Twilio client for the topic.
    #[error("no twilio client for topic `{0}`")]
    NoClient(String),
    /// The send was interrupted before, and Twilio's list could not be read back to its mark
    /// within the bound: nothing was sent, rather than risk a second copy.
    #[error(
        "could not tell whether an interrupted send reached twilio: its message list was read \
         for {pages} pages without reaching the send's mark"
    )]
    Unconfirmed {
        /// Pages of Twilio's list read.
        pages: usize,
    },
    /// The failure of a call made for several sends at once (their claims), shared by each.
    #[error(transparent)]
    Shared(std::sync::Arc<SendError>),
}

impl SendError {
    /// A Redis failure before the POST: nothing was sent. One that passes by itself makes the
    /// send wait without counting as an attempt; any other (out of memory, a full disk) counts.
    pub(crate) fn of_redis(error: redis::RedisError) -> Self {
        let passing = is_outage(&error)
            || matches!(
                error.code(),
                Some("READONLY" | "MASTERDOWN" | "LOADING" | "TRYAGAIN" | "CLUSTERDOWN")
            );
        if passing {
            SendError::StoreUnavailable(error)
        } else {
            SendError::StoreRefused(error)
        }
    }

    /// Whether the attempt waits for Redis rather than counting: nothing was sent because the
    /// marker could not be written or confirmed, and that passes.
    pub(crate) fn waits_for_redis(&self) -> bool {
        match self {
            SendError::StoreUnavailable(_) | SendError::NotReplicated(_) => true,
            SendError::Shared(error) => error.waits_for_redis(),
            _ => false,
        }
    }

    /// Twilio's error code, when Twilio answered one.
    pub(crate) fn twilio_code(&self) -> Option<i64> {
        match self {
            SendError::Twilio(TwilioError::Api { code, .. }) => *code,
            SendError::Shared(error) => error.twilio_code(),
            _ => None,
        }
    }

    /// Whether trying again cannot help: Twilio refused it for good (a 4xx with an error code).
    pub(crate) fn is_permanent(&self) -> bool {
        match self {
            SendError::Twilio(error) => !error.is_transient(),
            SendError::Shared(error) => error.is_permanent(),
            _ => false,
        }
    }

    /// How long Twilio asked to wait, if it did.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            SendError::Twilio(error) => error.retry_after(),
            SendError::Shared(error) => error.retry_after(),
            _ => None,
        }
    }
}

impl From<ReplicationError> for SendError {
    /// With `min_replica_acks`, the marker must be on replicas before Twilio is called: a mark
    /// only a dead primary held would let the same reply go out twice. Not confirmed = not sent.
    fn from(error: ReplicationError) -> Self {
        match error {
            ReplicationError::Redis(error) => SendError::of_redis(error),
            too_few => SendError::NotReplicated(too_few),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redis_error(code: &str) -> redis::RedisError {
        redis::RedisError::from((
            redis::ErrorKind::ExtensionError,
            "refused",
            format!("{code} something"),
        ))
    }

    #[test]
    fn a_passing_redis_failure_waits_and_a_refusal_counts() {
        let demoted = SendError::of_redis(redis::RedisError::from((
            redis::ErrorKind::ReadOnly,
            "READONLY",
        )));
        let full = SendError::of_redis(redis_error("OOM"));
        let too_few = SendError::from(ReplicationError::TooFew {
            wanted: 1,
            acked: 0,
        });

        assert!(demoted.waits_for_redis(), "{demoted:?}");
        assert!(!full.waits_for_redis() && !full.is_permanent(), "{full:?}");
        assert!(too_few.waits_for_redis());
    }
}
