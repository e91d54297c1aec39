"""The fidelity check: roundtrip next to the real servers, on the same bytes.

Started by fidelity/run, which installs nginx and the pinned Python
servers first. This starts, on 127.0.0.1 only:

    client ─▶ nginx ─▶ relay ─▶ gunicorn (sync, -w 2) ─▶ apps/wsgi_app.py
                    └▶ relay ─▶ uvicorn (h11)         ─▶ apps/asgi_app.py
    client ─▶ roundtrip serve --interface wsgi | asgi

sends every case of cases.py to both, and compares, field by field, what
the client got, what crossed the proxy hop, and what the app was called
with (roundtrip's side of that comes from `roundtrip run LESSON --json`,
for the same bytes). known.toml lists the normalizations and the
documented simplifications it accepts; anything else that differs is a
DIFF, and the exit status is 1.
"""

import argparse
import base64
import fnmatch
import gzip
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The files both web servers serve from /static/ (the same directory, so
# the same mtimes, ETags and Last-Modified on both sides).
SITE = HERE.parent / "scenarios" / "site"
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from cases import (CONFIGURED, Case, configured_cases, configured_lesson,  # noqa: E402
                   edge_cases, inline_lesson, lesson_cases)
import ws  # noqa: E402

CLIENT_ADDR = "127.0.0.2"  # the client's source address, so it differs from the proxy's
IO_TIMEOUT = 5.0  # any one read or write
DEADLINE = 240.0  # the whole check

# ── processes ────────────────────────────────────────────────────────────


class Processes:
    """Children in their own process groups, stopped by id on exit."""

    def __init__(self):
        self.procs = []

    def start(self, name, argv, log, **kw):
        out = open(log, "ab")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, **kw)
        p.name, p.log = name, log
        self.procs.append(p)
        return p

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        end = time.monotonic() + 5
        for p in self.procs:
            try:
                p.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(2)


def free_port():
    """A free port below the kernel's ephemeral range (32768 and up), where
    other programs' port-0 listeners and outgoing connections never land."""
    while True:
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue


def wait_port(port, proc, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.name} exited with {proc.returncode}; its log:\n"
                             + Path(proc.log).read_text(errors="replace")[-2000:])
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{proc.name} did not listen on 127.0.0.1:{port} within {timeout} s")


# ── HTTP on the client side ──────────────────────────────────────────────


def parse_head(head):
    """b"HTTP/1.1 200 OK\\r\\nA: b\\r\\n" → (start line parts, [(name, value)])."""
    lines = head.split(b"\r\n")
    start = lines[0].decode("latin-1").split(" ", 2)
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(b":")
        headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
    return start, headers


def header(headers, name):
    for n, v in headers:
        if n.lower() == name:
            return v
    return None


class Reader:
    def __init__(self, recv):
        self.recv, self.buf, self.eof = recv, b"", False

    def fill(self):
        data = self.recv()
        if not data:
            self.eof = True
        self.buf += data

    def until(self, sep):
        while sep not in self.buf:
            if self.eof:
                return None
            self.fill()
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def exactly(self, n):
        while len(self.buf) < n and not self.eof:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def rest(self):
        while not self.eof:
            self.fill()
        out, self.buf = self.buf, b""
        return out


def read_body(reader, headers, method, status):
    if method == "HEAD" or status < 200 or status in (204, 304):
        return b""
    te = (header(headers, "transfer-encoding") or "").lower()
    if te.endswith("chunked"):
        body = b""
        while True:
            line = reader.until(b"\r\n")
            if line is None:
                return body
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while reader.until(b"\r\n") not in (None, b"\r\n"):
                    pass
                return body
            body += reader.exactly(size)
            reader.until(b"\r\n")
    cl = header(headers, "content-length")
    if cl is not None and cl.isdigit():
        return reader.exactly(int(cl))
    return reader.rest()


def read_message(reader, method=None):
    """One response (method given) or request (method None) from reader."""
    head = reader.until(b"\r\n\r\n")
    if head is None:
        return None
    start, headers = parse_head(head[:-4])
    if method is None:
        m = {"method": start[0], "target": start[1] if len(start) > 1 else "",
             "version": start[2] if len(start) > 2 else "", "headers": headers}
        te = (header(headers, "transfer-encoding") or "").lower()
        cl = header(headers, "content-length")
        m["body"] = read_body(reader, headers, "POST", 200) if te or cl else b""
        return m
    status = int(start[1]) if len(start) > 1 and start[1].isdigit() else 0
    return {"version": start[0], "status": status, "reason": start[2] if len(start) > 2 else "",
            "headers": headers, "body": read_body(reader, headers, method, status)}


def exchange(port, requests):
    """Send requests on one connection, each after the previous answer.
    Returns (local port, [[response, ...] per request]); interim (1xx)
    responses come before the final one."""
    s = socket.socket()
    s.settimeout(IO_TIMEOUT)
    s.bind((CLIENT_ADDR, 0))
    s.connect(("127.0.0.1", port))
    local = s.getsockname()[1]

    def recv():
        try:
            return s.recv(65536)
        except (socket.timeout, ConnectionError):
            return b""

    reader = Reader(recv)
    answers = []
    try:
        for raw in requests:
            method = raw.split(b" ", 1)[0].decode("latin-1")
            sender = threading.Thread(target=_send_all, args=(s, raw), daemon=True)
            sender.start()
            got = []
            while True:
                r = read_message(reader, method)
                if r is None:
                    break
                got.append(r)
                if r["status"] >= 200 or r["status"] == 0:
                    break
            sender.join(IO_TIMEOUT)
            answers.append(got)
            if not got or reader.eof:
                break
    finally:
        s.close()
    return local, answers


