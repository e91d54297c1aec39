"""The requests the fidelity check sends: the bundled lessons' own bytes
(read from `roundtrip run LESSON --json`) and a set of edge cases.

A case is a list of client connections, each a list of raw requests sent
one after another (the next after the previous response), to one
interface (wsgi: gunicorn-like sync workers; asgi: uvicorn-like loop).
"""

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Case:
    id: str  # "wsgi/line-8193", "asgi/lesson:keep-alive"
    title: str
    interface: str
    conns: list  # [[bytes, ...], ...]
    trace: dict = field(default=None, repr=False)  # roundtrip's trace (bundled lessons)
    note: str = ""  # why it is not replayed
    request_ids: list = None  # the trace's request ids, per connection (bundled lessons)
    config: str = None  # a CONFIGURED web server's name; None: the defaults


HOST = "Host: example.com\r\n"
UA = "User-Agent: fidelity-check\r\n"


def request(method, target, headers=(), body=b"", version="HTTP/1.1", host=True):
    head = f"{method} {target} {version}\r\n"
    if host:
        head += HOST
    head += UA
    for h in headers:
        head += h + "\r\n"
    return head.encode() + b"\r\n" + body


def line_of(total):
    """GET /notes?p=aaa... HTTP/1.1 whose request line is `total` bytes
    long including its CRLF."""
    pre, suf = "GET /notes?p=", " HTTP/1.1\r\n"
    pad = total - len(pre) - len(suf)
    return (pre + "a" * pad + suf + HOST + UA + "\r\n").encode()


def header_line_of(total):
    """GET /notes with one X-Pad field line of `total` bytes incl. CRLF."""
    pre = "X-Pad: "
    pad = total - len(pre) - 2
    return request("GET", "/notes", [pre + "a" * pad])


def fields(n):
    """GET /notes with `n` header fields in all (Host and User-Agent
    included)."""
    return request("GET", "/notes", [f"X-Field-{i}: v" for i in range(n - 2)])


NOTE_JSON = b'{"title":"Buy milk","body":"Semi-skimmed"}'

SITE = Path(__file__).resolve().parent.parent / "scenarios" / "site"


def file_validators(rel):
    """nginx's ETag and Last-Modified of a file of the site, from its stat()."""
    st = (SITE / rel).stat()
    mtime = int(st.st_mtime)
    stamp = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(mtime))
    return f'"{mtime:x}-{st.st_size:x}"', stamp


def static_cases():
    """Static files from /static/: both sides serve scenarios/site."""
    css = "/static/css/site.css"
    etag, stamp = file_validators("static/css/site.css")
    return [
        ("static-file", "GET a file", [request("GET", css)]),
        ("static-head", "HEAD a file", [request("HEAD", css)]),
        ("static-inm", "If-None-Match with the ETag (304)",
         [request("GET", css, [f"If-None-Match: {etag}"])]),
        ("static-inm-weak", "If-None-Match, weak (304)",
         [request("GET", css, [f"If-None-Match: W/{etag}"])]),
        ("static-ims", "If-Modified-Since, the exact date (304)",
         [request("GET", css, [f"If-Modified-Since: {stamp}"])]),
        ("static-inm-ims", "a matching ETag with another date (200 in nginx)",
         [request("GET", css, [f"If-None-Match: {etag}",
                               "If-Modified-Since: Thu, 01 Jan 2015 00:00:00 GMT"])]),
        ("static-range", "Range: bytes=0-63 (206)", [request("GET", css, ["Range: bytes=0-63"])]),
        ("static-suffix", "Range: bytes=-20 (206)", [request("GET", css, ["Range: bytes=-20"])]),
        ("static-multi", "two ranges (multipart/byteranges)",
         [request("GET", css, ["Range: bytes=0-9,100-109"])]),
        ("static-416", "Range past the end (416)", [request("GET", css, ["Range: bytes=1000-"])]),
        ("static-if-range", "stale If-Range (200)",
         [request("GET", css, ["Range: bytes=0-9", 'If-Range: "0-0"'])]),
        ("static-dir", "a directory without its slash (301)", [request("GET", "/static/docs")]),
        ("static-index", "a directory's index.html", [request("GET", "/static/docs/")]),
        ("static-no-index", "a directory with no index (403)", [request("GET", "/static/img/")]),
        ("static-missing", "no such file (404)", [request("GET", "/static/nope.css")]),
        ("static-post", "POST to a file (405)", [request("POST", css, ["Content-Length: 0"])]),
        ("static-dotdot", "an encoded climb above the root (400)",
         [request("GET", "/static/%2e%2e/%2e%2e/etc/passwd")]),
        ("static-nul", "%00 in the path (400)", [request("GET", "/static/css/site.css%00.txt")]),
        ("static-backslash", "encoded backslashes (404)",
         [request("GET", "/static/..%5c..%5cetc%5cpasswd")]),
    ]


