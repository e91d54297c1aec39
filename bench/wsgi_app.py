"""The sync side of bench/run's sync-vs-async rows: a plain WSGI app (no
framework; at 100 ms a request, Flask's overhead would not show) for
gunicorn's sync workers. GET /slow?ms=N and GET /blocking?ms=N both call
time.sleep(N / 1000): in a sync worker an I/O wait and a blocking call are
the same thing, one worker held for the whole wait. GET /cpu?ms=N computes
for N ms in pure Python, holding the GIL. Answers what
roundtrip's notes app answers for those paths.

Run: gunicorn -w 4 --chdir bench wsgi_app:app
"""

import json
import time
from urllib.parse import parse_qs

WORK = {"/slow": "an awaited I/O wait", "/blocking": "a blocking call", "/cpu": "CPU time"}


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path not in WORK:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        return [b"not found\n"]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    ms = int(query.get("ms", ["100"])[0])
    if path == "/cpu":
        # Pure Python arithmetic: it holds the GIL (handed over every
        # switch interval), so a gthread worker's threads compute in turn.
        until = time.perf_counter() + ms / 1000
        x = 0
        while time.perf_counter() < until:
            x = (x * 31 + 7) % 1000003
    else:
        time.sleep(ms / 1000)
    body = json.dumps({"work": WORK[path], "ms": ms}, separators=(",", ":")).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