def _send_all(s, raw):
    try:
        s.sendall(raw)
    except OSError:
        pass


# ── logs ─────────────────────────────────────────────────────────────────


class Tail:
    """New lines of a file, as they are appended."""

    def __init__(self, path):
        self.path, self.offset, self.partial = Path(path), 0, b""

    def lines(self):
        if not self.path.exists():
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        data = self.partial + data
        *full, self.partial = data.split(b"\n")
        return [line.decode("utf-8", "replace") for line in full if line]


class RealLogs:
    def __init__(self, prefix):
        self.access = Tail(prefix / "access.log")
        self.app = Tail(prefix / "app.log")
        self.relay = Tail(prefix / "relay.log")
        self.access_lines = []
        self.records, self.after = {}, {}
        self.relay_conns = {}  # (listen, conn) → {"up": bytes, "down": bytes, "closed": bool}

    def poll(self):
        for line in self.access.lines():
            self.access_lines.append(line.split(" "))
        for line in self.app.lines():
            r = json.loads(line)
            (self.after if r["kind"] == "asgi-after" else self.records)[r["request_id"]] = r
        for line in self.relay.lines():
            r = json.loads(line)
            c = self.relay_conns.setdefault((r["l"], r["c"]), {"up": b"", "down": b"",
                                                               "closed": False})
            if r["e"] in ("up", "down"):
                c[r["e"]] += base64.b64decode(r["b"])
            elif r["e"] == "close":
                c["closed"] = True

    def upstream(self, request_id):
        """(relay connection key, index on it, request, response) for the
        upstream request nginx tagged with this X-Request-Id."""
        for key, c in self.relay_conns.items():
            up = Reader(lambda: b"")
            up.buf, up.eof = c["up"], True
            down = Reader(lambda: b"")
            down.buf, down.eof = c["down"], True
            index = 0
            while True:
                req = read_message(up)
                if req is None:
                    break
                resp = None
                while True:
                    resp = read_message(down, req["method"])
                    if resp is None or resp["status"] >= 200:
                        break
                if header(req["headers"], "x-request-id") == request_id:
                    return key, index, req, resp
                index += 1
        return None


# ── one request, as each side saw it ─────────────────────────────────────


@dataclass
class Seen:
    """What one side did with one request: the raw material for the rows."""
    responses: list = field(default_factory=list)  # client side, interim first
    answered: str = ""  # web server | app server | app
    upstream_req: dict = None  # method/target/version/headers
    upstream_index: int = None  # position on its upstream connection
    upstream_resp: dict = None  # version/status/reason/headers
    environ: list = None  # [[key, value]]
    scope: list = None  # [[key, value]]
    received: list = None  # receive() results until the body was complete
    after: object = None  # receive() after the response: message, or "(absent)"
    sent: list = None  # send() message types
    worker_first: object = None  # WSGI: a worker took the request before it was read (or "unknown")
    client_addr: str = ""
    request_id: str = ""


def same_settings(roundtrip, tmp, cases):
    """A bundled lesson replayed against a configured server must have
    that server's settings: the nginx directives were written from them."""
    for case in cases:
        if case.config is None or case.trace is None:
            continue
        probe = tmp / f"probe-{case.config}.toml"
        probe.write_text(configured_lesson(case.config) + '[[request]]\npath = "/"\n')
        out = subprocess.run([roundtrip, "run", str(probe), "--json"], capture_output=True,
                             timeout=60, check=True)
        want = json.loads(out.stdout)["meta"]["config"]["web_server"]
        if case.trace["meta"]["config"]["web_server"] != want:
            raise SystemExit(f"fidelity: the lesson of {case.id} no longer has the settings of "
                             f"CONFIGURED[{case.config!r}] in fidelity/cases.py; update both "
                             f"its stack and its nginx directives")


def real_case(case, ports, logs):
    """Send a case to nginx; collect what every layer saw."""
    port = ports["nginx_" + (case.config or case.interface)]
    seen = []
    for conn in case.conns:
        logs.poll()
        before = len(logs.access_lines)
        local, answers = exchange(port, conn)
        finals = sum(1 for a in answers if a and a[-1]["status"] >= 200)
        end = time.monotonic() + 3
        while True:
            logs.poll()
            mine = [a for a in logs.access_lines[before:] if a[0] == str(local)]
            if len(mine) >= finals or time.monotonic() > end:
                break
            time.sleep(0.01)
        for i, raw in enumerate(conn):
            s = Seen(client_addr=CLIENT_ADDR)
            s.responses = answers[i] if i < len(answers) else []
            if i >= len(mine):
                s.answered = "(no response)" if not s.responses else "web server"
                seen.append(s)
                continue
            _, rid, status, upstream_status = mine[i][:4]
            s.request_id = rid
            if case.interface == "asgi" and rid in logs.records:
                end = time.monotonic() + 1.5
                while rid not in logs.after and time.monotonic() < end:
                    time.sleep(0.01)
                    logs.poll()
            up = logs.upstream(rid) if upstream_status != "-" else None
            if up:
                _, s.upstream_index, req, resp = up
                s.upstream_req = req
                s.upstream_resp = resp
            rec = logs.records.get(rid)
            if rec:
                s.answered = "app"
                if rec["kind"] == "wsgi":
                    s.environ = rec["environ"]
                    s.worker_first = True  # gunicorn: accept(), then read (workers/sync.py)
                else:
                    s.scope = rec["scope"]
                    s.received = rec["received"]
                    aft = logs.after.get(rid)
                    s.after = (aft["after"] if aft and aft["after"] else "(absent)")
                    s.sent = aft["sent"] if aft else None
            elif up and up[3] is not None:
                s.answered = "app server"
            else:
                s.answered = "web server"
            seen.append(s)
    return seen


