//! Shared by the test binaries that run real executables: a child process whose log lines can
//! be awaited, killed when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// A running child process with its stderr lines on a channel.
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

    /// Reads output lines until one contains `needle`; returns it.
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
}

/// The test Redis started by scripts/test.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").expect("REDIS_URL is set by scripts/test")
}

/// A free loopback port (bound and released; a small race is acceptable in tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh MessageSid.
pub fn new_sid() -> String {
    format!("SM{:032x}", rand::random::<u128>())
}
