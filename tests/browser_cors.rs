//! CORS as a real browser enforces it: headless Chromium loads a page from
//! one origin whose script fetches from `roundtrip serve` on another.
//! The allowed origin reads the answers (a simple GET, a credentialed GET's
//! 401, and a PUT after its preflight); a page of an origin not in
//! `allow_origins` is blocked by the browser, for the same server answers.
//!
//! Skipped, with a message, when no `chromium` is installed. Waits are
//! bounded polls of a condition (a line on stderr, the browser's exit).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;
use common::serve::{DEADLINE, Serve};

/// A running `roundtrip serve`, killed when dropped.
fn serve(lesson: &std::path::Path) -> Serve {
    Serve::start(&[std::ffi::OsStr::new("--lesson"), lesson.as_os_str()])
}

/// Serve one HTML page to every request, on 127.0.0.1 (reachable as
/// `127.0.0.1` and as `localhost`: two origins, one server). The page
/// comes through `html` once the API's address is known; the port is
/// known at once, since it names the allowed origin.
fn page_server(html: mpsc::Receiver<String>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let Ok(html) = html.recv() else { return };
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{html}",
                html.len()
            );
        }
    });
    port
}

/// What the page's script wrote, after the browser ran it.
fn browse(chromium: &str, url: &str, profile: &std::path::Path) -> String {
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + DEADLINE;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
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
    let out = dom
        .split_once("<pre id=\"out\">")
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(text, _)| text)
        .unwrap_or_else(|| panic!("no output element in {dom}"));
    out.strip_prefix("RESULT[")
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or_else(|| panic!("the page's script did not finish: {out}"))
        .to_string()
}

#[test]
fn chromium_lets_the_allowed_origin_read_and_blocks_another_origin() {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok());
    let Some(chromium) = chromium else {
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("roundtrip-cors-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");

    // The page's server first: its port names the allowed origin.
    let (page, html) = mpsc::channel();
    let port = page_server(html);
    let lesson = dir.join("browser-cors.toml");
    std::fs::write(
        &lesson,
        format!(
            "title = \"browser\"\n[stack.app.auth]\n[stack.app.cors]\nallow_origins = [\"http://127.0.0.1:{port}\"]\nallow_methods = [\"GET\", \"PUT\"]\nallow_headers = [\"X-Client\"]\nallow_credentials = true\n[[request]]\npath = \"/\"\n"
        ),
    )
    .expect("write the lesson");
    let server = serve(&lesson);
    let api = format!("http://{}", server.addr);
    page.send(format!(
        r#"<pre id="out">pending</pre>
<script>
const api = "{api}";
async function step(name, request) {{
  try {{ const r = await request(); return name + "=" + r.status; }}
  catch (e) {{ return name + "=blocked"; }}
}}
(async () => {{
  const out = [];
  out.push(await step("simple", () => fetch(api + "/notes/1")));
  out.push(await step("credentialed", () => fetch(api + "/me", {{ credentials: "include" }})));
  out.push(await step("preflighted", () => fetch(api + "/notes/1", {{
    method: "PUT", headers: {{ "X-Client": "browser", "Content-Type": "application/json" }}, body: "{{}}" }})));
  document.getElementById("out").textContent = "RESULT[" + out.join(" ") + "]";
}})();
</script>"#
    ))
    .expect("the page server waits for its page");

    let allowed = browse(
        chromium,
        &format!("http://127.0.0.1:{port}/"),
        &dir.join("profile-a"),
    );
    // A 401 the page can read: the credentialed answer carried the
    // origin and Allow-Credentials; the PUT passed its preflight and met
    // authorization (no one is signed in).
    assert_eq!(allowed, "simple=200 credentialed=401 preflighted=401");

    let other = browse(
        chromium,
        &format!("http://localhost:{port}/"),
        &dir.join("profile-b"),
    );
    assert_eq!(
        other,
        "simple=blocked credentialed=blocked preflighted=blocked"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