ANSWERER = {"web_server": "web server", "app_server": "app server", "framework": "app",
            "handler": "app", "database": "app", "client": "client"}


def roundtrip_trace(roundtrip, case, tmp):
    if case.trace is not None:
        return case.trace
    path = tmp / ("lesson-" + re.sub(r"[^a-z0-9]+", "-", case.id) + ".toml")
    path.write_text(inline_lesson(case))
    out = subprocess.run([roundtrip, "run", str(path), "--json"], capture_output=True, timeout=60)
    if out.returncode != 0:
        raise SystemExit(f"roundtrip run {path} --json: {out.stderr.decode()[:500]}")
    return json.loads(out.stdout)


def request_ids(case, trace):
    if case.request_ids is not None:
        return case.request_ids
    ids, order = {}, []
    for e in trace["events"]:
        if e["step"] == "client.request.send":
            if e["conn"] not in ids:
                order.append(e["conn"])
                ids[e["conn"]] = []
            ids[e["conn"]].append(e["request"])
    return [ids[c] for c in order]


def data(event, kind):
    return next((d for d in event["data"] if d["type"] == kind), None)


def roundtrip_case(case, trace, serve_port):
    """The same case through `roundtrip serve` (what the client gets) and
    its trace (what every layer saw)."""
    ids = request_ids(case, trace)
    peer = next((c["peer"] for c in trace.get("connections", []) if c["hop"] == "client"), "")
    client_addr = peer.rsplit(":", 1)[0]
    by_id = {r["id"]: r for r in trace.get("requests", [])}
    ups = trace.get("upstream_connections", [])
    seen = []
    for conn, conn_ids in zip(case.conns, ids):
        _, answers = exchange(serve_port, conn)
        for i, rid in enumerate(conn_ids):
            s = Seen(client_addr=client_addr)
            s.responses = answers[i] if i < len(answers) else []
            evs = [e for e in trace["events"] if e["request"] == rid]
            entry = by_id.get(rid)
            who = entry["answered_by"] if entry else None
            if who is None:
                who = next((e["layer"] for e in reversed(evs) if e.get("answer")), None)
            s.answered = ANSWERER.get(who, "(no response)" if who is None else who)
            for e in evs:
                if e["step"] == "web_server.proxy.send" and s.upstream_req is None:
                    h = data(e, "request_head")
                    s.upstream_req = {"method": h["method"], "target": h["target"],
                                      "version": h["version"],
                                      "headers": [tuple(p) for p in h["headers"]]}
                    s.request_id = header(s.upstream_req["headers"], "x-request-id") or ""
                elif e["step"] == "web_server.proxy.receive":
                    h = data(e, "response_head")
                    if h:
                        s.upstream_resp = {"version": h["version"], "status": h["status"],
                                           "reason": h["reason"],
                                           "headers": [tuple(p) for p in h["headers"]]}
                elif e["step"] == "app_server.wsgi.call":
                    s.environ = data(e, "environ")["entries"]
                elif e["step"] == "app_server.asgi.call":
                    s.scope = data(e, "scope")["entries"]
            for u in ups:
                if rid in u["requests"]:
                    s.upstream_index = u["requests"].index(rid)
            if s.scope is not None:
                s.received, s.sent, s.after = [], [], "(absent)"
                for e in evs:
                    m = data(e, "asgi_message")
                    if not m:
                        continue
                    msg = m["message"]
                    if m["call"] == "send":
                        s.sent.append(dict(msg)["type"])
                    elif s.sent:
                        s.after = msg
                    else:
                        s.received.append(msg)
            if s.environ is not None:
                # The worker takes the connection in app_server.accept (a
                # connection-scoped step, linked to the request's upstream
                # connection), then reads the request on it.
                read_ev = next((e for e in evs if e["step"] == "app_server.request.receive"),
                               None)
                read = read_ev["seq"] if read_ev else None
                up = read_ev.get("upstream") if read_ev else None
                worker = next((e["seq"] for e in trace["events"]
                               if e["step"] == "app_server.accept"
                               and e.get("instance", {}).get("kind") == "worker"
                               and up is not None and e.get("upstream") == up), None)
                s.worker_first = worker < read if worker is not None and read is not None \
                    else "unknown"
            seen.append(s)
    return seen


# ── rows ─────────────────────────────────────────────────────────────────

CLIENT = "client ← web server"
UP = "web server → app server"
DOWN = "app server → web server"
ENV = "WSGI environ"
SCOPE = "ASGI scope"
MSG = "ASGI messages"
ORDER = "trace order"
FRAMEWORK = "frameworks"
WS = "websocket: client ↔ web server"
SECTIONS = ["who answered", CLIENT, UP, DOWN, ENV, SCOPE, MSG, ORDER, WS, FRAMEWORK,
            "source docs"]

