//! Which of a topic's two queues a job waits in. Replies to inbound texts (and the texts their
//! handlers send) are `interactive`; a text sent first is `interactive` unless it asks to be
//! `bulk`. Workers take interactive work first, and bulk work has its own bound, so a broadcast
//! never delays a reply by more than a send or takes the room inbound texts need.

use serde::{Deserialize, Serialize};

/// A job's lane.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Lane {
    /// Replies, and texts sent first that a person waits for (the default).
    #[default]
    Interactive,
    /// Broadcasts and campaigns: sent while no interactive work waits.
    Bulk,
}

impl Lane {
    /// `interactive` or `bulk`, as the API and the status show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Interactive => "interactive",
            Lane::Bulk => "bulk",
        }
    }

    /// The lane `name` names (`interactive` or `bulk`, any case).
    pub fn parse(name: &str) -> Option<Lane> {
        match name.trim().to_ascii_lowercase().as_str() {
            "interactive" => Some(Lane::Interactive),
            "bulk" => Some(Lane::Bulk),
            _ => None,
        }
    }

    /// Whether this is the bulk lane.
    pub fn is_bulk(self) -> bool {
        self == Lane::Bulk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_refused() {
        for lane in [Lane::Interactive, Lane::Bulk] {
            assert_eq!(Lane::parse(lane.as_str()), Some(lane));
        }
        assert_eq!(Lane::parse(" Bulk "), Some(Lane::Bulk));
        assert_eq!(Lane::parse("urgent"), None);
        assert_eq!(Lane::default(), Lane::Interactive);
    }
}
