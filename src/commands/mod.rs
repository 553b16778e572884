//! The command-line commands other than `serve`: `check`, `dead`, `health`, `init`, `recent`,
//! `send`, `session` and `status`; and how every command, `serve` too, ends the process (`finish`).

pub mod check;
pub mod dead;
pub mod finish;
pub mod health;
pub mod init;
pub mod recent;
pub mod send;
pub mod session;
pub mod status;

/// How a command prints its answer: text for a person, or one JSON document for a script
/// (`--json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The text a terminal shows.
    #[default]
    Text,
    /// One JSON document (pretty-printed, then a newline) on stdout.
    Json,
}

/// `value` as the one JSON document a `--json` command prints.
pub fn json_document<T: serde::Serialize>(value: &T) -> String {
    let mut out = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
    out.push('\n');
    out
}

/// Which way a listed message went, as `recent` and `dead` report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A message received from the number.
    Inbound,
    /// A text sent first to the number.
    Outbound,
}

impl Direction {
    /// `Outbound` for a text sent first, `Inbound` otherwise.
    pub(crate) fn of(outbound: bool) -> Self {
        if outbound {
            Direction::Outbound
        } else {
            Direction::Inbound
        }
    }
}