NGINX_OWN = {"server", "date", "content-type", "content-length", "transfer-encoding",
             "connection", "keep-alive"}
APP_SERVER_OWN = {"server", "date", "connection", "transfer-encoding"}
ABSENT = "(absent)"


def layout(headers, own):
    """Header names in order and casing, the ones the app chose as `…`
    (normalization app-headers)."""
    out = []
    for name, _ in headers:
        if name.lower() in own:
            out.append(name)
        elif not out or out[-1] != "…":
            out.append("…")
    return ", ".join(out) or "(no header fields)"


def server_tokens(text):
    """normalization server-software."""
    text = re.sub(r"nginx/[0-9.]+|roundtrip-nginx(/[0-9.]+)?|(?<=<center>)nginx(?=</center>)",
                  "<web server>", text)
    return re.sub(r"gunicorn/[0-9.]+|uvicorn|roundtrip-appserver(/[0-9.]+)?", "<app server>", text)


def show(value):
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def message_text(msg):
    if msg == ABSENT:
        return ABSENT
    return ", ".join(f"{k}={show(v)}" for k, v in msg)


def rows_for(s, first_in_case):
    """{(section, area): value} for one side of one request."""
    out = {}
    cl = s.client_addr

    def put(section, area, value):
        if isinstance(value, str) and cl:
            value = value.replace(cl, "<client>")  # normalization client-address
        out[(section, area)] = value

    put("who answered", "layer that decided the status", s.answered)
    if s.responses:
        put(CLIENT, "status line", " → ".join(
            f"{r['version']} {r['status']} {r['reason']}" for r in s.responses))
        final = s.responses[-1]
        put(CLIENT, "header layout", layout(final["headers"], NGINX_OWN))
        put(CLIENT, "Connection", header(final["headers"], "connection") or ABSENT)
        # The web server's filters on the way back: compression and what
        # it does to Vary and ETag. Compressed bytes differ between zlib
        # and flate2 at the same level, so bodies are compared decoded.
        encoding = header(final["headers"], "content-encoding")
        put(CLIENT, "Content-Encoding", encoding or ABSENT)
        put(CLIENT, "Vary", header(final["headers"], "vary") or ABSENT)
        body = final["body"]
        if encoding == "gzip" and body:
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError) as e:
                body = f"(not gzip: {e})".encode()
        if s.answered != "app":
            put(CLIENT, "page Content-Type", header(final["headers"], "content-type") or ABSENT)
            put(CLIENT, "page ETag", header(final["headers"], "etag") or ABSENT)
            put(CLIENT, "page body", server_tokens(body.decode("latin-1")))
    else:
        put(CLIENT, "status line", "(connection closed, no response)")
    if s.upstream_req:
        r = s.upstream_req
        put(UP, "request line", f"{r['method']} {r['target']} {r['version']}")
        hs = []
        for n, v in r["headers"]:
            if n.lower() == "x-request-id":
                v = "<request id>"  # normalization request-id
            if n.lower() != "content-length":
                hs.append(f"{n}: {v}")
        put(UP, "header fields (Content-Length aside)", ", ".join(hs))
        names = [n.lower() for n, _ in r["headers"]]
        if "content-length" in names:
            i = names.index("content-length")
            where = f"after {r['headers'][i - 1][0]}" if i else "first"
            put(UP, "Content-Length", f"{header(r['headers'], 'content-length')}, {where}")
        else:
            put(UP, "Content-Length", ABSENT)
        if not first_in_case:  # normalization first-upstream-connection
            put(UP, "upstream connection", "new" if s.upstream_index == 0 else "reused")
    if s.upstream_resp:
        r = s.upstream_resp
        put(DOWN, "status line", f"{r['version']} {r['status']} {r['reason']}")
        put(DOWN, "header layout", layout(r["headers"], APP_SERVER_OWN))
    if s.environ is not None:
        padding = [v for k, v in s.environ if re.fullmatch(r"HTTP_X_FIELD_\d+", k)]
        if padding:  # the fields-N cases' filler fields, as one row
            put(ENV, "environ HTTP_X_FIELD_0 …", f"{len(padding)} keys, values {sorted(set(padding))}")
        for k, v in s.environ:
            if re.fullmatch(r"HTTP_X_FIELD_\d+", k):
                continue
            if k == "HTTP_X_REQUEST_ID":
                v = "<request id>"
            elif k == "REMOTE_PORT":
                v = "<ephemeral port>"  # normalization ports
            elif k == "SERVER_PORT":
                v = "<app server port>"
            elif k == "SERVER_SOFTWARE":
                v = server_tokens(v)
            elif re.fullmatch(r"<.*>", v):
                v = "<object>"  # normalization objects
            put(ENV, "environ " + k, v)
    if s.scope is not None:
        for k, v in s.scope:
            if k == "headers":
                pairs = []
                for n, hv in v:
                    if n == 'b"x-request-id"':
                        hv = 'b"<request id>"'
                    if n != 'b"content-length"':
                        pairs.append([n, hv])
                    else:
                        put(SCOPE, "scope headers: content-length", hv)
                v = pairs
            elif k == "client" and isinstance(v, list) and len(v) == 2 and v[1] != 0:
                v = [v[0], "<ephemeral port>"]
            elif k == "server" and isinstance(v, list) and len(v) == 2:
                v = [v[0], "<app server port>"]
            put(SCOPE, "scope " + k, show(v))
    if s.received is not None:
        put(MSG, "receive() until the body is complete",
            " ; ".join(message_text(m) for m in s.received) or "(not called)")
        put(MSG, "receive() after the response", message_text(s.after))
        put(MSG, "send()", ", ".join(s.sent or []) or ABSENT)
    if s.worker_first is not None:
        put(ORDER, "WSGI: who reads the request", {
            True: "a worker takes the connection, then reads the request",
            False: "the request is read, then a worker takes it",
        }.get(s.worker_first, "(no app_server.accept by a worker, or no app_server.request.receive step)"))
    return out


