//! Why a webhook's parameters do not make a message.

/// Why a webhook's parameters do not make a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    /// A required parameter is absent or empty.
    #[error("missing required parameter `{0}`")]
    Missing(&'static str),
    /// A parameter has a value that cannot be right.
    #[error("parameter `{name}` is invalid: {problem}")]
    Invalid {
        /// The parameter.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
}
