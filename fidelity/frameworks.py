"""Flask, FastAPI and Starlette on the requests where a framework's own
choices show (404, 405 and Allow, HEAD, OPTIONS, a trailing slash, bad
JSON, a non-integer id), each with the routes of roundtrip's notes app.

They run in-process: Flask through Werkzeug's test client, the ASGI ones
through one bare `await app(scope, receive, send)`; no server is involved,
so what shows is the framework's own answer.
"""

import asyncio
import json

NAMES = ["Flask", "FastAPI", "Starlette"]

# (name, method, path, JSON body or None)
PROBES = [
    ("no route: GET /nothing-here", "GET", "/nothing-here", None),
    ("method not allowed: DELETE /notes", "DELETE", "/notes", None),
    ("method not allowed: PUT /notes/1", "PUT", "/notes/1", None),
    ("HEAD /notes", "HEAD", "/notes", None),
    ("OPTIONS /notes", "OPTIONS", "/notes", None),
    ("trailing slash: GET /notes/ (route /notes)", "GET", "/notes/", None),
    ("bad JSON: POST /notes", "POST", "/notes", '{"title": "Broken", '),
    ("non-integer id: GET /notes/abc", "GET", "/notes/abc", None),
]


def summary(status, allow):
    """`405 Allow: GET, HEAD`: the methods sorted (normalization
    allow-order: Werkzeug and Starlette keep them in a set)."""
    if allow:
        allow = ", ".join(sorted(m.strip() for m in allow.split(",")))
    return f"{status}" + (f" Allow: {allow}" if allow else "")


def flask_app():
    from flask import Flask, request

    app = Flask("notes")

    @app.get("/")
    def home():
        return "<h1>notes</h1>"

    @app.route("/notes", methods=["GET", "POST"])
    def notes():
        if request.method == "POST":
            return request.get_json(), 201
        return [{"id": 1, "title": "Welcome"}]

    @app.get("/notes/<int:id>")
    def note(id):
        return {"id": id}

    return app


def fastapi_app():
    from fastapi import FastAPI
    from pydantic import BaseModel

    app = FastAPI()

    class Note(BaseModel):
        title: str
        body: str

    @app.get("/")
    def home():
        return {"home": True}

    @app.get("/notes")
    def notes():
        return [{"id": 1, "title": "Welcome"}]

    @app.post("/notes", status_code=201)
    def create(note: Note):
        return note

    @app.get("/notes/{id}")
    def note(id: int):
        return {"id": id}

    return app


def starlette_app():
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    async def home(request):
        return PlainTextResponse("notes")

    async def notes(request):
        if request.method == "POST":
            return JSONResponse(await request.json(), status_code=201)
        return JSONResponse([{"id": 1, "title": "Welcome"}])

    async def note(request):
        return JSONResponse({"id": request.path_params["id"]})

    return Starlette(routes=[Route("/", home), Route("/notes", notes, methods=["GET", "POST"]),
                             Route("/notes/{id:int}", note)])


def call_flask(app, method, path, body):
    c = app.test_client()
    kw = {"data": body, "content_type": "application/json"} if body is not None else {}
    r = c.open(path, method=method, **kw)
    return summary(r.status_code, r.headers.get("Allow"))


async def call_asgi(app, method, path, body):
    headers = [(b"host", b"example.com")]
    raw = (body or "").encode()
    if body is not None:
        headers += [(b"content-type", b"application/json"),
                    (b"content-length", str(len(raw)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
             "http_version": "1.1", "method": method, "scheme": "http", "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": headers, "client": ("127.0.0.1", 40001),
             "server": ("example.com", 80), "state": {}}
    inbox = [{"type": "http.request", "body": raw, "more_body": False}]
    sent = []

    async def receive():
        if inbox:
            return inbox.pop(0)
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    try:
        await asyncio.wait_for(app(scope, receive, send), 5)
    except Exception:  # Starlette re-raises after sending its 500
        pass
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    if start is None:
        return "(no response)"
    allow = next((v.decode() for k, v in start.get("headers", []) if k.lower() == b"allow"), None)
    return summary(start["status"], allow)


def run_all():
    flask, fastapi, starlette = flask_app(), fastapi_app(), starlette_app()
    out = {}
    for name, method, path, body in PROBES:
        out[name] = {
            "Flask": call_flask(flask, method, path, body),
            "FastAPI": asyncio.run(call_asgi(fastapi, method, path, body)),
            "Starlette": asyncio.run(call_asgi(starlette, method, path, body)),
        }
    return out


if __name__ == "__main__":
    print(json.dumps(run_all(), indent=1))
