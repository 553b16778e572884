//! What a handler answers: nothing, text, media, or both.

use serde::{Deserialize, Serialize};

/// What a handler answers: nothing, text, media, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The reply text.
    pub text: Option<String>,
    /// Media URLs to attach (MMS).
    pub media_urls: Vec<String>,
}

impl Reply {
    /// No reply at all.
    pub fn none() -> Self {
        Reply::default()
    }
    /// A text reply.
    pub fn text(text: impl Into<String>) -> Self {
        Reply {
            text: Some(text.into()),
            media_urls: Vec::new(),
        }
    }
    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.text.as_deref().is_none_or(str::is_empty) && self.media_urls.is_empty()
    }
}
