//! `Validator`: runs a topic's validator chain on an inbound message. Each HTTP worker thread has
//! its own, so a webhook never leaves its thread to be validated (validation takes microseconds;
//! a hop to another thread would cost more than the work).

use std::sync::Arc;

use actix::{Actor, Context, Handler};

use crate::messages::{Validate, Validated};
use crate::topics::Topics;
use crate::validators::Verdict;

/// Runs validators; one instance per HTTP worker thread.
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
    type Context = Context<Self>;
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
