"""A raw ASGI app (ASGI HTTP spec) that records its scope and messages.

For each request it appends one JSON line to $FIDELITY_APP_LOG with the
scope (bytes shown as b"..." the way roundtrip's trace shows them) and every
message receive() returned until the body was complete; it answers as
notes.answer() says, then awaits receive() once more (at most 1 s) and
appends a second line with what that returned (http.disconnect, per the
spec, once the response is complete).
"""

import asyncio
import json
import os

from notes import answer, has_length

LOG = os.environ["FIDELITY_APP_LOG"]


def bytes_repr(b):
    out = ['b"']
    for c in b:
        if c == 0x22:
            out.append('\\"')
        elif c == 0x5C:
            out.append("\\\\")
        elif 0x20 <= c <= 0x7E:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    out.append('"')
    return "".join(out)


def shown(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes_repr(value)
    if isinstance(value, (list, tuple)):
        return [shown(v) for v in value]
    if isinstance(value, dict):
        return {str(k): shown(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return "<object: %s>" % type(value).__name__


def message(m):
    return [[k, shown(v)] for k, v in m.items()]


def record(entry):
    line = (json.dumps(entry) + "\n").encode()
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


async def lifespan(receive, send):
    while True:
        m = await receive()
        if m["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif m["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    headers = dict((k.lower(), v) for k, v in scope.get("headers", []))
    request_id = headers.get(b"x-request-id", b"").decode("latin-1")
    received, body = [], b""
    while True:
        m = await receive()
        received.append(message(m))
        if m["type"] != "http.request":
            break
        body += m.get("body", b"")
        if not m.get("more_body", False):
            break
    record({
        "kind": "asgi",
        "request_id": request_id,
        "scope": [[k, shown(v)] for k, v in scope.items()],
        "received": received,
    })
    status, hdrs, payload = answer(
        scope["method"], scope["path"],
        headers.get(b"content-type", b"").decode("latin-1"), body, request_id,
        headers[b"if-none-match"].decode("latin-1") if b"if-none-match" in headers else None)
    if has_length(status):
        hdrs = hdrs + [("Content-Length", str(len(payload)))]
    start = {"type": "http.response.start", "status": status,
             "headers": [(k.lower().encode(), v.encode()) for k, v in hdrs]}
    await send(start)
    await send({"type": "http.response.body",
                "body": b"" if scope["method"] == "HEAD" else payload})
    try:
        after = message(await asyncio.wait_for(receive(), 1.0))
    except asyncio.TimeoutError:
        after = None
    record({"kind": "asgi-after", "request_id": request_id, "after": after,
            "sent": ["http.response.start", "http.response.body"]})
