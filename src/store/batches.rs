//! Per-topic batching of script calls, as the queue actor batches webhooks: at most one call per
//! topic is in flight, and what arrives meanwhile goes together in the next (up to a most).
//! A batch that fails with an error that may be one item's own (a script error, not an outage)
//! is split: each of its items is tried again alone, so no item fails another's. Used for the
//! recorder's completions and the sender's claims; the caller makes the call and answers.

use std::collections::{HashMap, VecDeque};

use crate::store::breaker::is_outage;

/// The items waiting, per topic.
pub(crate) struct Batches<T> {
    topics: HashMap<String, Waiting<T>>,
    most: usize,
}

struct Waiting<T> {
    items: VecDeque<Item<T>>,
    in_flight: bool,
}

/// One item and whether it goes in a batch of its own.
pub(crate) struct Item<T> {
    pub(crate) value: T,
    alone: bool,
}

impl<T> Batches<T> {
    /// Batches of at most `most` items.
    pub(crate) fn new(most: usize) -> Self {
        Batches {
            topics: HashMap::new(),
            most: most.max(1),
        }
    }

    /// Adds an item of `topic`.
    pub(crate) fn push(&mut self, topic: &str, value: T) {
        let item = Item {
            value,
            alone: false,
        };
        match self.topics.get_mut(topic) {
            Some(waiting) => waiting.items.push_back(item),
            None => {
                let waiting = Waiting {
                    items: VecDeque::from([item]),
                    in_flight: false,
                };
                self.topics.insert(topic.to_string(), waiting);
            }
        }
    }

    /// The next batch of `topic` to send, now in flight; `None` while one is in flight or when
    /// none waits.
    pub(crate) fn next_batch(&mut self, topic: &str) -> Option<Vec<Item<T>>> {
        let waiting = self.topics.get_mut(topic)?;
        if waiting.in_flight || waiting.items.is_empty() {
            return None;
        }
        waiting.in_flight = true;
        if waiting.items.front().is_some_and(|item| item.alone) {
            return waiting.items.pop_front().map(|item| vec![item]);
        }
        let together = waiting
            .items
            .iter()
            .take(self.most)
            .take_while(|item| !item.alone)
            .count();
        Some(waiting.items.drain(..together).collect())
    }

    /// `batch` of `topic` came back with `error` (or none): the batch is handed back to be
    /// answered, or, when the error may be one item's own, kept to be tried again one by one
    /// (`None`).
    pub(crate) fn finished(
        &mut self,
        topic: &str,
        batch: Vec<Item<T>>,
        error: Option<&redis::RedisError>,
    ) -> Option<Vec<T>> {
        let waiting = self.topics.get_mut(topic)?;
        waiting.in_flight = false;
        if batch.len() > 1 && error.is_some_and(|e| !is_outage(e)) {
            for mut item in batch.into_iter().rev() {
                item.alone = true;
                waiting.items.push_front(item);
            }
            return None;
        }
        Some(batch.into_iter().map(|item| item.value).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::ErrorKind;

    fn waiting(n: usize) -> Batches<usize> {
        let mut batches = Batches::new(4);
        for i in 0..n {
            batches.push("t", i);
        }
        batches
    }

    fn values(batch: &[Item<usize>]) -> Vec<usize> {
        batch.iter().map(|item| item.value).collect()
    }

    #[test]
    fn one_batch_is_in_flight_at_a_time_and_the_rest_go_together_in_the_next() {
        let mut batches = waiting(6);
        let first = batches.next_batch("t").unwrap();
        assert_eq!(values(&first), [0, 1, 2, 3]);
        assert!(batches.next_batch("t").is_none(), "one in flight");
        assert_eq!(batches.finished("t", first, None), Some(vec![0, 1, 2, 3]));
        assert_eq!(values(&batches.next_batch("t").unwrap()), [4, 5]);
        assert!(batches.next_batch("other").is_none());
    }

    #[test]
    fn a_batch_failing_with_a_script_error_is_tried_again_one_item_at_a_time() {
        let mut batches = waiting(3);
        let batch = batches.next_batch("t").unwrap();
        let wrong = redis::RedisError::from((ErrorKind::TypeError, "WRONGTYPE"));
        assert_eq!(batches.finished("t", batch, Some(&wrong)), None);
        batches.push("t", 9);
        for expected in [0, 1, 2] {
            let alone = batches.next_batch("t").unwrap();
            assert_eq!(values(&alone), [expected]);
            let answered = batches.finished("t", alone, Some(&wrong));
            assert_eq!(
                answered,
                Some(vec![expected]),
                "alone, its error is its own"
            );
        }
        assert_eq!(values(&batches.next_batch("t").unwrap()), [9]);
    }

    #[test]
    fn an_outage_hands_the_whole_batch_back() {
        let mut batches = waiting(2);
        let batch = batches.next_batch("t").unwrap();
        let gone = redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(batches.finished("t", batch, Some(&gone)), Some(vec![0, 1]));
    }
}
