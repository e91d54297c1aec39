//! A real browser chats through `roundtrip serve`: headless Chromium
//! loads `/chat`, whose script opens a websocket to the same server,
//! sends a line once it is open (`?say=`), and shows the room's
//! broadcasts; the DOM it leaves holds the join and the line, sent back
//! by the room.
//!
//! Skipped, with a message, when no `chromium` is installed. Waits are
//! bounded polls of a condition (a line on stderr, the browser's exit).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::serve::{DEADLINE, Serve};

fn serve() -> Serve {
    Serve::start(&["--interface", "asgi"])
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