INTERNAL = {UP, DOWN, ENV, SCOPE, MSG, ORDER}


def compare(case, real, rt):
    """[(case id, section, area, real value, roundtrip value)]."""
    rows = []
    for i, (a, b) in enumerate(zip(real, rt)):
        ra, rb = rows_for(a, i == 0), rows_for(b, i == 0)
        reached = {sec for (sec, _) in ra} & {sec for (sec, _) in rb}
        cid = case.id if len(real) == 1 else f"{case.id}#{i + 1}"
        for key in sorted(set(ra) | set(rb), key=lambda k: (SECTIONS.index(k[0]), k[1])):
            sec, area = key
            if sec in INTERNAL and sec not in reached:
                continue  # only one side got this far; "who answered" says so
            if sec == CLIENT and area.startswith("page") and (key not in ra or key not in rb):
                continue
            rows.append((cid, sec, area, ra.get(key, ABSENT), rb.get(key, ABSENT)))
    if len(real) != len(rt):
        rows.append((case.id, "who answered", "requests answered", str(len(real)), str(len(rt))))
    return rows


# ── websockets (ws.py's probes, against both configured pairs) ──────────


def websocket_rows(roundtrip, tmp, only, ports):
    """The websocket probes' rows. The ws-chat lesson must have the
    settings its configured nginx was written from."""
    out = subprocess.run([roundtrip, "run", str(ROOT / "scenarios" / "ws-chat.toml"), "--json"],
                         capture_output=True, timeout=60, check=True)
    lesson = json.loads(out.stdout)["meta"]["config"]["web_server"]
    path = tmp / "probe-ws-chat.toml"
    path.write_text(configured_lesson("ws-chat") + '[[request]]\npath = "/"\n')
    probe = subprocess.run([roundtrip, "run", str(path), "--json"], capture_output=True,
                           timeout=60, check=True)
    if json.loads(probe.stdout)["meta"]["config"]["web_server"] != lesson:
        raise SystemExit("fidelity: scenarios/ws-chat.toml no longer has the settings of "
                         "CONFIGURED['ws-chat'] in fidelity/cases.py; update both")
    return [(cid, WS, area, real, rt) for cid, area, real, rt in ws.run(ports, CLIENT_ADDR)
            if not only or re.search(only, cid)]


# ── frameworks (in-process, no server) ───────────────────────────────────


def framework_rows(roundtrip, tmp, known):
    """How Flask, FastAPI and Starlette answer the requests where a real
    framework's choice shows, next to roundtrip's generic framework. The
    apps are driven in-process (Werkzeug's test client; a bare ASGI call)."""
    try:
        import frameworks
        real = frameworks.run_all()
    except ImportError as e:
        row = ("framework", FRAMEWORK, "frameworks", f"not available: {e}", ABSENT)
        return [row + (("DIFF", None),)]
    rows = claim_rows(real, known)
    lesson = "title = \"fidelity check: frameworks\"\n"
    for i, (_, method, path, body) in enumerate(frameworks.PROBES, 1):
        lesson += f'[[request]]\nmethod = "{method}"\npath = "{path}"\nat = "{i * 10}ms"\n'
        if body is not None:
            lesson += f"body = {json.dumps(body)}\nheaders = {{ Content-Type = \"application/json\" }}\n"
    p = tmp / "lesson-frameworks.toml"
    p.write_text(lesson)
    out = subprocess.run([roundtrip, "run", str(p), "--json"], capture_output=True, timeout=60)
    trace = json.loads(out.stdout)
    got = {}
    for e in trace["events"]:
        if e["step"] == "client.response.receive":
            h = data(e, "response_head")
            allow = header([tuple(x) for x in h["headers"]], "allow")
            got[e["request"]] = frameworks.summary(h["status"], allow)
    for i, (name, _, _, _) in enumerate(frameworks.PROBES, 1):
        r = real[name]
        realtext = "; ".join(f"{fw} {r[fw]}" for fw in frameworks.NAMES)
        row = ("framework", FRAMEWORK, name, realtext, got.get(i, ABSENT))
        like = [fw for fw in frameworks.NAMES if r[fw] == got.get(i)]
        if like:
            row = ("framework", FRAMEWORK, name, realtext, f"{got[i]} (as {', '.join(like)})")
        rows.append(row + (("OK", None) if like else verdict(row, known),))
    return rows


# ── what the source docs claim ───────────────────────────────────────────

DOCS = "source docs"

