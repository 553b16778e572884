//! Order per sender within each lane, for `WorkerPool`: a parked job moves to the ready queue only when it is its
//! sender's oldest unfinished job (the head of the sender's list in Redis) and no other job of
//! that sender in that lane is running here. Parked jobs ask again every [`PARKED_POLL`]; a head whose job
//! vanished from the stream is dropped after a while so it cannot block its sender forever.

use std::collections::HashMap;

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};

use super::{ops, WorkerPool, PARKED_POLL};
use crate::domain::Lane;

impl WorkerPool {
    /// Moves parked jobs that are their sender's oldest unfinished job to the ready queue.
    pub(super) fn check_parked(&mut self, ctx: &mut Context<Self>) {
        if self.checking {
            self.recheck = true;
            return;
        }
        let mut numbers: Vec<(Lane, String)> = self
            .parked
            .iter()
            .map(|p| (p.job.lane, p.job.job.message.number.as_str()))
            .filter(|(lane, number)| !self.sender_busy(*lane, number))
            .map(|(lane, number)| (lane, number.to_string()))
            .collect();
        numbers.sort();
        numbers.dedup();
        if numbers.is_empty() {
            return;
        }
        self.checking = true;
        let fut = ops::sender_heads(
            self.conns.shared.clone(),
            self.keys.clone(),
            self.topic(),
            numbers,
        );
        ctx.spawn(fut.into_actor(self).map(|result, act, ctx| {
            act.checking = false;
            match result {
                Ok(heads) => act.release_heads(&heads, ctx),
                Err(e) => log::warn!(
                    "Failed to read sender order. topic={} error={e}",
                    act.topic()
                ),
            }
            let waiting = act
                .parked
                .iter()
                .any(|p| !act.sender_busy(p.job.lane, p.job.job.message.number.as_str()));
            if std::mem::take(&mut act.recheck) {
                act.check_parked(ctx);
            } else if waiting {
                ctx.run_later(PARKED_POLL, |act, ctx| act.check_parked(ctx));
            }
        }));
    }

    fn release_heads(
        &mut self,
        heads: &HashMap<(Lane, String), Option<String>>,
        ctx: &mut Context<Self>,
    ) {
        let stale_after = self.claim_idle * 3;
        let mut still_parked = Vec::new();
        for parked in std::mem::take(&mut self.parked) {
            let sender = (parked.job.lane, parked.job.job.message.number.to_string());
            let head = heads.get(&sender).cloned().flatten();
            let turn = head.as_deref().is_none_or(|h| h == parked.job.entry_id);
            if turn && !self.sender_busy(sender.0, &sender.1) {
                self.busy_senders[super::slot(sender.0)].insert(sender.1);
                self.ready.push_back(parked.job);
                continue;
            }
            if let Some(head) = head.filter(|_| parked.since.elapsed() > stale_after) {
                let fut = ops::drop_vanished_head(
                    self.conns.shared.clone(),
                    self.keys.clone(),
                    self.topic(),
                    sender,
                    head,
                );
                ctx.spawn(fut.into_actor(self).map(|result, act, _| {
                    if let Err(e) = result {
                        log::warn!(
                            "Failed to drop a vanished sender head. topic={} error={e}",
                            act.topic()
                        );
                    }
                }));
            }
            still_parked.push(parked);
        }
        self.parked = still_parked;
        self.dispatch();
    }
}
