//! The rules of sending, applied by the sender actor: at most one send per inbound message
//! across crashes (`send_once`, its claims batched per topic in `claims`, asking Twilio about an
//! interrupted one in `interrupted`, failing with a `send_error`), a shared pace per topic (`pacing`), and each sent message's delivery
//! status, moving only forward (`delivery`); and texts pyrowire sends first: queued through the
//! outbox (`outbox`), scheduled and cancelled (`schedule`), held to the topic's quiet hours (`window`), looked up (`lookup`), grouped into broadcasts (`broadcast`), and reached by
//! Rust programs through `handle`.

pub(crate) mod broadcast;
pub(crate) mod claims;
pub(crate) mod delivery;
pub(crate) mod handle;
pub(crate) mod interrupted;
pub(crate) mod lookup;
pub(crate) mod outbox;
pub(crate) mod pacing;
pub(crate) mod schedule;
pub(crate) mod send_error;
pub(crate) mod send_once;
pub(crate) mod window;
