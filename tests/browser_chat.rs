//! A real browser chats through `roundtrip serve`: headless Chromium
//! loads `/chat`, whose script opens a websocket to the same server,
//! sends a line once it is open (`?say=`), and shows the room's
//! broadcasts; the DOM it leaves holds the join and the line, sent back
//! by the room.
//!
//! Skipped, with a message, when no `chromium` is installed. Waits are
//! bounded polls of a condition (a line on stderr, the browser's exit).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve() -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_roundtrip"))
        .args(["serve", "--listen", "127.0.0.1:0", "--interface", "asgi"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start roundtrip serve");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line: String = rx
        .recv_timeout(DEADLINE)
        .expect("serve printed its address");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Serve { child, addr }
}

fn dump_dom(chromium: &str, url: &str, profile: &std::path::Path) -> String {
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + DEADLINE;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut dom = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut dom)
        .expect("read the DOM");
    dom
}

#[test]
fn chromium_opens_the_chat_page_joins_the_room_and_sees_its_line_broadcast_back() {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok());
    let Some(chromium) = chromium else {
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("roundtrip-chat-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let server = serve();
    let url = format!(
        "http://{}/chat?name=browser&say=hello%20from%20chromium",
        server.addr
    );
    let dom = dump_dom(chromium, &url, &dir.join("profile"));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(dom.contains("connected as browser"), "{dom}");
    assert!(dom.contains("* browser joined (here: browser)"), "{dom}");
    assert!(dom.contains("browser: hello from chromium"), "{dom}");
}