def edge_cases():
    """(name, title, [raw request, ...]) — one connection each."""
    json_ct = "Content-Type: application/json"
    cl = f"Content-Length: {len(NOTE_JSON)}"
    chunked = b"10\r\n" + NOTE_JSON[:16] + b"\r\n" + f"{len(NOTE_JSON) - 16:x}".encode() \
        + b"\r\n" + NOTE_JSON[16:] + b"\r\n0\r\n\r\n"
    cases = [
        ("http10", "HTTP/1.0 GET", [request("GET", "/notes", version="HTTP/1.0")]),
        ("head", "HEAD /notes", [request("HEAD", "/notes")]),
        ("close", "Connection: close", [request("GET", "/notes", ["Connection: close"])]),
        ("post", "POST with a JSON body", [request("POST", "/notes", [json_ct, cl], NOTE_JSON)]),
        ("chunked", "chunked request body",
         [request("POST", "/notes", [json_ct, "Transfer-Encoding: chunked"], chunked)]),
        ("expect", "Expect: 100-continue, body sent with the head",
         [request("POST", "/notes", [json_ct, cl, "Expect: 100-continue"], NOTE_JSON)]),
        ("underscore", "a header with an underscore", [request("GET", "/notes", ["X_Secret: 1"])]),
        ("percent", "percent-encoded path and query", [request("GET", "/notes/%C3%A9?q=%20")]),
        ("xff", "client-sent X-Forwarded-For",
         [request("GET", "/notes", ["X-Forwarded-For: 198.51.100.9"])]),
        ("cl-te", "Content-Length and Transfer-Encoding",
         [request("POST", "/notes", ["Content-Length: 4", "Transfer-Encoding: chunked"], b"0\r\n\r\n")]),
        ("te-gzip", "Transfer-Encoding: gzip",
         [request("POST", "/notes", ["Transfer-Encoding: gzip"], b"")]),
        ("http2", "HTTP/2.0 in the request line", [request("GET", "/notes", version="HTTP/2.0")]),
        ("no-host", "HTTP/1.1 without Host", [request("GET", "/notes", host=False)]),
        ("keep-alive", "two requests on one connection",
         [request("GET", "/notes"), request("GET", "/notes/1")]),
        # Both apps answer 304 for `*` whatever their bodies: what is
        # compared is how nginx relays an upstream 304.
        ("inm-star", "If-None-Match: * on a dynamic page (the app's 304)",
         [request("GET", "/notes", ["If-None-Match: *"])]),
    ]
    # The four request-target forms (RFC 9112 §3.2) and the Host checks
    # of ngx_http_validate_host, with nothing configured: what a careful
    # server does by default.
    cases += [
        ("absolute-form", "absolute-form target (RFC 9112 §3.2.2)",
         [request("GET", "http://example.com/notes")]),
        ("absolute-form-host", "absolute-form overrides the Host field",
         [request("GET", "http://other.example/notes")]),
        ("absolute-form-https", "absolute-form with https",
         [request("GET", "https://example.com/notes")]),
        ("absolute-form-ftp", "absolute-form with another scheme",
         [request("GET", "ftp://example.com/notes")]),
        ("authority-form", "CONNECT with authority-form (RFC 9112 §3.2.3)",
         [request("CONNECT", "example.com:443")]),
        ("asterisk-form", "OPTIONS * (RFC 9112 §3.2.4)", [request("OPTIONS", "*")]),
        ("asterisk-get", "GET * (asterisk-form is for OPTIONS only)", [request("GET", "*")]),
        ("host-port", "Host with a port", [request("GET", "/notes", ["Host: example.com:8080"],
                                                    host=False)]),
        ("host-dot", "Host with a trailing dot",
         [request("GET", "/notes", ["Host: example.com."], host=False)]),
        ("host-upper", "Host in upper case", [request("GET", "/notes", ["Host: EXAMPLE.com"],
                                                       host=False)]),
        ("host-slash", "Host with a slash (400)",
         [request("GET", "/notes", ["Host: example.com/x"], host=False)]),
        ("host-dotdot", "Host with .. (400)",
         [request("GET", "/notes", ["Host: ..example.com"], host=False)]),
        ("host-empty", "an empty Host (HTTP/1.1)",
         [request("GET", "/notes", ["Host:"], host=False)]),
        ("host-two", "two Host fields (400)",
         [request("GET", "/notes", ["Host: a.example", "Host: b.example"], host=False)]),
        ("host-ipv6", "Host with an IPv6 literal",
         [request("GET", "/notes", ["Host: [::1]:8080"], host=False)]),
    ]
    # gunicorn's limit_request_line 4094 (without CRLF); nginx's 8k
    # large_client_header_buffers (with CRLF).
    for n in (4096, 4097, 8190, 8191, 8192, 8193, 8194, 9000):
        cases.append((f"line-{n}", f"request line of {n} bytes incl. CRLF", [line_of(n)]))
    # gunicorn's limit_request_field_size 8190; nginx's 8k buffer.
    for n in (8190, 8191, 8192, 8193, 8194, 9000):
        cases.append((f"header-{n}", f"header line of {n} bytes incl. CRLF", [header_line_of(n)]))
    # h11's max_incomplete_event_size 16 KiB holds only while a head is
    # incomplete: a 28 KB head nginx writes at once, uvicorn reads at once.
    big = [f"X-Pad-{i}: " + "a" * 7000 for i in range(4)]
    cases.append(("head-28k", "four 7000-byte header lines (a 28 KB head)",
                  [request("GET", "/notes", big)]))
    # gunicorn's limit_request_fields 100; nginx adds 4 fields upstream
    # (X-Real-IP, X-Forwarded-For, X-Forwarded-Proto, X-Request-Id).
    for n in (96, 97, 100, 101):
        cases.append((f"fields-{n}", f"{n} header fields from the client", [fields(n)]))
    return cases + static_cases()


