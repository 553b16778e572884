//! A conversation's memory: one JSON object per topic and sender, which a handler reads as the
//! sender's previous message left it and may change. What the handler did to it
//! ([`SessionChange`]) is saved with the job's completion, never before.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// Largest session saved, in bytes of JSON: a larger one fails the job for good.
pub const MAX_SESSION_BYTES: usize = 16 * 1024;

/// One sender's session: a JSON object, `{}` when there is none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Session(Map<String, Value>);

/// Why a value could not be read from or written into a session.
#[derive(Debug, thiserror::Error)]
#[error("session value `{key}`: {source}")]
pub struct SessionError {
    key: String,
    #[source]
    source: serde_json::Error,
}

impl Session {
    /// An empty session.
    pub fn new() -> Self {
        Session::default()
    }

    /// A session holding this JSON object.
    pub fn from_map(map: Map<String, Value>) -> Self {
        Session(map)
    }

    /// Reads a session saved as JSON; anything but an object reads as empty.
    pub(crate) fn from_json(json: &str) -> Self {
        match serde_json::from_str(json) {
            Ok(Value::Object(map)) => Session(map),
            _ => Session::default(),
        }
    }

    /// The session as JSON text.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".into())
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value under `key`, converted to `T`: `Ok(None)` when absent, an error when it is
    /// there but not a `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        self.0
            .get(key)
            .map(|value| serde_json::from_value(value.clone()))
            .transpose()
            .map_err(|source| SessionError {
                key: key.to_string(),
                source,
            })
    }

    /// Stores `value` under `key`.
    pub fn set<T: Serialize>(&mut self, key: &str, value: T) -> Result<(), SessionError> {
        let value = serde_json::to_value(value).map_err(|source| SessionError {
            key: key.to_string(),
            source,
        })?;
        self.0.insert(key.to_string(), value);
        Ok(())
    }

    /// Removes `key`, answering its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.0.remove(key)
    }

    /// The whole object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The session as a JSON value.
    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

/// What a job does to its sender's session when it completes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum SessionChange {
    /// Leave it as it is (its inactivity clock restarts).
    #[default]
    Keep,
    /// Save this one in its place.
    Replace(Session),
    /// Delete it: the conversation is over.
    End,
}

impl SessionChange {
    /// Checks the change and answers what to save, a replacement already as JSON; refuses one
    /// over [`MAX_SESSION_BYTES`].
    pub(crate) fn into_save(self) -> Result<SessionSave, SessionTooLarge> {
        Ok(match (self.checked_json()?, self) {
            (Some(json), _) => SessionSave::Replace(json),
            (None, Self::End) => SessionSave::End,
            (None, _) => SessionSave::Keep,
        })
    }

    /// Refuses a replacement over [`MAX_SESSION_BYTES`]; answers the JSON to save otherwise.
    pub(crate) fn checked_json(&self) -> Result<Option<String>, SessionTooLarge> {
        let Self::Replace(session) = self else {
            return Ok(None);
        };
        let json = session.to_json();
        if json.len() > MAX_SESSION_BYTES {
            return Err(SessionTooLarge { bytes: json.len() });
        }
        Ok(Some(json))
    }
}

/// A session a handler left over [`MAX_SESSION_BYTES`] of JSON: refused, the previous one kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "session too large: {bytes} bytes of JSON, at most {MAX_SESSION_BYTES}; the previous session was kept"
)]
pub(crate) struct SessionTooLarge {
    /// Its size as JSON.
    pub bytes: usize,
}

/// A checked change, as the completion saves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SessionSave {
    /// Restart the clock of an existing session.
    Keep,
    /// Save this JSON (at most [`MAX_SESSION_BYTES`]).
    Replace(String),
    /// Delete the session.
    End,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values_round_trip_and_a_wrong_type_is_an_error() {
        let mut session = Session::new();
        session.set("count", 3u32).unwrap();
        session.set("name", "Ada").unwrap();
        assert_eq!(session.get::<u32>("count").unwrap(), Some(3));
        assert_eq!(session.get::<String>("missing").unwrap(), None);
        assert!(session.get::<u32>("name").is_err());
        let back = Session::from_json(&session.to_json());
        assert_eq!(back, session);
        assert!(Session::from_json("[1]").is_empty());
    }

    #[test]
    fn a_replacement_over_16_kib_is_refused() {
        let mut session = Session::new();
        session.set("blob", "x".repeat(MAX_SESSION_BYTES)).unwrap();
        let error = SessionChange::Replace(session).checked_json().unwrap_err();
        assert!(
            error.to_string().starts_with("session too large"),
            "{error}"
        );
        let mut small = Session::new();
        small.set("n", 1).unwrap();
        assert_eq!(
            SessionChange::Replace(small).checked_json().unwrap(),
            Some(r#"{"n":1}"#.to_string())
        );
        assert_eq!(SessionChange::End.checked_json().unwrap(), None);
    }
}
