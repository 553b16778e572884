//! Redis storage: every key (`keys`, and a lane's in `lane_keys`), the profile's Redis form (`target`), the connections
//! (`connection`, and `blocking` for the tools), batching script calls per topic (`batches`),
//! failing fast while Redis is down (`breaker`), re-queueing dead letters (`dead_letters`), the
//! opt-out ledger (`opt_outs`, shared by the topics of one sender: `senders`), the queue's limits (`limits`), whether the node written to is a
//! primary (`primary`), the waits for a sender's reply (`waits`) and the per-topic snapshot read
//! by the dashboard, `status` and `/metrics` (`overview`).

pub(crate) mod batches;
pub(crate) mod blocking;
pub(crate) mod breaker;
pub(crate) mod connection;
pub(crate) mod dead_letters;
pub(crate) mod keys;
pub(crate) mod lane_keys;
pub(crate) mod limits;
pub(crate) mod opt_outs;
pub(crate) mod overview;
pub(crate) mod primary;
pub(crate) mod senders;
pub(crate) mod target;
pub(crate) mod waits;
