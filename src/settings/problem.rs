//! One thing wrong with a settings file: the dotted key and what is wrong with it. Both loading
//! (parse and type errors) and validation (ranges, relations) report these.

use std::fmt;

/// One thing wrong with a settings file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, such as `topics.sample.max_message_length`.
    pub key: String,
    /// What is wrong, such as "must be at most 1600, got 1601".
    pub problem: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "`{}` {}", self.key, self.problem)
        }
    }
}

/// Adds the problem that `key` is wrong as `problem` says.
pub(crate) fn push(problems: &mut Vec<Problem>, key: String, problem: String) {
    problems.push(Problem { key, problem });
}
