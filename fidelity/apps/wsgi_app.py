"""A raw WSGI app (PEP 3333) that records the environ it is called with.

Each call appends one JSON line to $FIDELITY_APP_LOG: every environ key in
the order the server built it, str values as they are, other values as
str() (tuples, booleans) or "<object: type>" (wsgi.input, wsgi.errors,
file wrappers, sockets). Then it answers as notes.answer() says.
"""

import json
import os

from notes import REASONS, answer, has_length

LOG = os.environ["FIDELITY_APP_LOG"]


def shown(value):
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float, tuple)):
        return str(value)
    return "<object: %s>" % type(value).__name__


def record(entry):
    line = (json.dumps(entry) + "\n").encode()
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def application(environ, start_response):
    length = environ.get("CONTENT_LENGTH") or ""
    stream = environ["wsgi.input"]
    body = stream.read(int(length)) if length.isdigit() else stream.read()
    record({
        "kind": "wsgi",
        "request_id": environ.get("HTTP_X_REQUEST_ID", ""),
        "pid": os.getpid(),
        "environ": [[k, shown(v)] for k, v in environ.items()],
        "body": body.decode("latin-1"),
    })
    status, headers, payload = answer(
        environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""),
        environ.get("CONTENT_TYPE"), body, environ.get("HTTP_X_REQUEST_ID", ""),
        environ.get("HTTP_IF_NONE_MATCH"))
    if has_length(status):
        headers = headers + [("Content-Length", str(len(payload)))]
    start_response("%d %s" % (status, REASONS[status]), headers)
    return [b"" if environ["REQUEST_METHOD"] == "HEAD" else payload]
