//! A real child process (pyrowire, an example, redis-server) whose output lines can be awaited,
//! killed when dropped; and short commands run to completion within a time limit.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// A running child process with its stdout and stderr lines on a channel.
pub struct Process {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    history: Arc<Mutex<Vec<String>>>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// Starts `command` with stdout and stderr piped and RUST_LOG removed from its environment
    /// (so that the log level is the one its settings ask for).
    pub fn start(mut command: Command) -> Process {
        let mut child = command
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the executable starts");
        let (tx, lines) = mpsc::channel();
        let history = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stdout.take().unwrap()),
        ] {
            let tx = tx.clone();
            let history = history.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    history.lock().unwrap().push(line.clone());
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Process {
            child,
            lines,
            history,
        }
    }

    /// Reads output lines until one contains `needle`; returns it. Blocks the thread: in an
    /// async test that also serves a stand-in, use [`Process::await_line`].
    pub fn wait_for_line(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        panic!("no output line with {needle:?} within {timeout:?}; saw: {seen:#?}");
    }

    /// The address from pyrowire's "Listening on http://..." line.
    pub fn listening_address(&self) -> String {
        let line = self.wait_for_line("Listening on http://", Duration::from_secs(30));
        line.split("Listening on ")
            .nth(1)
            .unwrap()
            .trim()
            .to_string()
    }

    /// Every line printed so far, waited for or not.
    pub fn all_lines(&self) -> Vec<String> {
        self.history.lock().unwrap().clone()
    }

    /// Every line printed so far that was not consumed by a wait.
    pub fn drain_lines(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// Reads output lines until one contains `needle`, polling without blocking the runtime;
    /// returns it. Panics with the last lines when the process exits or the time is up first.
    pub async fn await_line(&mut self, needle: &str, timeout: Duration) -> String {
        let (lines, child) = (&self.lines, &mut self.child);
        let found = super::poll_until(timeout, || {
            while let Ok(line) = lines.try_recv() {
                if line.contains(needle) {
                    return Some(Ok(line));
                }
            }
            child.try_wait().ok().flatten().map(Err)
        })
        .await;
        match found {
            Some(Ok(line)) => line,
            Some(Err(status)) => panic!("exited ({status}) before {needle:?}:\n{}", self.tail()),
            None => panic!(
                "no output line with {needle:?} within {timeout:?}:\n{}",
                self.tail()
            ),
        }
    }

    /// The last 40 lines printed, for failure messages.
    pub fn tail(&self) -> String {
        let history = self.history.lock().unwrap();
        let start = history.len().saturating_sub(40);
        history[start..].join("\n")
    }

    /// Sends a signal by name (`TERM`, `INT`, ...) with kill(1).
    pub fn signal(&self, name: &str) {
        let pid = self.child.id();
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} {pid} failed");
    }

    /// SIGKILL, then reaps the process.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Whether the process has exited (reaping it if so).
    pub fn has_exited(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }

    /// Waits (without blocking the runtime) for the process to exit; None when it is still
    /// running after `timeout`.
    pub async fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = &mut self.child;
        super::poll_until(timeout, || child.try_wait().ok().flatten()).await
    }
}

/// Runs a short command (openssl, redis-cli) to completion with its output captured, polling
/// without blocking the runtime; kills it and panics when it is still running after `timeout`.
/// Its output must stay small (a few KiB: it sits in the pipes until the command exits).
pub async fn run_bounded(mut command: Command, timeout: Duration) -> std::process::Output {
    let shown = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{shown} does not start: {error}"));
    let exited = super::poll_until(timeout, || child.try_wait().ok().flatten()).await;
    if exited.is_none() {
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        panic!(
            "{shown} still running after {timeout:?}; it printed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    child.wait_with_output().unwrap()
}
