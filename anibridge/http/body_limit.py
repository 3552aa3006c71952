"""A cap on request bodies, on every route (``ANIBRIDGE_MAX_BODY_BYTES``).

A declared ``Content-Length`` above the cap is refused with 413 before anything is read; a chunked
body is counted as it is read and the request fails with 413 as soon as it passes the cap. Nothing
AniBridge takes (forms, magnet lists, JSON pins) comes near the default.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("anibridge.http")


class _TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.strip().isdigit() or int(value) > self.max_bytes:
                    await self._refuse(scope, send, value.decode("latin-1")[:20] + " bytes declared")
                    return
            elif name == b"transfer-encoding":
                chunked = True
        if not chunked:
            # no body, or a declared length within the cap (the server reads no more than it declares):
            # nothing to count (the common case, kept cheap: Torznab GETs come through here)
            await self.app(scope, receive, send)
            return
        seen = 0
        started = refused = False

        async def counted_receive() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    if not started and not refused:
                        # answer now: whatever the endpoint makes of the failed read is not sent
                        refused = True
                        await self._refuse(scope, send, f"more than {self.max_bytes} bytes sent")
                    raise _TooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except Exception:
            if not refused:
                raise

    async def _refuse(self, scope: Scope, send: Send, what: str) -> None:
        client = (scope.get("client") or ("?",))[0]
        log.warning("refused %s %s from %s: request body too large (%s; ANIBRIDGE_MAX_BODY_BYTES=%d)",
                    scope["method"], scope["path"], client, what, self.max_bytes)
        body = (f"Request body too large: at most {self.max_bytes} bytes are accepted"
                " (ANIBRIDGE_MAX_BODY_BYTES).").encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
