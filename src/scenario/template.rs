//! The lesson `roundtrip new NAME` writes: a small lesson that runs as it
//! is, with the settings a teacher reaches for first written out and
//! commented, so the file itself is the first page of "Writing a lesson".
//!
//! Book: "Writing a lesson" (book/src/lessons.md), "Starting a lesson".

use crate::trace::StepId;

/// The text of a new lesson titled `title`. Its narrations name their
/// steps from the vocabulary, so the template cannot name a step that no
/// longer exists.
pub fn lesson(title: &str) -> String {
    let title = title.replace('\\', "\\\\").replace('"', "\\\"");
    TEMPLATE
        .replace("{title}", &title)
        .replace("{read_step}", StepId::WebServerRequestReceive.as_str())
        .replace("{query_step}", StepId::DatabaseQuery.as_str())
        .replace("{schema}", super::schema::DIRECTIVE)
}

// The schema line comes first: taplo reads it only before any other
// comment or key.
const TEMPLATE: &str = r#"{schema}
# A roundtrip lesson. Run it:   roundtrip run THIS_FILE
# Check it after each change:    roundtrip check THIS_FILE
# Every table and key is in the book's "Writing a lesson" chapter.

title = "{title}"
summary = """
One or two sentences a learner reads in the lesson list: what happens, \
and what to watch for."""

# The stack. Leave a key out and it keeps the real server's default.
[stack.web_server]
# client_max_body_size = "1m"     # nginx: bodies over this get 413
# keepalive_timeout = "75s"       # nginx: idle keep-alive connections close after this
# proxy_read_timeout = "60s"      # nginx: 504 when the app server is slower than this

[stack.app_server]
interface = "wsgi"                # "wsgi" (gunicorn-like) or "asgi" (uvicorn-like)
workers = 2                       # gunicorn --workers
# timeout = "30s"                 # gunicorn kills a worker silent for this long

[stack.app]
db_latency = "2ms"                # how long each SQL statement takes

# The requests, in the order the client sends them (request 1, 2, …).
[[request]]
name = "list"                     # optional: a name check and narration can use
method = "GET"
path = "/notes"
expect = { status = 200, answered_by = "handler" }

[[request]]
method = "POST"
path = "/notes"
at = "10ms"                       # when to send it, on the lesson's clock
json = { title = "Hello", body = "My first note" }
expect = { status = 201, answered_by = "handler", has_headers = ["Location"] }

# What to say, and at which step (names: roundtrip run THIS_FILE --plain --detail).
[[narration]]
step = "{read_step}"
request = "list"
text = "The web server reads the request head and checks it against its limits."

[[narration]]
step = "{query_step}"
request = 2
text = "The handler's INSERT reaches SQLite: a real database, in memory."
"#;
