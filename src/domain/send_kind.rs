//! Which of a job's outbound messages a send is. It names the send's at-most-once marker and
//! appears in the record, as `accept`, `reply`, `reply-N` (part N of a reply split at Twilio's
//! 1600-character limit, N ≥ 2), `extra-N` (the handler's Nth extra message through
//! `HandlerContext::sms`/`mms`/`send`) or `outbound` (a text queued through the outbound API or
//! `pyrowire send`, which has no handler).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One outbound message of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendKind {
    /// The topic's `accept_response`, sent as an SMS (`send_on_accept`).
    Accept,
    /// Part `n` of the reply (1 for the whole reply or its first part, written `reply`).
    Reply(u32),
    /// The handler's `n`th extra message (from 1).
    Extra(u32),
    /// A text pyrowire sends first (the outbound API, `pyrowire send`).
    Outbound,
}

impl fmt::Display for SendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendKind::Accept => f.write_str("accept"),
            SendKind::Reply(1) => f.write_str("reply"),
            SendKind::Reply(n) => write!(f, "reply-{n}"),
            SendKind::Extra(n) => write!(f, "extra-{n}"),
            SendKind::Outbound => f.write_str("outbound"),
        }
    }
}

/// A send kind that is none of `accept`, `reply`, `reply-N`, `extra-N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a send kind (accept, reply, reply-N, extra-N or outbound)")]
pub struct UnknownSendKind(String);

impl FromStr for SendKind {
    type Err = UnknownSendKind;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = |rest: &str| rest.parse::<u32>().ok().filter(|n| *n >= 1);
        let kind = match text {
            "accept" => Some(SendKind::Accept),
            "reply" => Some(SendKind::Reply(1)),
            "outbound" => Some(SendKind::Outbound),
            _ => match text.split_once('-') {
                Some(("reply", n)) => number(n).filter(|n| *n >= 2).map(SendKind::Reply),
                Some(("extra", n)) => number(n).map(SendKind::Extra),
                _ => None,
            },
        };
        kind.ok_or_else(|| UnknownSendKind(text.to_string()))
    }
}

impl Serialize for SendKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SendKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_as_written() {
        for kind in [
            SendKind::Accept,
            SendKind::Reply(1),
            SendKind::Reply(3),
            SendKind::Extra(1),
            SendKind::Extra(12),
            SendKind::Outbound,
        ] {
            assert_eq!(kind.to_string().parse::<SendKind>(), Ok(kind));
        }
        assert_eq!(SendKind::Reply(2).to_string(), "reply-2");
    }

    #[test]
    fn refuses_what_is_not_a_kind() {
        for text in [
            "", "reply-1", "reply-0", "extra-0", "extra", "reply-x", "accepted",
        ] {
            assert!(text.parse::<SendKind>().is_err(), "{text}");
        }
    }

    #[test]
    fn serializes_as_its_text() {
        let json = serde_json::to_string(&SendKind::Extra(2)).unwrap();
        assert_eq!(json, "\"extra-2\"");
        assert_eq!(
            serde_json::from_str::<SendKind>("\"reply\"").unwrap(),
            SendKind::Reply(1)
        );
    }
}