def unshow(text, length, truncated):
    """Invert roundtrip's byte display (src/trace/bytes.rs): `\\r`, `\\n`
    + newline, `\\t`, `\\\\`, `\\xNN`. A cut body of `body_size` x's is
    filled in again."""
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            n = text[i + 1]
            if n == "r":
                out += b"\r"
                i += 2
            elif n == "n":
                out += b"\n"
                i += 3 if text[i + 2: i + 3] == "\n" else 2
            elif n == "t":
                out += b"\t"
                i += 2
            elif n == "\\":
                out += b"\\"
                i += 2
            elif n == "x":
                out.append(int(text[i + 2: i + 4], 16))
                i += 4
            else:
                raise ValueError(f"unknown escape \\{n}")
        else:
            out += c.encode()
            i += 1
    if truncated:
        head, sep, body = bytes(out).partition(b"\r\n\r\n")
        if not sep or body.strip(b"x"):
            return None
        out += b"x" * truncated
    if len(out) != length:
        return None
    return bytes(out)


@dataclass
class Configured:
    """A web server configured away from the defaults, on both sides: the
    same settings as nginx directives (a server block's body; @SITE@ is
    the lessons' site, which roundtrip's `root /srv/www` points at, and
    @UPSTREAM@ the app server's upstream) and as a lesson's
    [stack.web_server] (`stack`: when a bundled lesson of the same name
    exists, check.py makes sure its settings are these)."""
    interface: str
    nginx: str
    stack: str  # a bundled lesson's: check.py checks they are the same settings


