"""What each request did, for the metrics and for one log line per request.

``RequestObserver`` (ASGI middleware) opens a ``RequestRecord`` for every HTTP request and,
when the response has been sent, hands it to the metrics and writes the request's log line.
Three hooks fill the record in from where the facts are known, each a few attribute updates:

* ``observe_operation`` (the GraphQL error policy): which operation ran and how it ended;
* ``observe_result`` (the mutation resolvers): each mutation's result type;
* ``observe_call`` (the REST endpoints): which operation ran and how it ended;
* ``observe_retry`` (``Database.on_retry``, set by the app): a transaction is being run again.

The record travels in a context variable, so the hooks need no arguments threaded through the
layers, and do nothing outside a request (the command line runs the same domain code).
This module does not import prometheus_client: the GraphQL layer imports it, and
prometheus_client must be imported only once ``billing serve`` has set up its multiprocess
directory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection
from contextvars import ContextVar
from typing import TYPE_CHECKING, TypeVar

from graphql import DefinitionNode, ExecutionResult, FieldNode, OperationDefinitionNode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing.db.database import request_arrived

if TYPE_CHECKING:
    from strawberry.types import ExecutionContext

    from billing.http.metrics import Metrics

log = logging.getLogger("billing.requests")

T = TypeVar("T")

# Requests for these paths are logged at DEBUG: probes and scrapes arrive every few seconds.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
INVALID = "invalid"  # the operation label of a document that did not parse or validate
MULTIPLE = "multiple"  # ... of a document with several root fields
STATUS_CLIENT_GONE = 499  # no response was sent: the client went away first


class RequestRecord:
    __slots__ = ("metrics", "operation", "operation_name", "result", "results", "retries")

    def __init__(self, metrics: Metrics | None) -> None:
        self.metrics = metrics
        self.operation: str | None = None  # the root field, MULTIPLE or INVALID; None: no GraphQL
        self.operation_name: str | None = None  # the document's own name for it, if any
        self.result: str | None = None  # a mutation's result type, an error code, or "ok"
        self.results: list[tuple[str, str]] | None = None  # (mutation, result type) as they ran
        self.retries = 0


_current: ContextVar[RequestRecord | None] = ContextVar("billing_request", default=None)


def observe_retry(sqlstate: str | None) -> None:
    """The domain retry loop runs a transaction again after a fault with this SQLSTATE."""
    record = _current.get()
    if record is not None:
        record.retries += 1
        if record.metrics is not None:
            record.metrics.retried(sqlstate)


def observe_result(mutation: str, result: T) -> T:
    """A mutation resolver returns ``result``; its class is the GraphQL result type."""
    record = _current.get()
    if record is not None:
        if record.results is None:
            record.results = []
        record.results.append((mutation, type(result).__name__))
    return result


def observe_call(operation: str, result: str) -> None:
    """A REST endpoint ran ``operation``; ``result`` names the GraphQL result type of the same
    outcome (or a request error's code), so both APIs count alike."""
    record = _current.get()
    if record is not None:
        record.operation = operation
        record.result = result
        record.results = [(operation, result)]


def observe_operation(context: ExecutionContext) -> None:
    """The GraphQL operation of this request has ended (errors already translated)."""
    record = _current.get()
    if record is None:
        return
    document = context.graphql_document
    operation = None
    # Executed documents have graphql-core's result; refused ones (parse or validation errors)
    # have Strawberry's own.
    if document is not None and isinstance(context.result, ExecutionResult):
        operation = _selected_operation(document.definitions, context.operation_name)
    if operation is None:
        record.operation = INVALID
    else:
        selections = operation.selection_set.selections
        only = selections[0] if len(selections) == 1 else None
        record.operation = only.name.value if isinstance(only, FieldNode) else MULTIPLE
        record.operation_name = operation.name.value[:100] if operation.name else None
    results = record.results
    if results:
        record.result = results[0][1] if len(results) == 1 else MULTIPLE
        return
    errors = getattr(context.result, "errors", None)
    if errors:
        code = (errors[0].extensions or {}).get("code")
        record.result = code if isinstance(code, str) else "ERROR"
    else:
        record.result = "ok"


def _selected_operation(
    definitions: Collection[DefinitionNode], name: str | None
) -> OperationDefinitionNode | None:
    for definition in definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            name is None or (definition.name is not None and definition.name.value == name)
        ):
            return definition
    return None


class RequestObserver:
    """Time every HTTP request; when it is answered, record its metrics and log one line."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        record = RequestRecord(self.metrics)
        token = _current.set(record)
        # The request's database bounds count from here (see billing.db.database).
        arrival = request_arrived.set(asyncio.get_running_loop().time())
        status = 0

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        except BaseException:  # cancelled too (a shutdown cut it short): the server sends 500
            status = status or 500
            raise
        finally:
            _current.reset(token)
            request_arrived.reset(arrival)
            self._done(scope, record, status or STATUS_CLIENT_GONE, time.perf_counter() - started)

    def _done(self, scope: Scope, record: RequestRecord, status: int, seconds: float) -> None:
        path: str = scope["path"]
        if self.metrics is not None:
            self.metrics.request(path, status, record, seconds)
        level = logging.DEBUG if path in QUIET_PATHS else logging.INFO
        if not log.isEnabledFor(level):
            return
        request_id = scope.get("state", {}).get("request_id")
        shown_path = path if len(path) <= 200 and path.isprintable() else ascii(path[:200])
        duration_ms = round(seconds * 1000, 2)
        log.log(
            level,
            "%s %s %d %s %s %.2f ms retries=%d request_id=%s",
            scope["method"],
            shown_path,
            status,
            record.operation or "-",
            record.result or "-",
            duration_ms,
            record.retries,
            request_id,
            extra={
                "fields": {
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": shown_path,
                    "status": status,
                    "operation": record.operation,
                    "operation_name": record.operation_name,
                    "result": record.result,
                    "duration_ms": duration_ms,
                    "retries": record.retries,
                }
            },
        )
