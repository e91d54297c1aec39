//! A tmux server of the test's own, to drive the player in a real terminal.
//! It polls `capture-pane` with a deadline: a real terminal gives no other
//! signal that a frame was drawn.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// How long one expected screen may take (a lesson runs before the player opens).
pub const SCREEN_DEADLINE: Duration = Duration::from_secs(20);
/// Pause between two looks at the pane.
const POLL_EVERY: Duration = Duration::from_millis(50);

/// Why tmux cannot be used here, if it cannot.
pub fn tmux_missing() -> Option<String> {
    match Command::new("tmux").arg("-V").output() {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "`tmux -V` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(e) => Some(format!("tmux not found ({e})")),
    }
}

/// One session on a private socket; the server is killed on drop.
pub struct Tmux {
    pub socket: String,
    pub session: String,
}

impl Tmux {
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    pub fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", self.session.as_str()];
        args.extend_from_slice(keys);
        let out = self.run(&args);
        assert!(
            out.status.success(),
            "send-keys {keys:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The pane's text, wrapped lines joined.
    pub fn screen(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-J", "-t", &self.session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn alternate_on(&self) -> bool {
        let out = self.run(&[
            "display-message",
            "-p",
            "-t",
            &self.session,
            "#{alternate_on}",
        ]);
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }

    /// Wait until the pane shows `what`; the screen at the deadline is in the panic.
    pub fn wait_for(&self, what: &str) -> String {
        self.wait_until(what, |screen| screen.contains(what))
    }

    pub fn wait_until(&self, what: &str, seen: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + SCREEN_DEADLINE;
        loop {
            let screen = self.screen();
            if seen(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {what}; the pane shows:\n{screen}"
            );
            std::thread::sleep(POLL_EVERY);
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Our own server on our own socket: nobody else's tmux is touched.
        let _ = self.run(&["kill-server"]);
    }
}
