"""Answers like roundtrip's notes app, for the statuses only.

The fidelity check compares what the *servers* do (nginx, gunicorn,
uvicorn), so the app behind them only needs to give the same status for the
same request as roundtrip's notes app (src/app/notes.rs and the router in
src/framework/router.rs): its bodies are stand-ins.
"""

import json
import re

SEEDED = 3
TIMED = {
    "/slow": "an awaited I/O wait",
    "/cpu": "CPU time",
    "/blocking": "a blocking call",
    "/threadpool": "a blocking call in the thread pool",
}
_created = [SEEDED]

REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    422: "Unprocessable Content",
}


def _json(status, value, extra=()):
    body = json.dumps(value, separators=(",", ":")).encode()
    return status, [("Content-Type", "application/json")] + list(extra), body


def answer(method, path, content_type, body, request_id=""):
    """(status, headers without Content-Length, body) for one request.
    Like roundtrip's request_id middleware, every answer echoes the
    X-Request-Id it came with."""
    status, headers, payload = _answer(method, path, content_type, body)
    if request_id:
        headers = headers + [("X-Request-Id", request_id)]
    return status, headers, payload


def _answer(method, path, content_type, body):
    is_head = method == "HEAD"
    if is_head:
        method = "GET"
    if path == "/":
        allow = "GET, HEAD"
        if method == "GET":
            return 200, [("Content-Type", "text/html; charset=utf-8")], b"<!doctype html><title>notes</title>"
    elif path == "/notes":
        allow = "GET, HEAD, POST"
        if method == "GET":
            return _json(200, [{"id": 1, "title": "Welcome", "body": "stand-in"}])
        if method == "POST":
            media = (content_type or "").split(";")[0].strip().lower()
            value = None
            if media == "application/json" and body:
                try:
                    value = json.loads(body)
                except ValueError as e:
                    return _json(400, {"error": "invalid JSON", "detail": str(e)})
            if not (isinstance(value, dict) and isinstance(value.get("title"), str)
                    and isinstance(value.get("body"), str)):
                return _json(422, {"detail": [{"type": "missing", "loc": ["body"]}]})
            _created[0] += 1
            n = _created[0]
            return _json(201, {"id": n, **value}, [("Location", f"/notes/{n}")])
    elif re.fullmatch(r"/notes/[^/]+", path):
        allow = "GET, HEAD"
        if method == "GET":
            tail = path.rsplit("/", 1)[1]
            if tail.isdigit() and 1 <= int(tail) <= SEEDED:
                return _json(200, {"id": int(tail), "title": "stand-in", "body": ""})
            return _json(404, {"detail": "note not found"})
    elif path in TIMED:
        # The endpoints that only take time (src/app/timed.rs). The check
        # compares the servers, not durations: the stand-in answers at once.
        allow = "GET, HEAD"
        if method == "GET":
            return _json(200, {"work": TIMED[path], "ms": 0})
    else:
        return _json(404, {"detail": "Not Found"})
    return _json(405, {"detail": "Method Not Allowed"}, [("Allow", allow)])
