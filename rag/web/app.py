"""The web page and JSON API: ask -> clarify -> answer in a browser, every turn kept in SQLite.

``create_app(pipeline, store)`` builds the FastAPI app; importing this module starts nothing.

* ``POST /api/ask {question}`` -> the answer payload (below) with a new ``interaction_id``.
* ``POST /api/reply {interaction_id, text}``: the reply to a clarifying question.
* ``POST /api/feedback {interaction_id, rating: correct|partial|wrong, comment?}``.
* ``POST /api/followup {interaction_id, text}``: classified (:mod:`rag.feedback.implicit`),
  stored, and answered as a new interaction linked to the previous one: a correction that
  names one of the readings the previous interaction offered ("no, I meant the hockey player",
  also after its reply picked another) gets that reading's answer, anything else is asked as a
  new question.
* ``GET /api/interaction/{id}``: the interaction's latest answer payload (what the page shows
  again after a reload; a clarifying question still waiting comes back as ``clarify``), with
  ``parent_id``.
* ``GET /api/health``; ``GET /`` the page.

Answer payload: ``{interaction_id, kind: answer|multi|clarify|abstain, text, readings: [{label,
answer, citations: [{id, title, text, number}]}], clarifying_question, options, reason, question,
model_version}`` (``Answer.to_dict()`` with kind ``single`` named ``answer``, citations resolved
to passages with ``number``, the ``[n]`` that ``text`` cites them by, and ``options``: the
clarifying question's choices, in order).

Errors are ``{"error": "..."}`` with a 4xx status: 400 malformed JSON or a bad question,
404 unknown interaction, 409 nothing to reply to, 413 body over :data:`MAX_BODY` bytes,
422 a field of the wrong type, empty, or over :data:`MAX_TEXT` characters.

>>> app = create_app(Pipeline.from_index("/tmp/bc"), FeedbackStore("/tmp/fb.sqlite"))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from indexes.store import PassageLookup
from rag.types import Passage
from rag.web.api import (
    MAX_COMMENT,
    MAX_TEXT,
    SECURITY_HEADERS,
    payload,
    register_errors,
    register_routes,
)

__all__ = ["LOOPBACK_HOSTS", "BodyLimit", "HostCheck", "MAX_BODY", "MAX_COMMENT", "MAX_TEXT", "PassageLookup", "create_app", "payload"]

log = logging.getLogger("ambigrag.web")

MAX_BODY = 32 * 1024       # bytes of request body: a 2,000-emoji comment as ASCII-escaped JSON is 24 KB
STATIC = Path(__file__).with_name("static")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def create_app(pipeline, store, *, passages: Callable[[str], Passage | None] | None = None,
               max_body: int = MAX_BODY, hosts: frozenset[str] | None = None,
               on_close: Callable[[], None] | None = None):
    """The FastAPI app answering with ``pipeline`` (a :class:`~rag.pipeline.Pipeline`) and
    recording into ``store`` (a :class:`~rag.feedback.store.FeedbackStore`); ``passages`` maps
    a passage id to its Passage for citations (:class:`PassageLookup`). ``hosts``: the Host
    header names a request may carry (None: any); ``ambigrag serve`` on a loopback address
    passes :data:`LOOPBACK_HOSTS`, so a web page whose name was re-pointed at 127.0.0.1 (DNS
    rebinding) cannot use the API. ``on_close`` runs when the server shuts down, on Ctrl-C or a
    SIGTERM alike (``serve`` closes the feedback database there: uvicorn re-raises SIGTERM after
    its shutdown, so code after ``uvicorn.run`` never ran)."""
    from fastapi import FastAPI
    from fastapi.responses import FileResponse
    from fastapi.staticfiles import StaticFiles

    @contextlib.asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            if on_close is not None:
                on_close()

    app = FastAPI(title="ambigrag", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    register_errors(app)
    register_routes(app, pipeline, store, passages)

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    app.add_middleware(BodyLimit, max_bytes=max_body)
    if hosts is not None:
        app.add_middleware(HostCheck, hosts=hosts)
    app.add_middleware(SecurityHeaders)   # every response: /static/index.html is the page too
    app.add_middleware(RequestLog)   # outermost: a 413 of BodyLimit and a crash are logged too
    return app


class RequestLog:
    """ASGI middleware: one log line per HTTP request, ``METHOD PATH STATUS MS``; a request whose
    handler raised is logged as 500 (the error handler then sends the 500)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0, status = time.perf_counter(), 500

        async def noting_send(msg):
            nonlocal status
            if msg["type"] == "http.response.start":
                status = msg["status"]
            await send(msg)

        try:
            await self.app(scope, receive, noting_send)
        finally:
            log.info("%s %s %d %.1f ms", scope["method"], printable(scope["path"]), status,
                     1000 * (time.perf_counter() - t0))


def printable(text: str) -> str:
    """``text`` with control characters escaped, so a path such as ``/x%0AINFO ...`` cannot
    write a line of its own into the log."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


class SecurityHeaders:
    """ASGI middleware: the page's Content-Security-Policy (:data:`CSP`), ``nosniff`` and
    ``X-Frame-Options`` on every response, so the copy of the page under ``/static/`` gets them as
    ``/`` does; static files are revalidated on every load (``no-cache``: ETag, not a new download)."""

    HEADERS = tuple((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items())

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        extra = self.HEADERS + ((b"cache-control", b"no-cache"),) if scope["path"].startswith("/static/") \
            else self.HEADERS   # revalidated: after an upgrade the browser runs the new script

        async def adding_send(msg):
            if msg["type"] == "http.response.start":
                names = {k.lower() for k, _ in msg.get("headers", [])}
                msg = {**msg, "headers": [*msg.get("headers", []), *(h for h in extra if h[0] not in names)]}
            await send(msg)

        await self.app(scope, receive, adding_send)


class HostCheck:
    """ASGI middleware: 400 for a request whose Host header (without its port) is not in
    ``hosts``; a request without one passes."""

    def __init__(self, app, hosts: frozenset[str]):
        self.app, self.hosts = app, hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        host = dict(scope.get("headers") or []).get(b"host")
        if host is None:   # HTTP/1.0 without Host (a health probe): no browser sends that, so no rebinding
            return await self.app(scope, receive, send)
        host = host.decode("latin-1")
        name = host[1:host.index("]")] if host.startswith("[") and "]" in host else host.rsplit(":", 1)[0]
        if name.lower() in self.hosts:
            return await self.app(scope, receive, send)
        from starlette.responses import JSONResponse

        await JSONResponse({"error": f"unexpected Host header {printable(host)!r}; this server answers "
                                     f"{', '.join(sorted(self.hosts))}"}, status_code=400)(scope, receive, send)


class BodyLimit:
    """ASGI middleware: 413 for a body over ``max_bytes`` (by Content-Length, or while streaming),
    before the app sees any of it."""

    def __init__(self, app, max_bytes: int = MAX_BODY):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await self._too_large(send)
        # the whole body first (at most max_bytes): past the limit the app never runs, so nothing
        # of a request answered 413 is stored (a chunked body used to reach the handler cut short)
        chunks, seen = [], 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":   # the client went away
                return
            seen += len(msg.get("body", b""))
            if seen > self.max_bytes:
                return await self._too_large(send)
            chunks.append(msg.get("body", b""))
            if not msg.get("more_body"):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, send) -> None:
        import json

        body = json.dumps({"error": f"request body over {self.max_bytes} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

