//! Redis over TLS for tests: a throwaway certificate authority and a server certificate for
//! 127.0.0.1 and localhost, made with the `openssl` command in a temporary directory, and a
//! `redis-server` of one test's own that listens only on a TLS port (`rediss://`). A second,
//! unrelated authority lets a test show that a client trusting the wrong one is refused.
//!
//! Readiness is checked with `redis-cli --tls`, so the harness does not depend on the TLS
//! features of the Rust `redis` crate.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::process::run_bounded;
use super::{free_port_below, Process};

/// How long one `openssl` or `redis-cli` run may take.
const COMMAND_LIMIT: Duration = Duration::from_secs(10);

/// A `redis-server` that speaks only TLS, on a free loopback port, with its own certificate
/// authority and data directory. Killed when dropped.
pub struct TlsRedis {
    port: u16,
    password: Option<String>,
    // Declared before `dir` so that the server is killed before its files are removed.
    server: Process,
    dir: tempfile::TempDir,
}

impl TlsRedis {
    /// Starts a server that asks for no password; waits until it answers PING over TLS.
    pub async fn start() -> TlsRedis {
        TlsRedis::start_with(None).await
    }

    /// Starts a server that requires `password` (`requirepass`); waits until it answers PING
    /// over TLS.
    pub async fn start_with_password(password: &str) -> TlsRedis {
        TlsRedis::start_with(Some(password.to_string())).await
    }

    async fn start_with(password: Option<String>) -> TlsRedis {
        let dir = tempfile::tempdir().unwrap();
        make_certificates(dir.path()).await;
        let port = free_port_below(32_768);
        let path = |name: &str| dir.path().join(name);
        let mut command = Command::new("redis-server");
        // Port 0 turns the plain listener off: every client has to speak TLS.
        command
            .args(["--bind", "127.0.0.1", "--port", "0"])
            .args(["--tls-port", &port.to_string()])
            .arg("--tls-cert-file")
            .arg(path("server.crt"))
            .arg("--tls-key-file")
            .arg(path("server.key"))
            .arg("--tls-ca-cert-file")
            .arg(path("ca.crt"))
            .args(["--tls-auth-clients", "no"])
            .arg("--dir")
            .arg(dir.path())
            .args(["--save", "", "--appendonly", "no"]);
        if let Some(password) = &password {
            command.args(["--requirepass", password]);
        }
        let mut redis = TlsRedis {
            port,
            password,
            server: Process::start(command),
            dir,
        };
        redis.wait_until_answering(Duration::from_secs(10)).await;
        redis
    }

    /// The TLS port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `rediss://127.0.0.1:<port>/0`, with `:<password>@` when the server requires one.
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("rediss://:{password}@127.0.0.1:{}/0", self.port),
            None => format!("rediss://127.0.0.1:{}/0", self.port),
        }
    }

    /// The PEM file of the authority that signed the server's certificate (what a client must
    /// trust).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// The PEM file of another authority, which signed nothing this server presents: a client
    /// trusting only it must fail the handshake.
    pub fn wrong_ca_file(&self) -> PathBuf {
        self.dir.path().join("wrong-ca.crt")
    }

    /// Runs `redis-cli --tls --cacert <ca> -h 127.0.0.1 -p <port> [-a <password>] <args>`.
    pub async fn cli(&self, ca: &Path, args: &[&str]) -> Output {
        let mut command = Command::new("redis-cli");
        command.arg("--tls").arg("--cacert").arg(ca).args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
        ]);
        if let Some(password) = &self.password {
            command.args(["-a", password, "--no-auth-warning"]);
        }
        command.args(args);
        run_bounded(command, COMMAND_LIMIT).await
    }

    async fn wait_until_answering(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.server.has_exited() {
                panic!("TLS redis-server exited:\n{}", self.server.tail());
            }
            let answer = self.cli(&self.ca_file(), &["ping"]).await;
            if String::from_utf8_lossy(&answer.stdout).trim() == "PONG" {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "TLS redis-server did not answer PING within {timeout:?}: {}\n{}",
                    String::from_utf8_lossy(&answer.stderr),
                    self.server.tail()
                );
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Writes into `dir`: `ca.key` and `ca.crt` (a self-signed authority), `server.key` and
/// `server.crt` (signed by it, for IP 127.0.0.1 and DNS localhost), and `wrong-ca.crt` (an
/// unrelated authority). Version 3 certificates with the usual extensions, which strict
/// verifiers (webpki) require; P-256 keys, which are quick to make. Valid for two days.
async fn make_certificates(dir: &Path) {
    // A configuration of our own, so that the machine's openssl.cnf does not matter.
    std::fs::write(
        dir.join("req.cnf"),
        "[req]\ndistinguished_name = dn\n[dn]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature, keyEncipherment\n\
         extendedKeyUsage = serverAuth\n\
         subjectAltName = IP:127.0.0.1, DNS:localhost\n",
    )
    .unwrap();
    let new_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    let authority = |key: &str, cert: &str, name: &str| {
        vec![
            format!("req -config req.cnf -x509 {new_key} -keyout {key} -out {cert} -days 2"),
            format!("-subj /CN={name}"),
            "-addext basicConstraints=critical,CA:TRUE".into(),
            "-addext keyUsage=critical,keyCertSign,cRLSign".into(),
        ]
    };
    let steps = [
        authority("ca.key", "ca.crt", "pyrowire-test-CA"),
        authority("wrong-ca.key", "wrong-ca.crt", "unrelated-test-CA"),
        vec![
            format!("req -config req.cnf -new {new_key} -keyout server.key -out server.csr"),
            "-subj /CN=localhost".into(),
        ],
        vec![
            "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial".into(),
            "-out server.crt -days 2 -extfile server.ext".into(),
        ],
    ];
    for step in steps {
        // No argument has a space, so each step is written as words.
        let words = step.join(" ");
        let mut command = Command::new("openssl");
        command.current_dir(dir).args(words.split_whitespace());
        let output = run_bounded(command, COMMAND_LIMIT).await;
        assert!(
            output.status.success(),
            "openssl {words} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
