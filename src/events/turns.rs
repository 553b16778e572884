//! Which of a topic's oldest events to post now: per number, only its oldest event not yet
//! taken, so a number's events go out in order; a number whose oldest event is in flight or
//! waits out a backoff waits with it, while other numbers go on.

use std::collections::HashSet;

use super::event::StoredEvent;

/// Where one event stands in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Standing {
    /// Not yet tried, or its backoff is over: it may go now.
    Ready,
    /// Being posted, or waiting out a backoff: its number waits.
    Busy,
    /// Taken by the endpoint (its deletion may not have reached the read): skipped, and it
    /// does not hold up its number.
    Taken,
}

/// The events of `window` (oldest first) to post now, at most `room`, given each one's
/// standing.
pub(super) fn ready(
    window: &[StoredEvent],
    standing: impl Fn(&StoredEvent) -> Standing,
    room: usize,
) -> Vec<&StoredEvent> {
    let mut waiting: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    for event in window {
        if out.len() >= room {
            break;
        }
        let standing = standing(event);
        if standing == Standing::Taken || !waiting.insert(event.number.as_str()) {
            continue;
        }
        if standing == Standing::Ready {
            out.push(event);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(entry: &str, number: &str) -> StoredEvent {
        StoredEvent {
            entry: entry.into(),
            number: number.into(),
            ..StoredEvent::default()
        }
    }

    fn entries(events: Vec<&StoredEvent>) -> Vec<&str> {
        events.iter().map(|e| e.entry.as_str()).collect()
    }

    #[test]
    fn one_event_per_number_the_oldest() {
        let window = [event("1", "a"), event("2", "a"), event("3", "b")];
        let now = ready(&window, |_| Standing::Ready, 10);
        assert_eq!(entries(now), ["1", "3"]);
    }

    #[test]
    fn a_busy_event_holds_its_number_and_a_taken_one_does_not() {
        let window = [
            event("1", "a"),
            event("2", "a"),
            event("3", "b"),
            event("4", "b"),
        ];
        let standing = |e: &StoredEvent| match e.entry.as_str() {
            "1" => Standing::Busy,
            "3" => Standing::Taken,
            _ => Standing::Ready,
        };
        assert_eq!(entries(ready(&window, standing, 10)), ["4"]);
    }

    #[test]
    fn no_more_than_the_room() {
        let window = [event("1", "a"), event("2", "b"), event("3", "c")];
        assert_eq!(entries(ready(&window, |_| Standing::Ready, 2)), ["1", "2"]);
    }
}
