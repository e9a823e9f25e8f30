"""The one ASGI layer every request passes, in front of the routes.

It does, once per request and in this order:

* the request id: the caller's ``X-Request-ID`` when well-formed, else a new one; sent back
  with the response, in ``scope["state"]["request_id"]`` for everything after (WebSockets get
  one for their logs);
* the request's record and arrival time (see billing.http.observability): when the response
  has been sent, its metrics and its log line;
* the body limit: a body over ``max_bytes`` is refused with 413 before anything parses it;
  the body is read whole here, once;
* the answer to anything unexpected: logged with its traceback, answered with a masked 500.

Then the request goes to its *direct handler*, if its path has one (``direct``; the handler
gets the body read here, and may decline, answering False), or else to ``app``, the routes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing.db.database import request_arrived
from billing.http.observability import STATUS_CLIENT_GONE, RequestRecord, finished, recording
from billing.http.responses import ErrorResponder, graphql_errors

if TYPE_CHECKING:  # prometheus_client is imported late (see billing.http.observability)
    from billing.http.metrics import Metrics

log = logging.getLogger("billing.errors")

_VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

# A route served without the routing layers: (scope, body, send) -> whether it answered.
Direct = Callable[[Scope, bytes, Send], Awaitable[bool]]


# Request ids come from a generator of their own, seeded by the kernel (again in a forked
# child): an id is a label, not a secret, and ``uuid4`` asks the kernel for its bytes every
# time. Not the shared one, whose state others set (tests reseed it) or use (retry jitter).
_ids = random.Random()  # noqa: S311 - a label, not a secret (see above)
os.register_at_fork(after_in_child=_ids.seed)


def new_request_id() -> str:
    """32 random hex digits, as a UUID's."""
    return f"{_ids.getrandbits(128):032x}"


def request_id_of(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` if well-formed, else a new id."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given = value.decode("latin-1")
            return given if _VALID_ID.fullmatch(given) else new_request_id()
    return new_request_id()


class Gateway:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        metrics: Metrics | None = None,
        error_for: Callable[[Scope], ErrorResponder] = graphql_errors,
        direct: Mapping[str, Direct] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.metrics = metrics
        self.error_for = error_for
        self.direct = dict(direct or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            scope.setdefault("state", {})["request_id"] = new_request_id()
        if kind != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())
        record = RequestRecord(self.metrics)
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        # The request's database bounds count from here (see billing.db.database).
        arrival = request_arrived.set(asyncio.get_running_loop().time())
        try:
            with recording(record):
                await self._serve(scope, receive, send_with_id)
        except Exception:
            log.exception("unexpected error answering %s (request %s)", scope["path"], request_id)
            if status:
                raise  # the answer has begun: the server ends the connection
            failed = self.error_for(scope)(
                500, "INTERNAL_ERROR", f"Internal error. Request id: {request_id}"
            )
            await failed(scope, receive, send_with_id)
        except BaseException:  # cancelled (a shutdown cut it short): the server sends 500
            status = status or 500
            raise
        finally:
            request_arrived.reset(arrival)
            seconds = time.perf_counter() - started
            finished(scope, record, status or STATUS_CLIENT_GONE, seconds)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await self._body(scope, receive)
        except _TooLarge:
            too_large = self.error_for(scope)(
                413, "REQUEST_TOO_LARGE", f"The request body exceeds {self.max_bytes} bytes."
            )
            await too_large(scope, receive, send)
            return
        if body is None:  # the client went away
            return
        handler = self.direct.get(scope["path"])
        if handler is not None and await handler(scope, body, send):
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body; None if the client went away first. Over the limit (as declared, or
        as read so far): _TooLarge."""
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) > self.max_bytes:
                    raise _TooLarge()
                break
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise _TooLarge()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class _TooLarge(Exception):
    pass
