//! The keys of a job's lane: which of the two queues (and sender lists) of a topic it is in.

use crate::domain::Lane;
use crate::store::keys::Keys;

impl Keys {
    /// The stream of `lane`: [`Keys::queue`] or [`Keys::bulk_queue`].
    pub(crate) fn lane_queue(&self, topic: &str, lane: Lane) -> String {
        match lane {
            Lane::Interactive => self.queue(topic),
            Lane::Bulk => self.bulk_queue(topic),
        }
    }

    /// The list of `number`'s unfinished jobs in `lane`: [`Keys::sender`] or
    /// [`Keys::bulk_sender`].
    pub(crate) fn lane_sender(&self, topic: &str, number: &str, lane: Lane) -> String {
        match lane {
            Lane::Interactive => self.sender(topic, number),
            Lane::Bulk => self.bulk_sender(topic, number),
        }
    }
}
