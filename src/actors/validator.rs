//! `Validator`: runs a topic's validator chain on an inbound message. Validation is CPU work, so
//! this is a sync actor on its own threads (`SyncArbiter`), off the async workers' threads.

use std::sync::Arc;

use actix::{Actor, Handler, SyncContext};

use crate::messages::{Validate, Validated};
use crate::topics::Topics;
use crate::validators::Verdict;

/// Runs validators; one instance per validation thread.
pub struct Validator {
    topics: Arc<Topics>,
}

impl Validator {
    /// A validator for these topics.
    pub fn new(topics: Arc<Topics>) -> Self {
        Validator { topics }
    }
}

impl Actor for Validator {
    type Context = SyncContext<Self>;
}

impl Handler<Validate> for Validator {
    type Result = actix::MessageResult<Validate>;

    fn handle(&mut self, msg: Validate, _: &mut Self::Context) -> Self::Result {
        // Ingress only sends messages for topics it found, so a missing topic accepts nothing.
        let verdict = match self.topics.get(&msg.message.topic) {
            Some(topic) => topic.validators.run(&msg.message),
            None => Verdict::Reject {
                validator: "topic".into(),
                response: String::new(),
            },
        };
        actix::MessageResult(Validated {
            message: msg.message,
            verdict,
        })
    }
}
