"""The Python stack bench/run compares roundtrip against: a Starlette app
doing the same work as roundtrip's `GET /notes` (src/app/notes.rs): one
SELECT on an in-memory SQLite table of the same 3 notes, the rows as a
compact JSON array, and the headers roundtrip's middleware adds.

And the async side of the sync-vs-async rows, as roundtrip's endpoints of
the same names: GET /slow?ms=N awaits asyncio.sleep (the task yields, the
event loop goes on), GET /blocking?ms=N calls time.sleep inside an async
def (nothing yields: the whole loop waits).

Run: uvicorn starlette_app:app --app-dir bench
"""

import asyncio
import itertools
import json
import sqlite3
import time

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

NOTES = [
    ("Welcome", "This note lives in a real SQLite database, seeded before the first request."),
    ("Shopping", "Milk, eggs, and coffee for tomorrow morning."),
    ("Escaping matters", '<script>alert("hi")</script> shows as text on the page, and never runs.'),
]

db = sqlite3.connect(":memory:", check_same_thread=False)
db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL)")
db.executemany("INSERT INTO notes (title, body) VALUES (?, ?)", NOTES)
db.commit()

request_ids = itertools.count(1)


async def notes_list(request):
    rows = db.execute("SELECT id, title, body FROM notes ORDER BY id").fetchall()
    body = json.dumps(
        [{"id": i, "title": t, "body": b} for i, t, b in rows],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return Response(
        body,
        media_type="application/json",
        headers={
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            "referrer-policy": "same-origin",
            "x-request-id": str(next(request_ids)),
        },
    )


def millis(request):
    return int(request.query_params.get("ms", "100"))


def timed(work, ms):
    body = json.dumps({"work": work, "ms": ms}, separators=(",", ":"))
    return Response(body, media_type="application/json")


async def slow(request):
    ms = millis(request)
    await asyncio.sleep(ms / 1000)
    return timed("an awaited I/O wait", ms)


async def blocking(request):
    ms = millis(request)
    time.sleep(ms / 1000)  # the mistake the lesson is about: it blocks the loop
    return timed("a blocking call", ms)


app = Starlette(
    routes=[
        Route("/notes", notes_list),
        Route("/slow", slow),
        Route("/blocking", blocking),
    ]
)
