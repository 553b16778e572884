//! How every command ends the process: its output on stdout and exit 0, or its error on stderr
//! (each problem with the input on its own line, then the error with its causes) and the exit
//! code the error calls for: 2 when the input was at fault, 1 when something else was.

use std::process::ExitCode;

use crate::errors::Chain;

/// A command's error, as the process reports it.
pub trait Failure: std::error::Error {
    /// Every problem with the input, printed before the error itself.
    fn problems(&self) -> &[String] {
        &[]
    }

    /// Whether the input was at fault (exit 2) rather than something else (exit 1).
    fn is_bad_input(&self) -> bool {
        false
    }
}

/// Prints `result` as the process's answer and says how it exits.
pub fn finish<E: Failure>(result: Result<String, E>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            for problem in error.problems() {
                eprintln!("error: {problem}");
            }
            eprintln!("error: {}", Chain(&error));
            if error.is_bad_input() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

impl Failure for crate::settings::SettingsError {
    fn is_bad_input(&self) -> bool {
        true
    }
}

impl Failure for crate::builder::RunError {}
impl Failure for super::dead::DeadError {}
impl Failure for super::health::HealthError {}
impl Failure for super::init::InitError {}
impl Failure for super::recent::RecentError {}
impl Failure for super::session::SessionCommandError {}
impl Failure for super::status::StatusError {}

impl Failure for super::send::SendError {
    fn problems(&self) -> &[String] {
        super::send::SendError::problems(self)
    }

    fn is_bad_input(&self) -> bool {
        super::send::SendError::is_bad_input(self)
    }
}