DEFAULT_LOCATIONS = """
    location /static/ { root @SITE@; }
    location / { proxy_pass http://@UPSTREAM@; }
"""

# Each is read by a person against the lesson it mirrors: the directive
# names are nginx's own, and roundtrip's knobs carry the same names.
CONFIGURED = {
    # scenarios/ws-chat.toml: nginx's "WebSocket proxying" lines. A
    # proxy_set_header in a location replaces every inherited one, so the
    # http block's are written again.
    "ws-chat": Configured("asgi", """
    location /static/ { root @SITE@; }
    location / {
        proxy_pass http://@UPSTREAM@;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Request-Id $request_id;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
    }
""", stack="""
[stack.web_server]
proxy_set_header = { Upgrade = "$http_upgrade", Connection = "upgrade" }
"""),
    # scenarios/ws-proxy-misconfigured.toml: nginx's defaults, which drop
    # the hop-by-hop Upgrade and Connection.
    "ws-proxy-misconfigured": Configured("asgi", DEFAULT_LOCATIONS, stack=""),
    # scenarios/gzip.toml
    "gzip": Configured("wsgi", """
    gzip on;
    gzip_types text/css application/json;
    gzip_min_length 100;
    gzip_comp_level 1;
    gzip_vary on;
""" + DEFAULT_LOCATIONS, stack="""
[stack.web_server]
gzip = true
gzip_types = ["text/css", "application/json"]
gzip_min_length = 100
gzip_comp_level = 1
gzip_vary = true
"""),
    # scenarios/location-matching.toml
    "location-matching": Configured("wsgi", """
    location = / { return 302 /static/docs/; }
    location / { proxy_pass http://@UPSTREAM@; }
    location /notes { proxy_pass http://@UPSTREAM@; }
    location ^~ /static/ { root @SITE@; }
    location ~* \\.(css|js|svg)$ { root @SITE@; }
    location ^~ /assets/ { alias @SITE@/static/; }
""", stack="""
[[stack.web_server.location]]
match = "= /"
return = "302 /static/docs/"

[[stack.web_server.location]]
match = "/"
proxy_pass = "http://app_server"

[[stack.web_server.location]]
match = "/notes"
proxy_pass = "http://app_server"

[[stack.web_server.location]]
match = "^~ /static/"
root = "/srv/www"

[[stack.web_server.location]]
match = '~* \\.(css|js|svg)$'
root = "/srv/www"

[[stack.web_server.location]]
match = "^~ /assets/"
alias = "/srv/www/static/"
"""),
    # scenarios/path-traversal.toml
    "path-traversal": Configured("wsgi", """
    location /static/ { root @SITE@; }
    location /assets { alias @SITE@/static/; }
    location / { proxy_pass http://@UPSTREAM@; }
""", stack="""
[[stack.web_server.location]]
match = "/static/"
root = "/srv/www"

[[stack.web_server.location]]
match = "/assets"
alias = "/srv/www/static/"

[[stack.web_server.location]]
match = "/"
proxy_pass = "http://app_server"
"""),
    # Filtering with nothing but locations, so it does not depend on the
    # client's address (127.0.0.2 here, the lesson's 203.0.113.7 in the
    # trace): deny all, limit_except, return 444, server_tokens off.
    "filter": Configured("wsgi", """
    server_tokens off;
    location /static/ { root @SITE@; }
    location /private/ { deny all; root @SITE@; }
    location /notes { limit_except GET { deny all; } proxy_pass http://@UPSTREAM@; }
    location = /wp-login.php { return 444; }
    location / { proxy_pass http://@UPSTREAM@; }
""", stack="""
[stack.web_server]
server_tokens = "off"

[[stack.web_server.location]]
match = "/static/"
root = "/srv/www"

[[stack.web_server.location]]
match = "/private/"
root = "/srv/www"
access = ["deny all"]

[[stack.web_server.location]]
match = "/notes"
proxy_pass = "http://app_server"
limit_except = { methods = ["GET"], access = ["deny all"] }

[[stack.web_server.location]]
match = "= /wp-login.php"
return = "444"

[[stack.web_server.location]]
match = "/"
proxy_pass = "http://app_server"
"""),
}


