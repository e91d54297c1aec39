"""Websockets in the fidelity check: the same raw frames, written by hand
(RFC 6455 §5), sent to real nginx → uvicorn (websockets-sansio) → the
stand-in chat room (apps/asgi_app.py) and to roundtrip serve, and what
comes back compared field by field: the 101 and its fields, each frame's
FIN, opcode, mask bit and payload, close codes and reasons, and whether
the connection then ends.

Each probe is one or two connections; a probe's rows are named
`ws/<probe>`. The pairs of servers are CONFIGURED ones (cases.py):
`ws-chat` (nginx's three "WebSocket proxying" lines) and
`ws-proxy-misconfigured` (nginx's defaults, which drop the upgrade).
"""

import base64
import hashlib
import json
import socket

IO_TIMEOUT = 5.0
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's sample nonce
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
ACCEPT = base64.b64encode(hashlib.sha1((KEY + GUID).encode()).digest()).decode()
MASK = b"\x37\xfa\x21\x3d"
# uvicorn's --ws-max-size and roundtrip's ws_max_size, both 16 MiB by default.
MAX_SIZE = 16 * 1024 * 1024
OPCODES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


def frame(opcode, payload=b"", fin=True, masked=True, length=None):
    """One frame as a client writes it; `length` may claim more than is sent."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | opcode])
    bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 1 << 16:
        head += bytes([bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + n.to_bytes(8, "big")
    if masked:
        head += MASK
        payload = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return head + payload


def close_payload(code, reason=""):
    return code.to_bytes(2, "big") + reason.encode()


class Conn:
    """A client connection, bound to the check's client address."""

    def __init__(self, port, client_addr):
        self.s = socket.socket()
        self.s.settimeout(IO_TIMEOUT)
        self.s.bind((client_addr, 0))
        self.s.connect(("127.0.0.1", port))
        self.buf = b""

    def send(self, raw):
        try:
            self.s.sendall(raw)
            return True
        except OSError:
            return False

    def fill(self):
        try:
            data = self.s.recv(65536)
        except socket.timeout:
            raise TimeoutError from None
        except OSError:
            data = b""
        if not data:
            raise EOFError
        self.buf += data

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        fields = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:] if ":" in l]
        return lines[0], fields

    def body(self, fields):
        n = int(dict((k.lower(), v) for k, v in fields).get("content-length", "0") or 0)
        return self.take(n)

    def frame(self):
        """(fin, rsv, opcode, masked, payload) of the next frame."""
        b0, b1 = self.take(2)
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(self.take(2), "big")
        elif n == 127:
            n = int.from_bytes(self.take(8), "big")
        key = self.take(4) if b1 & 0x80 else None
        payload = self.take(n)
        if key:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, key is not None, payload

    def ends(self):
        """What follows: "the connection closes", or the bytes that came instead."""
        try:
            while True:
                self.fill()
                if len(self.buf) > 256:
                    break
        except EOFError:
            return "then the connection closes" + (f" (after {self.buf!r})" if self.buf else "")
        except TimeoutError:
            pass
        return f"the connection stays open ({len(self.buf)} more bytes)"

    def close(self):
        self.s.close()


def describe(f):
    fin, rsv, opcode, masked, payload = f
    name = OPCODES.get(opcode, f"opcode {opcode}")
    flags = ("FIN" if fin else "no FIN") + (f", RSV {rsv}" if rsv else "") + \
        (", masked" if masked else "")
    if opcode == 8:
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
        reason = payload[2:].decode("utf-8", "replace")
        return f"close {code} {reason!r} ({flags})"
    if opcode == 1:
        return f"text {payload.decode('utf-8', 'replace')} ({flags})"
    return f"{name} {payload!r} ({flags})"


def upgrade(target, key=KEY, version="13", protocols=("chat",)):
    head = f"GET {target} HTTP/1.1\r\nHost: example.com\r\nUser-Agent: fidelity-check\r\n" \
           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    if key:
        head += f"Sec-WebSocket-Key: {key}\r\n"
    if version:
        head += f"Sec-WebSocket-Version: {version}\r\n"
    if protocols:
        head += f"Sec-WebSocket-Protocol: {', '.join(protocols)}\r\n"
    return (head + "\r\n").encode()


