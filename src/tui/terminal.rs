//! Owning the terminal: raw mode and the alternate screen while the player
//! runs, and the terminal given back on *every* way out.
//!
//! * normal return, `?` on an error: [`TerminalGuard`] restores in `Drop`;
//! * a panic: a hook restores first, then calls the previous hook, so the
//!   panic message lands on the normal screen (as `ratatui::init` does);
//! * Ctrl-C: in raw mode it arrives as a key, and quits like `q`;
//! * SIGTERM, SIGHUP, SIGINT: a watcher thread asks the loop to quit; if the
//!   loop does not let go within [`SIGNAL_GRACE`], the watcher restores the
//!   terminal itself and exits with 128 + the signal number.
//!
//! Book: "Using roundtrip" (book/src/using.md).

use std::io::{self, Stdout, stdout};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::{Frame, Terminal};

/// The terminal is in raw mode on the alternate screen.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// A signal asked the player to quit.
static SIGNALLED: AtomicBool = AtomicBool::new(false);
/// The exit status the last signal asks for (128 + its number), or 0.
static SIGNAL_CODE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// After a SIGTERM, SIGHUP or SIGINT stopped the UI: the conventional exit
/// status (128 + the signal's number) the program should end with.
pub fn signal_exit_code() -> Option<i32> {
    match SIGNAL_CODE.load(Ordering::SeqCst) {
        0 => None,
        code => Some(code),
    }
}
static PANIC_HOOK: Once = Once::new();
static SIGNAL_WATCH: Once = Once::new();

/// How long the loop gets to quit by itself after a signal (it polls every
/// 100 ms at most) before the watcher restores the terminal and exits.
pub const SIGNAL_GRACE: Duration = Duration::from_secs(1);

/// Raw mode + alternate screen, undone when dropped.
pub struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    pub fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        watch_signals();
        SIGNALLED.store(false, Ordering::SeqCst);
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        if let Err(e) = execute!(stdout(), EnterAlternateScreen, Hide) {
            let _ = restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(stdout())) {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                let _ = restore();
                Err(e)
            }
        }
    }

    pub fn draw(&mut self, render: impl FnOnce(&mut Frame)) -> io::Result<()> {
        self.terminal.draw(render).map(|_| ())
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = restore();
    }
}

/// Leave the alternate screen and raw mode, show the cursor. Does nothing
/// when the terminal is not ours (so the guard, the hook and the watcher may
/// all call it).
pub fn restore() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    let screen = execute!(stdout(), LeaveAlternateScreen, Show);
    let raw = disable_raw_mode();
    screen.and(raw)
}

/// Whether a signal asked the player to quit.
pub fn signalled() -> bool {
    SIGNALLED.load(Ordering::SeqCst)
}

fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = restore();
            previous(info);
        }));
    });
}

#[cfg(unix)]
fn watch_signals() {
    SIGNAL_WATCH.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name(String::from("roundtrip-tui-signals"))
            .spawn(signal_thread);
        // Without the watcher, Ctrl-C still quits (it is a key in raw mode).
        drop(spawned);
    });
}

#[cfg(not(unix))]
fn watch_signals() {}

#[cfg(unix)]
fn signal_thread() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    rt.block_on(async {
        let (Ok(mut term), Ok(mut hup), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        loop {
            let code = tokio::select! {
                biased;
                _ = term.recv() => 128 + 15,
                _ = hup.recv() => 128 + 1,
                _ = int.recv() => 128 + 2,
            };
            if !ACTIVE.load(Ordering::SeqCst) {
                std::process::exit(code);
            }
            SIGNAL_CODE.store(code, Ordering::SeqCst);
            SIGNALLED.store(true, Ordering::SeqCst);
            let deadline = tokio::time::Instant::now() + SIGNAL_GRACE;
            while ACTIVE.load(Ordering::SeqCst) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if ACTIVE.load(Ordering::SeqCst) {
                let _ = restore();
                std::process::exit(code);
            }
        }
    });
}
