"""The HTTP edge: what every request passes before a route sees it.

Three pure ASGI middlewares (none buffers a body), outermost first:

* :class:`SecurityHeaders` adds the security headers to every response: the console's
  Content-Security-Policy (no inline script or style, no framing, WebSockets and fetches
  to central itself only), ``nosniff``, ``no-referrer``, ``X-Frame-Options: DENY``,
  ``Cache-Control: no-store`` on ``/api/*`` and ``/healthz``, and
  ``Strict-Transport-Security`` only when the request came over https;
* Starlette's ``TrustedHostMiddleware`` answers 400 ``Invalid host header`` to a Host
  not in ``[http] allowed_hosts`` (DNS rebinding: a web page elsewhere cannot reach
  the console through a name it controls);
* :class:`BodyLimit` refuses a request body larger than ``[http] max_body_bytes`` with
  413: at once, unread, when ``Content-Length`` says so; while it streams (chunked)
  as soon as the count passes the limit. Central never holds an oversized body.
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from central.config import HttpConfig

logger = logging.getLogger(__name__)

#: The console's policy: everything from central itself, nothing inline, never framed.
#: ``connect-src 'self'`` covers the console's ws:// (and wss://) to the same host in
#: current browsers (CSP Level 3); tests/central/test_edge_browser.py checks it in Chromium.
#: ``media-src blob:``: a session recording plays from the bytes the console hashed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
HSTS = "max-age=31536000"
#: Paths whose answers are never cached (live data; later, per-officer data).
NO_STORE_PREFIXES = ("/api/", "/healthz")


def install_edge(app: FastAPI, http: HttpConfig) -> None:
    """Add the edge middlewares to ``app`` (the last added is the outermost)."""
    app.add_middleware(BodyLimit, max_body_bytes=http.max_body_bytes)
    hosts = http.effective_allowed_hosts()
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts, www_redirect=False)
    app.add_middleware(SecurityHeaders)
    logger.info("HTTP: answering Host %s; request bodies up to %d bytes",
                ", ".join(hosts), http.max_body_bytes)


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` (and no-store, HSTS where due) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        no_store = path.startswith(NO_STORE_PREFIXES)
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if no_store:
                    headers["Cache-Control"] = "no-store"
                if https:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit.

    An ``HTTPException``, so FastAPI's body reading lets it through and answers 413
    (any other exception there becomes a 400 "error parsing the body").
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


def too_large_message(limit: int) -> str:
    return (f"request body too large: more than {limit} bytes — central's API takes small "
            f"JSON bodies only (limit: [http] max_body_bytes)")


class BodyLimit:
    """Refuses request bodies over ``max_body_bytes`` with 413, never reading them whole."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.limit
            except ValueError:
                await _json(send, 400, "Content-Length is not a number — send a valid "
                                       "Content-Length or none (chunked)")
                return
            if too_big:
                await _json(send, 413, too_large_message(self.limit))
                return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:  # an app that answered before reading all of it: nothing to add
                logger.debug("body over the limit after the response started")
                return
            await _json(send, 413, too_large_message(self.limit))


async def _json(send: Send, status: int, message: str) -> None:
    """A one-line JSON error (``{"detail": ...}``, like FastAPI's), connection closed."""
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