# Fields whose values are the server's own (its name and clock), and the
# framing of a refusal's body (nginx may re-frame it): only their presence
# is compared.
OWN = {"date", "server", "content-length", "transfer-encoding", "content-type"}


def status_of(line):
    """"HTTP/1.1 101 Switching Protocols" → "101 Switching Protocols"."""
    return line.split(" ", 1)[1] if " " in line else line


def answer_rows(status, fields, put):
    put("status", status_of(status))
    put("fields", ", ".join(sorted({k.lower() for k, _ in fields})))
    for k, v in fields:
        lk = k.lower()
        if lk in OWN:
            continue
        if lk == "sec-websocket-accept":
            v = "base64(SHA-1(key + GUID))" if v == ACCEPT else f"{v} (wrong)"
        put(f"field {lk}", v)


def opened(port, client_addr, room, name="ada", put=None):
    c = Conn(port, client_addr)
    c.send(upgrade(f"/chat?name={name}&room={room}"))
    status, fields = c.head()
    if put:
        answer_rows(status, fields, put)
    return c


def probe_handshake(port, client_addr, put):
    c = opened(port, client_addr, "hs", put=put)
    put("first frame (the join)", describe(c.frame()))
    c.close()


def probe_message(port, client_addr, put):
    c = opened(port, client_addr, "msg")
    c.frame()
    c.send(frame(1, b"hello, room"))
    put("a masked text frame: the broadcast back", describe(c.frame()))
    # A message in three fragments (RFC 6455 §5.4) is one message to the app.
    c.send(frame(1, b"one ", fin=False) + frame(0, b"two ", fin=False) + frame(0, b"three"))
    put("three fragments: the broadcast back", describe(c.frame()))
    c.close()


def probe_ping(port, client_addr, put):
    c = opened(port, client_addr, "ping")
    c.frame()
    c.send(frame(9, b"are you there"))
    put("ping: the server's answer", describe(c.frame()))
    c.close()


def probe_close(port, client_addr, put):
    c = opened(port, client_addr, "bye")
    c.frame()
    c.send(frame(8, close_payload(1000, "bye")))
    put("close 1000: the server's close frame", describe(c.frame()))
    put("close 1000: after it", c.ends())
    c.close()


def probe_unmasked(port, client_addr, put):
    c = opened(port, client_addr, "unmasked")
    c.frame()
    c.send(frame(1, b"not masked", masked=False))
    put("unmasked text frame: the server's close frame", describe(c.frame()))
    put("unmasked text frame: after it", c.ends())
    c.close()


def probe_too_big(port, client_addr, put):
    c = opened(port, client_addr, "big")
    c.frame()
    # The header claims one byte over the limit; the payload never comes.
    c.send(frame(2, b"x" * 64, length=MAX_SIZE + 1))
    put(f"a frame claiming {MAX_SIZE + 1} bytes: the server's close frame", describe(c.frame()))
    c.close()


def probe_bad_frames(port, client_addr, put):
    """Frames that break RFC 6455 §5, one connection each: the close frame
    the server fails the connection with."""
    for area, raw in [
        ("RSV1 set, no extension agreed", bytes([0xC1]) + frame(1, b"x")[1:]),
        ("opcode 0x3 (reserved)", frame(3, b"x")),
        ("a ping of 126 bytes", frame(9, b"p" * 126)),
        ("a fragmented ping", frame(9, b"p", fin=False)),
        ("a continuation with nothing to continue", frame(0, b"x")),
        ("a text frame in the middle of a fragmented one",
         frame(1, b"a", fin=False) + frame(1, b"b")),
        ("text that is not UTF-8", frame(1, b"ok \xff")),
        ("a close frame of one byte", frame(8, b"\x03")),
        ("close code 999", frame(8, close_payload(999))),
        ("a binary frame (the room takes text only)", frame(2, b"\x00\x01")),
    ]:
        c = opened(port, client_addr, "bad")
        c.frame()
        c.send(raw)
        try:
            put(f"{area}: the server's close frame", describe(c.frame()))
        except (EOFError, TimeoutError):
            put(f"{area}: the server's close frame", "none (the connection ended)")
        c.close()


