//! `Scheduler`: moves scheduled outbound texts to their topic's queue once they are due, and
//! queues the `reply_timeout` event of each wait for a sender's reply that ended. Every
//! process that runs workers has one, ticking four times a second; the due script removes each
//! text from the scheduled set in the same step that queues it, so across all processes each
//! text is queued exactly once, and texts survive any restart in Redis meanwhile.

use std::time::Duration;

use actix::{Actor, ActorFutureExt, AsyncContext, Context, WrapFuture};

use crate::outbound::schedule::{move_due, DUE_BATCH};
use crate::store::connection::RedisConn;
use crate::store::keys::Keys;
use crate::store::waits::{queue_ended, WAIT_BATCH};

/// How often due texts are looked for: a text goes out within about this long after its time.
pub(crate) const TICK: Duration = Duration::from_millis(250);

/// Queues due scheduled texts of some topics.
pub(crate) struct Scheduler {
    conn: RedisConn,
    keys: Keys,
    topics: Vec<String>,
    record_ttl_s: u64,
    busy: bool,
}

impl Scheduler {
    /// A scheduler for `topics`, through `conn`.
    pub(crate) fn new(conn: RedisConn, keys: Keys, topics: Vec<String>, record_ttl_s: u64) -> Self {
        Scheduler {
            conn,
            keys,
            topics,
            record_ttl_s,
            busy: false,
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        self.busy = true;
        let (mut conn, keys, topics) = (self.conn.clone(), self.keys.clone(), self.topics.clone());
        let keep = self.record_ttl_s;
        let work = async move {
            for topic in &topics {
                // A full batch may leave more due: take them now rather than a tick later.
                for _ in 0..50 {
                    match move_due(&mut conn, &keys, topic, keep).await {
                        Ok(moved) => {
                            if moved.queued > 0 {
                                let count = moved.queued;
                                log::debug!("Scheduled texts queued. topic={topic} count={count}");
                            }
                            if moved.found < DUE_BATCH as u64 {
                                break;
                            }
                        }
                        Err(e) => {
                            log::warn!("Failed to queue due scheduled texts; trying again. topic={topic} error={e}");
                            break;
                        }
                    }
                }
                queue_reply_timeouts(&mut conn, &keys, topic).await;
            }
        };
        ctx.spawn(work.into_actor(self).map(|_, act, _| act.busy = false));
    }
}

/// Queues the reply-timeout events of the topic's waits that ended (all of them, a batch at a
/// time, within a bound).
async fn queue_reply_timeouts(conn: &mut RedisConn, keys: &Keys, topic: &str) {
    for _ in 0..50 {
        match queue_ended(conn, keys, topic).await {
            Ok(ended) => {
                if ended.queued > 0 {
                    let count = ended.queued;
                    log::info!("Reply timeouts queued. topic={topic} count={count}");
                }
                if ended.found < WAIT_BATCH {
                    return;
                }
            }
            Err(e) => {
                log::warn!("Failed to queue reply timeouts; trying again. topic={topic} error={e}");
                return;
            }
        }
    }
}

impl Actor for Scheduler {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(TICK, |act, ctx| act.tick(ctx));
    }
}
