"""What each request did, for the metrics and for one log line per request.

The gateway (billing.http.gateway) opens a ``RequestRecord`` for every HTTP request
(``recording``) and, when the response has been sent, hands it to the metrics and writes the
request's log line (``finished``). Hooks fill the record in from where the facts are known,
each a few attribute updates:

* ``observe_operation`` (the end of a GraphQL operation): which operation ran and how it ended;
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

import logging
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, TypeVar

from graphql import DefinitionNode, DocumentNode, FieldNode, GraphQLError, OperationDefinitionNode
from starlette.types import Scope

from billing.logs import write_json_line

if TYPE_CHECKING:
    from billing.http.metrics import Metrics

log = logging.getLogger("billing.requests")

T = TypeVar("T")

# Requests for these paths are logged at DEBUG: probes and scrapes arrive every few seconds.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
INVALID = "invalid"  # the operation label of a document that did not parse or validate
MULTIPLE = "multiple"  # ... of a document with several root fields
STATUS_CLIENT_GONE = 499  # no response was sent: the client went away first
LINE = "%s %s %d %s %s %.2f ms retries=%d request_id=%s"  # a request's log message


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


def observe_operation(
    document: DocumentNode | None, operation_name: str | None, errors: list[GraphQLError] | None
) -> None:
    """The GraphQL operation of this request has ended (errors already translated).
    ``document``: None when it was refused before it ran (it did not parse or validate)."""
    record = _current.get()
    if record is None:
        return
    operation = None
    if document is not None:
        operation = _selected_operation(document.definitions, operation_name)
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


@contextmanager
def recording(record: RequestRecord) -> Iterator[None]:
    """The hooks of this module fill ``record`` in while the request is served."""
    token = _current.set(record)
    try:
        yield
    finally:
        _current.reset(token)


def finished(scope: Scope, record: RequestRecord, status: int, seconds: float) -> None:
    """The request has been answered: its metrics, and its log line."""
    path: str = scope["path"]
    if record.metrics is not None:
        record.metrics.request(path, status, record, seconds)
    level = logging.DEBUG if path in QUIET_PATHS else logging.INFO
    if not log.isEnabledFor(level):
        return
    request_id = scope.get("state", {}).get("request_id")
    shown_path = path if len(path) <= 200 and path.isprintable() else ascii(path[:200])
    duration_ms = round(seconds * 1000, 2)
    arguments = (
        scope["method"],
        shown_path,
        status,
        record.operation or "-",
        record.result or "-",
        duration_ms,
        record.retries,
        request_id,
    )
    fields: dict[str, object] = {
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
    if not write_json_line(log, level, LINE % arguments, fields):
        log.log(level, LINE, *arguments, extra={"fields": fields})
