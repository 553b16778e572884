//! The rules of sending, applied by the sender actor: at most one send per inbound message
//! across crashes (`send_once`, asking Twilio about an interrupted one in `interrupted`, failing
//! with a `send_error`), a shared pace per topic (`pacing`), and each sent message's delivery
//! status, moving only forward (`delivery`); and texts pyrowire sends first: queued through the
//! outbox (`outbox`), scheduled and cancelled (`schedule`), looked up (`lookup`), and reached by
//! Rust programs through `handle`.

pub mod delivery;
pub mod handle;
pub mod interrupted;
pub mod lookup;
pub mod outbox;
pub mod pacing;
pub mod schedule;
pub mod send_error;
pub mod send_once;