def configured_lesson(name):
    """The lesson `roundtrip serve --lesson` runs for a configured server,
    and the start of the inline lessons of its edge cases."""
    conf = CONFIGURED[name]
    return (f'title = "fidelity check: {name}"\n[stack.app_server]\n'
            f'interface = "{conf.interface}"\n'
            + ("workers = 2\n" if conf.interface == "wsgi" else "") + conf.stack)


def configured_cases():
    """(config, name, title, [raw request, ...]): edge cases for the
    configured servers that no bundled lesson covers."""
    json_ct = "Content-Type: application/json"
    cl = f"Content-Length: {len(NOTE_JSON)}"
    return [
        ("filter", "deny-all", "deny all in a location (403)", [request("GET", "/private/x")]),
        ("filter", "limit-except-get", "limit_except GET: a GET passes",
         [request("GET", "/notes")]),
        ("filter", "limit-except-head", "limit_except GET: HEAD passes too",
         [request("HEAD", "/notes")]),
        ("filter", "limit-except-post", "limit_except GET: a POST is denied (403)",
         [request("POST", "/notes", [json_ct, cl], NOTE_JSON)]),
        ("filter", "limit-except-post-expect", "a denied POST that waits for 100 Continue",
         [request("POST", "/notes", [json_ct, cl, "Expect: 100-continue"], NOTE_JSON)]),
        ("filter", "denied-post-then-get", "a denied POST's body is discarded, then a GET",
         [request("POST", "/notes", [json_ct, cl], NOTE_JSON), request("GET", "/notes")]),
        ("filter", "limit-except-delete", "limit_except GET: DELETE is denied (403)",
         [request("DELETE", "/notes/1")]),
        ("filter", "return-444", "return 444 closes without a response",
         [request("GET", "/wp-login.php")]),
        ("filter", "tokens-off-404", "server_tokens off on an error page",
         [request("GET", "/static/nope.css")]),
        ("gzip", "gzip-q", "Accept-Encoding with q-values",
         [request("GET", "/static/css/site.css", ["Accept-Encoding: br;q=1, gzip;q=0.5"])]),
        ("gzip", "gzip-star", "Accept-Encoding: *",
         [request("GET", "/static/css/site.css", ["Accept-Encoding: *"])]),
        ("gzip", "gzip-identity", "Accept-Encoding: identity",
         [request("GET", "/static/css/site.css", ["Accept-Encoding: identity"])]),
        ("gzip", "gzip-http10", "gzip and HTTP/1.0 (gzip_http_version 1.1)",
         [request("GET", "/static/css/site.css", ["Accept-Encoding: gzip"], version="HTTP/1.0")]),
        ("gzip", "gzip-range", "gzip and a Range request",
         [request("GET", "/static/css/site.css", ["Accept-Encoding: gzip", "Range: bytes=0-9"])]),
        ("gzip", "gzip-head-static", "HEAD of a file: the headers a GET would get",
         [request("HEAD", "/static/css/site.css", ["Accept-Encoding: gzip"])]),
        ("gzip", "gzip-upper", "GZIP in upper case",
         [request("GET", "/static/css/site.css", ["Accept-Encoding: GZIP"])]),
    ]


