//! Redis storage: every key (`keys`), the profile's Redis form (`target`), the connections
//! (`connection`, and `blocking` for the tools), failing fast while Redis is
//! down (`breaker`), re-queueing dead letters (`dead_letters`), the opt-out ledger (`opt_outs`), the queue's limits (`limits`) and the per-topic snapshot read by
//! the dashboard, `status` and `/metrics` (`overview`).

pub mod blocking;
pub mod breaker;
pub mod connection;
pub mod dead_letters;
pub mod keys;
pub mod limits;
pub mod opt_outs;
pub mod overview;
pub mod target;