def probe_refusals(port, client_addr, put):
    for area, raw in [
        ("version 8", upgrade("/chat?name=v8&room=v", version="8")),
        ("no Sec-WebSocket-Key", upgrade("/chat?name=nokey&room=v", key=None)),
        ("a key of 5 bytes", upgrade("/chat?name=short&room=v", key="c2hvcnQ=")),
        ("no Sec-WebSocket-Version", upgrade("/chat?name=nover&room=v", version=None)),
        ("POST", upgrade("/chat?name=post&room=v").replace(b"GET ", b"POST ", 1)),
    ]:
        c = Conn(port, client_addr)
        c.send(raw)
        status, fields = c.head()
        named = dict((k.lower(), v) for k, v in fields)
        put(f"{area}: status", status_of(status))
        for name in ("sec-websocket-version", "allow", "upgrade"):
            if name in named:
                put(f"{area}: field {name}", named[name])
        if "content-length" in named:
            put(f"{area}: body", c.body(fields).decode("utf-8", "replace"))
        c.close()
    # Upgrade without Connection: upgrade. nginx's configured
    # `Connection "upgrade"` goes upstream whatever the client sent.
    c = Conn(port, client_addr)
    c.send(upgrade("/chat?name=noconn&room=v").replace(b"Connection: Upgrade\r\n", b""))
    status, _ = c.head()
    put("Upgrade: websocket without Connection: upgrade: status", status_of(status))
    c.close()
    # A name already in the room: the app closes before accepting.
    first = opened(port, client_addr, "taken", name="twin")
    first.frame()
    second = Conn(port, client_addr)
    second.send(upgrade("/chat?name=twin&room=taken"))
    status, _ = second.head()
    put("a name already in the room: status", status_of(status))
    second.close()
    first.close()


def probe_misconfigured(port, client_addr, put):
    """Through a proxy without the upgrade lines: what the client gets."""
    c = Conn(port, client_addr)
    c.send(upgrade("/chat?name=ada&room=mis"))
    status, fields = c.head()
    put("status", status_of(status))
    names = {k.lower() for k, _ in fields}
    put("Upgrade field in the answer", "yes" if "upgrade" in names else "no")
    c.close()


PROBES = [
    ("ws-chat", "handshake", "the handshake through nginx's upgrade lines", probe_handshake),
    ("ws-chat", "message", "text frames and fragments", probe_message),
    ("ws-chat", "ping", "a ping", probe_ping),
    ("ws-chat", "close", "a close 1000", probe_close),
    ("ws-chat", "unmasked", "an unmasked client frame", probe_unmasked),
    ("ws-chat", "too-big", "a frame over the size limit", probe_too_big),
    ("ws-chat", "refusals", "handshakes the server refuses", probe_refusals),
    ("ws-chat", "bad-frames", "frames that break the rules", probe_bad_frames),
    ("ws-proxy-misconfigured", "misconfigured", "an upgrade through nginx's defaults",
     probe_misconfigured),
]


def run(ports, client_addr):
    """[(case id, area, real, roundtrip)] for every probe."""
    rows = []
    for config, name, _title, probe in PROBES:
        seen = {}
        for side, port in (("real", ports[f"nginx_{config}"]), ("rt", ports[f"serve_{config}"])):
            got = {}
            seen[side] = got

            def put(area, value, got=got):
                got[area] = value

            try:
                probe(port, client_addr, put)
            except (EOFError, TimeoutError, OSError) as e:
                put("(the probe)", f"stopped: {type(e).__name__} {e}".strip())
        for area in list(dict.fromkeys([*seen["real"], *seen["rt"]])):
            rows.append((f"ws/{name}", area, seen["real"].get(area, "(absent)"),
                         seen["rt"].get(area, "(absent)")))
    return rows


if __name__ == "__main__":  # by hand: python3 ws.py REAL_PORT ROUNDTRIP_PORT
    import sys
    p = {"nginx_ws-chat": int(sys.argv[1]), "serve_ws-chat": int(sys.argv[2]),
         "nginx_ws-proxy-misconfigured": int(sys.argv[1]),
         "serve_ws-proxy-misconfigured": int(sys.argv[2])}
    for r in run(p, "127.0.0.1"):
        print(json.dumps(r))
