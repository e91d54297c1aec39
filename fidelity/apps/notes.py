"""Answers like roundtrip's notes app, for the statuses and the caching headers.

The fidelity check compares what the *servers* do (nginx, gunicorn,
uvicorn), so the app behind them only needs to give the same status for the
same request as roundtrip's notes app (src/app/notes.rs and the router in
src/framework/router.rs): its bodies are stand-ins.
"""

import hashlib
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
    304: "Not Modified",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    422: "Unprocessable Content",
}


def _json(status, value, extra=()):
    body = json.dumps(value, separators=(",", ":")).encode()
    return status, [("Content-Type", "application/json")] + list(extra), body


# Cache-Control per route, as roundtrip's cache_control middleware (and a
# Django app's @cache_control) sets it.
POLICIES = {"/": "private, no-cache", "/notes": "private, no-cache"}
ONE_NOTE = "private, max-age=60"


def _cache_control(method, path, status):
    if method not in ("GET", "HEAD"):
        return "no-store"
    if status >= 400:
        return "no-store"
    if path in POLICIES:
        return POLICIES[path]
    if re.fullmatch(r"/notes/[^/]+", path):
        return ONE_NOTE
    return None


def _none_match(value, etag):
    """Weak comparison of an If-None-Match list (RFC 9110 §13.1.2)."""
    ours = etag.removeprefix("W/")
    for tag in value.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == ours:
            return True
    return False


def answer(method, path, content_type, body, request_id="", if_none_match=None):
    """(status, headers without Content-Length, body) for one request.
    Like roundtrip's middleware: Cache-Control per route, an ETag (MD5 of
    the body, Django's ConditionalGetMiddleware) on a 200 GET and a 304
    when If-None-Match matches, and every answer echoes the X-Request-Id
    it came with. A 304 has no Content-Length: the caller adds one only
    when there is a body to count (`has_length`)."""
    status, headers, payload = _answer(method, path, content_type, body)
    policy = _cache_control(method, path, status)
    if policy:
        headers = headers + [("Cache-Control", policy)]
    if method == "GET" and status == 200 and policy != "no-store":
        etag = '"%s"' % hashlib.md5(payload).hexdigest()
        headers = headers + [("ETag", etag)]
        if if_none_match and _none_match(if_none_match, etag):
            status, payload = 304, b""
            headers = [(n, v) for n, v in headers if n in ("Cache-Control", "ETag")]
    if request_id:
        headers = headers + [("X-Request-Id", request_id)]
    return status, headers, payload


def has_length(status):
    """A 304 carries no Content-Length (nor body)."""
    return status != 304


def _answer(method, path, content_type, body):
    is_head = method == "HEAD"
    if is_head:
        method = "GET"
    if path == "/":
        allow = "GET, HEAD"
        if method == "GET":
            return 200, [("Content-Type", "text/html; charset=utf-8")], b"<!doctype html><title>notes</title>"
    elif path == "/chat":
        # The chat room's page (its websocket is asgi_app.chat).
        allow = "GET, HEAD"
        if method == "GET":
            return 200, [("Content-Type", "text/html; charset=utf-8")], b"<!doctype html><title>chat</title>"
    elif path == "/notes":
        allow = "GET, HEAD, POST"
        if method == "GET":
            # Over the gzip lesson's gzip_min_length 100, as roundtrip's
            # list is (fidelity/cases.py CONFIGURED["gzip"]).
            return _json(200, [{"id": 1, "title": "Welcome", "body": "stand-in"},
                               {"id": 2, "title": "Second", "body": "a stand-in long enough "
                                "to be compressed"}])
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
