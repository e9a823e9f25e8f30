"""ASGI middleware: request ids, request size limits, error responses."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Protocol

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class RequestIdMiddleware:
    """Use the caller's X-Request-ID when it is well-formed, else generate one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # an id for the connection's logs (none is sent back)
            scope.setdefault("state", {})["request_id"] = uuid.uuid4().hex
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode(
            "latin-1"
        )
        request_id = given if _VALID_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


def json_error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    """A whole-request error in the GraphQL response shape."""
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers)


class ErrorResponder(Protocol):
    """Renders a whole-request error (``json_error``, or another API's own error shape)."""

    def __call__(self, status: int, code: str, message: str, **headers: str) -> Response: ...


def graphql_errors(scope: Scope) -> ErrorResponder:
    return json_error


class BodySizeLimit:
    """Refuse request bodies above ``max_bytes`` with 413, before anything parses them.

    ``error_for`` picks the error shape by request (by default the GraphQL one).
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        error_for: Callable[[Scope], ErrorResponder] = graphql_errors,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.error_for = error_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = self.error_for(scope)(
            413, "REQUEST_TOO_LARGE", f"The request body exceeds {self.max_bytes} bytes."
        )
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
