//! A running `roundtrip serve` on an ephemeral 127.0.0.1 port, for the
//! tests that drive it with real clients over TCP. Every wait is bounded
//! by [`DEADLINE`] and polls something observable: a line on stderr, the
//! process's exit. The websocket benchmark uses it too.

// Each test binary uses some of it.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a line on stderr, or the process's exit, may take.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A running `roundtrip serve`, killed when dropped.
pub struct Serve {
    pub child: Child,
    /// The web server's address, from the first line naming `http://`.
    pub addr: SocketAddr,
    /// Its stderr, line by line, after the address line.
    pub stderr: mpsc::Receiver<String>,
}

impl Serve {
    /// `roundtrip serve --listen 127.0.0.1:0 ARGS…`, its stdout discarded.
    pub fn start<A: AsRef<OsStr>>(args: &[A]) -> Serve {
        Serve::start_with_stdout(args, Stdio::null())
    }

    /// As [`Serve::start`], with stdout where the test wants it.
    pub fn start_with_stdout<A: AsRef<OsStr>>(args: &[A], stdout: Stdio) -> Serve {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_roundtrip"));
        cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(args);
        Serve::spawn(cmd, stdout)
    }

    /// As [`Serve::start`], allowed at most `files` open descriptors
    /// (the shell's `ulimit -n`, then exec).
    pub fn start_with_open_files<A: AsRef<OsStr>>(args: &[A], files: u32) -> Serve {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!(
                "ulimit -n {files} && exec \"$0\" serve --listen 127.0.0.1:0 \"$@\""
            ))
            .arg(env!("CARGO_BIN_EXE_roundtrip"))
            .args(args);
        Serve::spawn(cmd, Stdio::null())
    }

    fn spawn(mut cmd: Command, stdout: Stdio) -> Serve {
        let mut child = cmd
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start roundtrip serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        // Drained all the time, so the server never blocks writing to it.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        // "… web server on http://ADDR → …" (a lesson that compares
        // stacks says first which one it serves).
        let deadline = Instant::now() + DEADLINE;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).expect("serve printed its address");
            if let Some(addr) = address_after(&line, "http://") {
                break addr;
            }
        };
        Serve {
            child,
            addr,
            stderr: rx,
        }
    }

    /// Send a signal (`INT`, `TERM`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name}");
    }

    /// Wait for a stderr line containing `what`; the lines seen are in the panic.
    pub fn wait_for_line(&self, what: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(what) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!("no stderr line with {what:?}; saw {seen:#?}"),
            }
        }
    }

    /// Wait (bounded) for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "serve did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGINT, then the summary line and the exit status.
    pub fn interrupt(&mut self) -> (String, ExitStatus) {
        self.signal("INT");
        let summary = self.wait_for_line("roundtrip serve: stopped");
        (summary, self.wait_exit())
    }

    /// The server's resident memory in KiB (`VmRSS` of /proc/PID/status).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address right after `marker` in `line` (a trailing `:` of prose is
/// not part of it).
pub fn address_after(line: &str, marker: &str) -> Option<SocketAddr> {
    let rest = line.split(marker).nth(1)?;
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
        .unwrap_or(rest.len());
    rest[..end].trim_end_matches(':').parse().ok()
}
