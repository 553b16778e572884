//! A running `pyrowire serve` in one role, on `tests/common`'s `Process`: started, waited for
//! until it says it is ready, signalled.

use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use crate::common::Process;
use crate::STARTUP;

#[derive(Clone, Copy, PartialEq)]
pub enum Role {
    All,
    Web,
    Worker,
}

impl Role {
    fn arg(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Web => "web",
            Role::Worker => "worker",
        }
    }

    fn ready_line(self) -> &'static str {
        match self {
            Role::Worker => "Worker pool started.",
            _ => "Listening on http://",
        }
    }
}

/// A running `pyrowire serve`; killed when dropped.
pub struct Pyrowire {
    process: Process,
    /// `http://127.0.0.1:PORT` for web roles, empty for workers.
    pub address: String,
    /// The line that said it was ready.
    ready: String,
}

impl Pyrowire {
    /// Every line printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.process.all_lines()
    }

    pub async fn start(settings: &Path, role: Role) -> Pyrowire {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pyrowire"));
        command
            .args(["serve", "--profile", "test", "--role", role.arg()])
            .arg("--settings")
            .arg(settings)
            .env_remove("PORT")
            .env_remove("TOPIC");
        let mut process = Process::start(command);
        let ready = process.await_line(role.ready_line(), STARTUP).await;
        let address = match role {
            Role::Worker => String::new(),
            _ => ready
                .split("Listening on ")
                .nth(1)
                .unwrap()
                .trim()
                .to_string(),
        };
        Pyrowire {
            process,
            address,
            ready,
        }
    }

    /// This worker's consumer name, from its "Worker pool started. ... consumer=NAME" line.
    pub fn consumer(&self) -> String {
        let name = self.ready.split("consumer=").nth(1);
        let name = name.and_then(|rest| rest.split_whitespace().next());
        name.unwrap_or_else(|| panic!("no consumer= in {:?}", self.ready))
            .to_string()
    }

    pub fn sigkill(&mut self) {
        self.process.kill();
    }

    pub fn sigterm(&self) {
        self.process.signal("TERM");
    }

    pub fn has_exited(&mut self) -> bool {
        self.process.has_exited()
    }

    pub async fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.process.wait_for_exit(timeout).await
    }
}