# (file, regex of a claim the real frameworks contradict, area, what the
# real framework does). A claim found is a row that differs; once the text
# is gone the row is OK.
CLAIMS = [
    ("src/framework/router.rs", r"Flask\s+with\s+308",
     "router.rs on GET /notes/ against the route /notes",
     "Flask: {flask}, no redirect (Werkzeug redirects only when the rule ends in /); "
     "Starlette and FastAPI: {starlette}"),
    ("src/app/notes.rs", r"as Django's\s+`<int:id>`",
     "notes.rs on GET /notes/abc against /notes/{id}",
     "Django's URL resolver answers 404 before any view runs when <int:id> does not match "
     "(Django docs, URL dispatcher: path converters); here the handler answers"),
]


def claim_rows(fw, known):
    rows = []
    slash = fw.get("trailing slash: GET /notes/ (route /notes)", {})
    for path, pattern, area, fact in CLAIMS:
        text = (ROOT / path).read_text() if (ROOT / path).exists() else ""
        m = re.search(pattern, text)
        real = fact.format(flask=slash.get("Flask", "?"), starlette=slash.get("Starlette", "?"))
        if m:
            line = text[: m.start()].count("\n") + 1
            quote = " ".join(text[max(0, m.start() - 60): m.end() + 10].split())
            row = ("docs", DOCS, area, real, f"{path}:{line}: …{quote}…")
            rows.append(row + (verdict(row, known),))
        else:
            rows.append(("docs", DOCS, area, real, "(the claim is gone)", ("OK", None)))
    return rows


# ── verdicts and the table ───────────────────────────────────────────────


def load_known(path):
    with open(path, "rb") as f:
        k = tomllib.load(f)
    return k.get("normalize", []), k.get("known", [])


NORMALIZATIONS = {"client-address", "request-id", "ports", "server-software", "objects",
                  "app-headers", "app-bodies", "first-upstream-connection",
                  "sequential-replay", "allow-order"}


def verdict(row, known):
    cid, sec, area, real, rt = row[:5]
    if real == rt:
        return "OK", None
    for k in known:
        globs = [k["area"]] if isinstance(k["area"], str) else k["area"]
        if not any(fnmatch.fnmatchcase(f"{sec}: {area}", g) for g in globs):
            continue
        if "cases" in k and not re.search(k["cases"], cid):
            continue
        if "real" in k and not re.search(k["real"], real):
            continue
        if "roundtrip" in k and not re.search(k["roundtrip"], rt):
            continue
        k["used"] = True
        return "KNOWN", k["id"]
    return "DIFF", None


def cut(text, n):
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= n else text[: n - 1] + "…"


def case_list(ids, n=6):
    """`asgi+wsgi: line-8193, line-8194; wsgi: header-8191`."""
    ifaces = {}
    for i in ids:
        iface, _, name = i.partition("/")
        ifaces.setdefault(name, set()).add(iface)
    groups = {}
    for name, where in ifaces.items():
        groups.setdefault("+".join(sorted(where)), []).append(name)
    parts = []
    for where, names in groups.items():
        shown = ", ".join(names[:n]) + (f", +{len(names) - n} more" if len(names) > n else "")
        parts.append(f"{where}: {shown}")
    return "; ".join(parts)


def build_table(rows, known):
    groups = {}
    for row in rows:
        v, kid = row[5] if len(row) > 5 else verdict(row, known)
        key = (row[1], row[2], v, kid, row[3], row[4])
        groups.setdefault(key, []).append(row[0])
    table = []
    ok_by_area = {}
    for (sec, area, v, kid, real, rt), cids in groups.items():
        if v == "OK":
            ok_by_area.setdefault((sec, area), []).append((real, rt, cids))
        else:
            table.append((sec, area, cids, real, rt, v, kid))
    for (sec, area), values in ok_by_area.items():
        cids = [c for _, _, cs in values for c in cs]
        if len(values) == 1:
            real, rt = values[0][:2]
        else:
            distinct = [cut(v[0], 40) for v in values]
            real = rt = " / ".join(distinct[:3]) + (f" (+{len(distinct) - 3} more)"
                                                    if len(distinct) > 3 else "")
        table.append((sec, area, cids, real, rt, "OK", None))
    order = {"DIFF": 0, "KNOWN": 1, "OK": 2}
    table.sort(key=lambda t: (SECTIONS.index(t[0]), t[1], order[t[5]]))
    return table


def render(table, markdown, versions):
    out = []
    real_head = "real (" + ", ".join(versions) + ")"
    if markdown:
        out.append(f"| area | {real_head} | roundtrip | verdict |")
        out.append("|---|---|---|---|")
        for sec, area, cids, real, rt, v, kid in table:
            esc = lambda s, n=160: cut(s, n).replace("|", "\\|")  # noqa: E731
            where = case_list(cids, 4) if sec not in (FRAMEWORK, DOCS) else ""
            a = f"{sec}: {area}" + (f" ({where})" if where else "")
            ver = f"**{v}**" + (f" `{kid}`" if kid else "")
            out.append(f"| {esc(a, 400)} | `` {esc(real)} `` | `` {esc(rt)} `` | {ver} |")
        return "\n".join(out)
    width = 46
    for sec, area, cids, real, rt, v, kid in table:
        ver = v + (f" {kid}" if kid else "")
        where = case_list(cids, 4) if sec not in (FRAMEWORK, DOCS) else ""
        out.append(f"{ver:<26} {sec}: {area}" + (f"  [{where}]" if where else ""))
        if v == "DIFF":
            out.append(f"{'':<26}   real:      {real!r}")
            out.append(f"{'':<26}   roundtrip: {rt!r}")
            continue
        if v == "OK" and real == rt:
            out.append(f"{'':<26}   both:      {cut(real, 2 * width)}")
        else:
            out.append(f"{'':<26}   real:      {cut(real, 2 * width)}")
            out.append(f"{'':<26}   roundtrip: {cut(rt, 2 * width)}")
    return "\n".join(out)


