//! The rules of sending, applied by the sender actor: at most one send per inbound message across
//! crashes (`send_once`), a shared pace per topic (`pacing`), and each sent message's delivery
//! status, moving only forward (`delivery`); and the outbox of texts pyrowire sends first
//! (`outbox`).

pub mod delivery;
pub mod outbox;
pub mod pacing;
pub mod send_once;
