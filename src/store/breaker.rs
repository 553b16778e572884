//! `Breaker`: while Redis is failing, only one request per [`Breaker::PROBE_EVERY`] tries it (and
//! may wait for the connection's timeout); the others fail at once, so Twilio gets its 503
//! without delay and a health probe with a short timeout sees 503, not a timeout.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Remembers when Redis last failed; shared by the futures of one actor (one thread).
#[derive(Clone, Default)]
pub(crate) struct Breaker {
    failed_at: Rc<Cell<Option<Instant>>>,
}

/// What a guarded operation's error says about Redis.
pub(crate) trait Outage {
    /// The error a request gets when it was not tried.
    fn down() -> Self;
    /// Whether the error means Redis is unreachable (as opposed to refusing one command).
    fn is_outage(&self) -> bool;
}

impl Breaker {
    /// How often a request may probe a failing Redis.
    pub(crate) const PROBE_EVERY: Duration = Duration::from_millis(250);

    /// Runs `op` unless Redis failed within the last probe interval; remembers the outcome.
    pub(crate) async fn call<T, E: Outage>(
        self,
        op: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        if let Some(failed_at) = self.failed_at.get() {
            if failed_at.elapsed() < Self::PROBE_EVERY {
                return Err(E::down());
            }
            // This request is the probe; the others keep failing fast meanwhile.
            self.failed_at.set(Some(Instant::now()));
        }
        let result = op.await;
        match &result {
            Err(e) if e.is_outage() => self.failed_at.set(Some(Instant::now())),
            _ => self.failed_at.set(None),
        }
        result
    }
}

/// Whether a Redis error means the server or the connection is gone.
pub(crate) fn is_outage(error: &redis::RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_unrecoverable_error()
}