SERVER_OF = {"gunicorn": "gunicorn", "uvicorn": "uvicorn", "relay_wsgi": "gunicorn",
             "relay_asgi": "uvicorn", "nginx_wsgi": "nginx/", "nginx_asgi": "nginx/",
             "serve_wsgi": "roundtrip-nginx", "serve_asgi": "roundtrip-nginx"}


def whose(port):
    """The Server header of whoever answers on this port."""
    try:
        _, answers = exchange(port, [b"GET /fidelity-probe HTTP/1.1\r\nHost: probe\r\n"
                                     b"Connection: close\r\n\r\n"])
        return header(answers[0][-1]["headers"], "server") or ""
    except (OSError, IndexError):
        return ""


def start_stack(procs, tmp, args, venv_bin, attempts=3):
    """Start every server on ports of their own. Another program on this
    machine may take a port between our choosing it and a server binding
    it, so each listener must prove it is ours (by its Server header); if
    one does not, everything starts again on other ports."""
    env = dict(os.environ, FIDELITY_APP_LOG=str(tmp / "app.log"))
    apps = str(HERE / "apps")
    for _ in range(attempts):
        expect = dict(SERVER_OF)
        for name in CONFIGURED:
            expect[f"nginx_{name}"] = "nginx"
            expect[f"serve_{name}"] = "roundtrip-nginx"
        ports = {name: free_port() for name in expect}
        started = {
            "gunicorn": procs.start(
                "gunicorn", [str(venv_bin / "gunicorn"), "--worker-class", "sync", "-w", "2",
                             "-b", f"127.0.0.1:{ports['gunicorn']}", "--chdir", apps,
                             "wsgi_app:application"], tmp / "gunicorn.log", env=env),
            "uvicorn": procs.start(
                "uvicorn", [str(venv_bin / "uvicorn"), "asgi_app:app", "--app-dir", apps,
                            "--host", "127.0.0.1", "--port", str(ports["uvicorn"]),
                            "--http", "h11", "--ws", "websockets-sansio", "--no-access-log"],
                tmp / "uvicorn.log", env=env),
        }
        started["relay_wsgi"] = started["relay_asgi"] = procs.start(
            "relay", [sys.executable, str(HERE / "relay.py"), str(tmp / "relay.log"),
                      f"{ports['relay_wsgi']}:{ports['gunicorn']}",
                      f"{ports['relay_asgi']}:{ports['uvicorn']}"], tmp / "relay.out")
        blocks = []
        for name, c in CONFIGURED.items():
            body = c.nginx.replace("@SITE@", str(SITE)).replace("@UPSTREAM@",
                                                                f"{c.interface}_app")
            blocks.append(f"    server {{ # {name}\n        listen 127.0.0.1:"
                          f"{ports['nginx_' + name]};\n{body}    }}")
        conf = (HERE / "nginx.conf.in").read_text().replace("@CONFIGURED_SERVERS@",
                                                             "\n".join(blocks))
        for k, v in {"PREFIX": tmp, "SITE": SITE, "WSGI_UPSTREAM_PORT": ports["relay_wsgi"],
                     "ASGI_UPSTREAM_PORT": ports["relay_asgi"], "WSGI_PORT": ports["nginx_wsgi"],
                     "ASGI_PORT": ports["nginx_asgi"]}.items():
            conf = conf.replace(f"@{k}@", str(v))
        (tmp / "nginx.conf").write_text(conf)
        started["nginx_wsgi"] = started["nginx_asgi"] = procs.start(
            "nginx", [args.nginx, "-p", str(tmp), "-e", str(tmp / "error.log"),
                      "-c", str(tmp / "nginx.conf")], tmp / "nginx.out")
        for iface in ("wsgi", "asgi"):
            started[f"serve_{iface}"] = procs.start(
                f"roundtrip serve {iface}",
                [args.roundtrip, "serve", "--listen", f"127.0.0.1:{ports['serve_' + iface]}",
                 "--interface", iface, "--root", str(SITE)], tmp / f"serve-{iface}.log")
        for name in CONFIGURED:
            lesson = tmp / f"config-{name}.toml"
            # serve reads a lesson's [stack]; a lesson needs a request.
            lesson.write_text(configured_lesson(name) + '[[request]]\npath = "/"\n')
            started[f"nginx_{name}"] = started["nginx_wsgi"]
            started[f"serve_{name}"] = procs.start(
                f"roundtrip serve {name}",
                [args.roundtrip, "serve", "--listen", f"127.0.0.1:{ports['serve_' + name]}",
                 "--lesson", str(lesson), "--root", str(SITE)], tmp / f"serve-{name}.log")
        try:
            for name, proc in started.items():
                wait_port(ports[name], proc)
            wrong = {name: got for name, want in expect.items()
                     if not (got := whose(ports[name])).startswith(want)}
        except SystemExit as e:
            wrong = {"start": str(e)[:300]}
        if not wrong:
            return ports
        procs.stop()
        procs.procs.clear()
        print(f"fidelity: not our servers on every port ({wrong}); starting again on others",
              file=sys.stderr)
    raise SystemExit(f"fidelity: could not start the servers on ports of their own "
                     f"in {attempts} tries; logs in {tmp} (run with --keep)")


