//! How an error is printed wherever it is reported (a log line, a command's `error:` line): its
//! own message and every cause after it, once, on one line. Errors carry their causes as
//! `#[source]`, never inside their own message, so nothing is printed twice.

use std::fmt;

/// Displays an error and its causes: `failed to reach redis: Connection refused (os error 111)`.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'a));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// [`Chain`] as a `String`, for messages stored or compared (an attempt's reason).
pub fn chain(error: &dyn std::error::Error) -> String {
    Chain(error).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("failed to send the reply")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("redis refused the send marker")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn prints_every_cause_once_in_order() {
        let error = Outer(Inner(std::io::Error::other("OOM command not allowed")));

        let printed = Chain(&error).to_string();

        assert_eq!(
            printed,
            "failed to send the reply: redis refused the send marker: OOM command not allowed"
        );
    }
}
