//! The limits a topic's queue is written under, from the profile, as one value: the enqueue
//! scripts (inbound and outbound) and the re-queue of a dead letter all take them together.

/// How long what is queued is remembered, and how much may be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueLimits {
    /// How long a MessageSid or an idempotency key is remembered (seconds).
    pub dedup_ttl_s: u64,
    /// A queue holding this many jobs (or more) takes no more.
    pub max_queue_depth: u64,
    /// A bulk queue holding this many texts (or more) takes no more bulk texts.
    pub max_bulk_depth: u64,
    /// How long a record, or an outbound text's status after its time, is kept (seconds).
    pub record_ttl_s: u64,
}

impl QueueLimits {
    /// The profile's limits.
    pub(crate) fn of(profile: &crate::settings::Profile) -> Self {
        QueueLimits {
            dedup_ttl_s: profile.dedup_ttl_s,
            max_queue_depth: profile.max_queue_depth,
            max_bulk_depth: profile.max_bulk_depth,
            record_ttl_s: profile.record_ttl_s,
        }
    }
}