# ── main ─────────────────────────────────────────────────────────────────


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--roundtrip", required=True)
    ap.add_argument("--nginx", required=True)
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument("--only", help="run only the cases whose id matches this regex")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    started = time.monotonic()
    venv_bin = Path(sys.executable).parent
    normalize, known = load_known(HERE / "known.toml")
    listed = {n["id"] for n in normalize}
    if listed != NORMALIZATIONS:
        raise SystemExit(f"known.toml's [[normalize]] ids {sorted(listed)} differ from the "
                         f"normalizations check.py applies {sorted(NORMALIZATIONS)}")

    try:
        with socket.socket() as s:
            s.bind((CLIENT_ADDR, 0))
    except OSError as e:
        raise SystemExit(f"fidelity: cannot bind the client to {CLIENT_ADDR} ({e}); the check "
                         "needs a second loopback address so the client is not the proxy")
    tmp = Path(tempfile.mkdtemp(prefix="roundtrip-fidelity-"))
    os.chmod(tmp, 0o755)
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / "tmp" / d).mkdir(parents=True)
        os.chmod(tmp / "tmp" / d, 0o777)
    procs = Processes()

    def on_signal(signum, _frame):
        procs.stop()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGALRM, lambda *_: (procs.stop(), sys.exit("fidelity check: took "
                                                                       f"over {DEADLINE} s")))
    signal.alarm(int(DEADLINE))
    try:
        ports = start_stack(procs, tmp, args, venv_bin)

        # What roundtrip's web server is configured with by default, to
        # tell which lessons the real nginx (all defaults) can replay.
        probe = tmp / "lesson-defaults.toml"
        probe.write_text('title = "defaults"\n[[request]]\npath = "/"\n')
        defaults = json.loads(subprocess.run([args.roundtrip, "run", str(probe), "--json"],
                                             capture_output=True, timeout=60, check=True).stdout)
        cases = lesson_cases(args.roundtrip, ROOT / "scenarios",
                             defaults["meta"]["config"]["web_server"])
        for iface in ("wsgi", "asgi"):
            for name, title, reqs in edge_cases():
                cases.append(Case(f"{iface}/{name}", title, iface, [reqs]))
        for config, name, title, reqs in configured_cases():
            iface = CONFIGURED[config].interface
            cases.append(Case(f"{iface}/{config}:{name}", title, iface, [reqs], config=config))
        same_settings(args.roundtrip, tmp, cases)
        if args.only:
            cases = [c for c in cases if re.search(args.only, c.id)]
        skipped = [c for c in cases if c.note]
        cases = [c for c in cases if not c.note]

        with ThreadPoolExecutor(2) as pool:
            traces = list(pool.map(lambda c: roundtrip_trace(args.roundtrip, c, tmp), cases))
            fw_future = pool.submit(framework_rows, args.roundtrip, tmp, known)
            logs = RealLogs(tmp)
            rows = []
            for case, trace in zip(cases, traces):
                real = real_case(case, ports, logs)
                rt = roundtrip_case(case, trace, ports["serve_" + (case.config or case.interface)])
                rows += compare(case, real, rt)
            rows += fw_future.result()
            rows += websocket_rows(args.roundtrip, tmp, args.only, ports)
    finally:
        procs.stop()
        signal.alarm(0)
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            subprocess.run(["rm", "-rf", str(tmp)], check=False)

    versions = [subprocess.run([args.nginx, "-v"], capture_output=True, text=True)
                .stderr.strip().split(": ")[-1]]
    for pkg in ("gunicorn", "uvicorn", "flask", "fastapi", "starlette", "websockets"):
        versions.append(f"{pkg} {metadata.version(pkg)}")
    table = build_table(rows, known)
    if args.markdown:
        rt_version = subprocess.run([args.roundtrip, "--version"], capture_output=True,
                                    text=True).stdout.strip()
        rev = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                             capture_output=True, text=True).stdout.strip() or "?"
        print(f"Generated by `fidelity/run --markdown` on {time.strftime('%Y-%m-%d')}, "
              f"{rt_version} ({rev}).\n")
    print(render(table, args.markdown, versions))
    counts = {v: sum(1 for t in table if t[5] == v) for v in ("OK", "KNOWN", "DIFF")}
    unused = [f"{k['id']} (area {k['area']})" for k in known if not k.get("used")]
    took = time.monotonic() - started
    print()
    print(f"{len(rows)} comparisons in {len(cases)} cases, {len(table)} rows: "
          f"{counts['OK']} OK, {counts['KNOWN']} KNOWN, {counts['DIFF']} DIFF; {took:.0f} s")
    for c in skipped:
        print(f"not replayed: {c.id}: {c.note}")
    if unused and not args.only:
        print("known differences that no longer occur (remove them from fidelity/known.toml): "
              + ", ".join(unused))
    return 1 if counts["DIFF"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `fidelity/run | head`
        sys.exit(0)
