//! `Validator`: runs a topic's validator chain on an inbound message. Each HTTP worker thread has
//! its own, so a webhook never leaves its thread to be validated (validation takes microseconds;
//! a hop to another thread would cost more than the work).

use actix::{Actor, Context, Handler};

use crate::actors::messages::{Validate, Validated};

/// Runs validators; one instance per HTTP worker thread.
pub(crate) struct Validator;

impl Actor for Validator {
    type Context = Context<Self>;
}

impl Handler<Validate> for Validator {
    type Result = actix::MessageResult<Validate>;

    fn handle(&mut self, msg: Validate, _: &mut Self::Context) -> Self::Result {
        let verdict = msg.topic.validators.run(&msg.message);
        actix::MessageResult(Validated {
            message: msg.message,
            verdict,
        })
    }
}
