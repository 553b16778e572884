//! `pyrowire session TOPIC NUMBER [--clear]`: show one sender's session (the JSON object its
//! handler keeps between messages) and how long until it expires, or delete it with `--clear`.
//! A clear removes the session and its entry in the topic's `sessions` set in one `MULTI`, so
//! the dashboard's count of live sessions drops with it and a worker never sees half of it.

use std::fmt::Write;

use serde_json::Value;

use crate::domain::{InboundError, PhoneNumber};
use crate::settings::Settings;
use crate::store::blocking::{connect_for_tools, BlockingConn};
use crate::store::keys::Keys;

/// Why the session could not be shown or cleared.
#[derive(Debug, thiserror::Error)]
pub enum SessionCommandError {
    /// No such topic in the settings.
    #[error("unknown topic `{0}`")]
    UnknownTopic(String),
    /// The NUMBER argument is not a phone number as a webhook would carry it.
    #[error("`{number}` is not a phone number")]
    BadNumber {
        /// The argument, control characters escaped.
        number: String,
        /// What is wrong with it.
        #[source]
        source: InboundError,
    },
    /// Redis failed.
    #[error("failed to reach redis at {url}")]
    Redis {
        /// The Redis URL, password removed.
        url: String,
        /// What Redis or the connection said.
        #[source]
        source: redis::RedisError,
    },
}

/// Shows the session of `number` in `topic`, or deletes it when `clear` is set; returns the
/// text to print.
pub fn session(
    settings: &Settings,
    topic: &str,
    number: &str,
    clear: bool,
) -> Result<String, SessionCommandError> {
    if !settings.topics.contains_key(topic) {
        return Err(SessionCommandError::UnknownTopic(topic.to_string()));
    }
    let number = parse_number(number)?;
    let (conn, url) = connect_for_tools(&settings.profile);
    let redis_error = |source| SessionCommandError::Redis {
        url: url.clone(),
        source,
    };
    let mut conn = conn.map_err(redis_error)?;
    let keys = Keys::new(settings.profile.redis_prefix.clone());
    let answer = if clear {
        clear_session(&mut conn, &keys, topic, &number)
    } else {
        show_session(&mut conn, &keys, topic, &number)
    };
    answer.map_err(redis_error)
}

/// The argument as the key part the workers use: the number exactly as Twilio sends it.
fn parse_number(number: &str) -> Result<PhoneNumber, SessionCommandError> {
    PhoneNumber::parse("NUMBER", number).map_err(|source| SessionCommandError::BadNumber {
        number: number.escape_debug().to_string(),
        source,
    })
}

/// The session and its time to live, read together.
fn show_session(
    conn: &mut BlockingConn,
    keys: &Keys,
    topic: &str,
    number: &PhoneNumber,
) -> redis::RedisResult<String> {
    let key = keys.session(topic, number);
    let (json, ttl_s): (Option<String>, i64) =
        redis::pipe().atomic().get(&key).ttl(&key).query(conn)?;
    let mut out = String::new();
    let Some(json) = json else {
        let _ = writeln!(out, "no session for {number} in `{topic}`{}", hint(number));
        return Ok(out);
    };
    let expiry = match u64::try_from(ttl_s) {
        Ok(seconds) => format!("expires in {} without another message", for_humans(seconds)),
        Err(_) => "does not expire".to_string(),
    };
    let _ = writeln!(out, "session of {number} in `{topic}`, {expiry}:");
    match serde_json::from_str::<Value>(&json) {
        Ok(value @ Value::Object(_)) => {
            let pretty = serde_json::to_string_pretty(&value).unwrap_or(json);
            let _ = writeln!(out, "{pretty}");
        }
        _ => {
            let _ = writeln!(out, "{json}");
            let _ = writeln!(out, "(not a JSON object: handlers see an empty session)");
        }
    }
    Ok(out)
}

/// Deletes the session and its entry in the topic's set of live sessions, atomically.
fn clear_session(
    conn: &mut BlockingConn,
    keys: &Keys,
    topic: &str,
    number: &PhoneNumber,
) -> redis::RedisResult<String> {
    let (deleted, _unlisted): (u64, u64) = redis::pipe()
        .atomic()
        .del(keys.session(topic, number))
        .zrem(keys.sessions(topic), number.as_str())
        .query(conn)?;
    Ok(if deleted > 0 {
        format!("cleared the session of {number} in `{topic}`\n")
    } else {
        format!(
            "no session for {number} in `{topic}`, nothing cleared{}\n",
            hint(number)
        )
    })
}

/// A reminder of the form numbers are kept in, for a number typed without its `+`.
fn hint(number: &str) -> &'static str {
    if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) {
        " (numbers are kept as Twilio sends them: +15551234567)"
    } else {
        ""
    }
}

/// `3h 59m 58s`: whole units, the zero ones left out (`0s` for none).
fn for_humans(seconds: u64) -> String {
    let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let mut left = seconds;
    let mut parts = Vec::new();
    for (size, unit) in units {
        if left >= size {
            parts.push(format!("{}{unit}", left / size));
            left %= size;
        }
    }
    if parts.is_empty() {
        return "0s".to_string();
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_whole_units_without_zero_ones() {
        assert_eq!(for_humans(0), "0s");
        assert_eq!(for_humans(59), "59s");
        assert_eq!(for_humans(14_400), "4h");
        assert_eq!(for_humans(14_398), "3h 59m 58s");
        assert_eq!(for_humans(90_061), "1d 1h 1m 1s");
    }

    #[test]
    fn a_bad_number_is_refused_with_its_problem_and_escaped() {
        let blank = parse_number(" ").unwrap_err();
        assert_eq!(blank.to_string(), "` ` is not a phone number");
        let error = parse_number("+1555\n1234").unwrap_err();
        assert_eq!(error.to_string(), "`+1555\\n1234` is not a phone number");
        let cause = std::error::Error::source(&error).unwrap().to_string();
        assert!(cause.contains("without control characters"), "{cause}");
        assert_eq!(parse_number("+15551234567").unwrap(), "+15551234567");
    }

    #[test]
    fn a_number_without_its_plus_gets_a_hint() {
        assert!(hint("15551234567").contains("+15551234567"));
        assert_eq!(hint("+15551234567"), "");
        assert_eq!(hint("whatsapp:+15551234567"), "");
    }
}
