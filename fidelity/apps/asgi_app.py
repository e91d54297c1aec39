"""A raw ASGI app (ASGI HTTP spec) that records its scope and messages.

For each request it appends one JSON line to $FIDELITY_APP_LOG with the
scope (bytes shown as b"..." the way roundtrip's trace shows them) and every
message receive() returned until the body was complete; it answers as
notes.answer() says, then awaits receive() once more (at most 1 s) and
appends a second line with what that returned (http.disconnect, per the
spec, once the response is complete).

A websocket to /chat (ASGI WebSocket spec) is the same chat room as
roundtrip's (src/app/chat.rs), message for message: `?name=` and
`?room=`, a join, every line broadcast to the room with its presence
list, a leave; a name already in the room is closed before accept (so
the server answers 403); a line over 500 characters closes with 1008.
Its scope goes to the log as {"kind": "asgi-websocket"}.
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


ROOMS = {}  # room name → {member name: send}
MAX_TEXT = 500


def chat_json(obj):
    # Compact, keys in the order written: the same bytes as roundtrip's room.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def query_value(query, key):
    for part in query.decode("latin-1").split("&"):
        k, eq, v = part.partition("=")
        if eq and k == key:
            ok = 1 <= len(v) <= 20 and all(c.isascii() and (c.isalnum() or c in "-_") for c in v)
            return v if ok else None
    return None


async def broadcast(room, obj):
    line = chat_json(obj)
    for member_send in list(room.values()):
        try:
            await member_send({"type": "websocket.send", "text": line})
        except Exception:  # a member gone mid-broadcast leaves by itself
            pass


async def chat(scope, receive, send):
    record({"kind": "asgi-websocket", "scope": [[k, shown(v)] for k, v in scope.items()]})
    if (await receive())["type"] != "websocket.connect":
        return
    query = scope.get("query_string", b"")
    name = query_value(query, "name")
    room_name = query_value(query, "room") if b"room=" in query else "lobby"
    if name is None or room_name is None:
        return await send({"type": "websocket.close", "code": 1008})
    room = ROOMS.setdefault(room_name, {})
    if name in room:
        return await send({"type": "websocket.close", "code": 1008, "reason": "name taken"})
    accept = {"type": "websocket.accept"}
    if "chat" in scope.get("subprotocols", []):
        accept["subprotocol"] = "chat"
    await send(accept)
    room[name] = send
    try:
        await broadcast(room, {"type": "join", "name": name, "present": list(room)})
        while True:
            m = await receive()
            if m["type"] != "websocket.receive":
                break
            text = m.get("text")
            if text is None:
                await send({"type": "websocket.close", "code": 1003, "reason": "text only"})
                break
            if len(text) > MAX_TEXT:
                await send({"type": "websocket.close", "code": 1008,
                            "reason": "message too long"})
                break
            await broadcast(room, {"type": "message", "from": name, "text": text,
                                   "present": list(room)})
    finally:
        room.pop(name, None)
        await broadcast(room, {"type": "leave", "name": name, "present": list(room)})
        if not room:
            ROOMS.pop(room_name, None)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    if scope["type"] == "websocket":
        return await chat(scope, receive, send)
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