def lesson_cases(roundtrip, scenarios_dir, default_web_config):
    cases = []
    for path in sorted(Path(scenarios_dir).glob("*.toml")):
        name = path.stem
        out = subprocess.run([roundtrip, "run", str(path), "--json"], capture_output=True,
                             timeout=60)
        if out.returncode != 0:
            raise SystemExit(f"roundtrip run {path} --json failed: {out.stderr.decode()[:400]}")
        doc = json.loads(out.stdout)
        # A lesson that compares stacks prints {"comparison", "variants"}:
        # each variant is a case of its own.
        for trace in doc.get("variants", [doc]):
            cases.append(lesson_case(name, trace, default_web_config))
    return cases


def lesson_case(name, trace, default_web_config):
    """One case from one trace (a lesson, or one variant of a lesson that compares stacks)."""
    variant = trace["meta"].get("variant")
    if variant:
        name = f"{name}/{variant['name']}"
    config = trace["meta"]["config"]
    interface = config["app_server"]["interface"]
    note = ""
    configured = None
    if (trace.get("metrics") or {}).get("load"):
        # Thousands of requests, one after another through the real stack,
        # would take minutes and compare nothing the lessons' requests do not.
        note = "a [load] lesson: its generated requests are not replayed"
    elif (config.get("app") or {}).get("fault"):
        note = "its [[stack.app.fault]] makes the app fail on purpose; the stand-in app does not"
    elif any(e["step"] == "client.websocket.handshake" for e in trace["events"]):
        # Why, in full: the comment "Websocket lessons" in known.toml.
        note = ("a websocket lesson: fidelity/ws.py probes websockets frame by frame "
                "instead (see known.toml)")
    elif config["web_server"] != default_web_config and name not in CONFIGURED:
        note = ("sets [stack.web_server]; the real nginx runs the defaults (fidelity/cases.py "
                "CONFIGURED lists the lessons replayed against an nginx configured like them)")
    elif interface == "wsgi" and config["app_server"]["workers"] != 2:
        note = "its workers differ from the real gunicorn's -w 2"
    elif interface == "wsgi" and config["app_server"]["timeout"] != "30s":
        # The stand-in app answers at once, so a worker timeout could
        # never fire on the real side.
        note = "sets timeout; the real gunicorn runs the default 30 s"
    if config["web_server"] != default_web_config and not note:
        configured = name
    order, conns = [], {}
    for e in trace["events"]:
        if e["step"] == "client.request.send":
            shown = next(d for d in e["data"] if d["type"] == "bytes")["bytes"]
            raw = unshow(shown["text"], shown["len"], shown["truncated"])
            if raw is None:
                note = note or "a request's bytes are cut in the trace"
                continue
            if e["conn"] not in conns:
                order.append(e["conn"])
                conns[e["conn"]] = []
            conns[e["conn"]].append((e["request"], raw))
    return Case(f"{interface}/lesson:{name}", trace["meta"]["title"], interface,
                [[raw for _, raw in conns[c]] for c in order], trace, note,
                [[rid for rid, _ in conns[c]] for c in order], configured)


def toml_string(raw):
    s = raw.decode("latin-1")
    if re.search(r"[^\x00-\x7f]", s):
        raise ValueError("edge cases are ASCII")
    return json.dumps(s)


def inline_lesson(case):
    if case.config:
        lines = [configured_lesson(case.config).replace(
            f"fidelity check: {case.config}", f"fidelity check: {case.id}").rstrip("\n")]
    else:
        lines = [f'title = "fidelity check: {case.id}"',
                 "[stack.app_server]", f'interface = "{case.interface}"']
        if case.interface == "wsgi":
            lines.append("workers = 2")
    n = 0
    for c, conn in enumerate(case.conns, 1):
        for raw in conn:
            n += 1
            lines += ["[[request]]", f"raw = {toml_string(raw)}", f"connection = {c}",
                      f'at = "{10 * n}ms"']
    return "\n".join(lines) + "\n"
