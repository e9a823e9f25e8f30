"""Errors as JSON ``{"code", "message", ...}``: each failure of ``billing.errors`` with its code,
its details and its HTTP status (as its class defines them), and whole-request errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.responses import Response

from billing.errors import InvalidInput, OperationError, camel
from billing.rest.encoding import dumps

RETRY_AFTER = {"Retry-After": "1"}


class ExactJSONResponse(Response):
    """JSON written by ``encoding.dumps``: money as exact numbers."""

    media_type = "application/json"

    def render(self, content: object) -> bytes:
        return dumps(content)


def error_response(status: int, code: str, message: str, **headers: str) -> Response:
    """A whole-request error (401, 413, ...) in the REST shape."""
    return ExactJSONResponse({"code": code, "message": message}, status, headers)


@dataclass
class RequestError(Exception):
    """The request as a whole cannot be handled (not JSON, wrong content type, ...)."""

    status: int
    code: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)


# The field an error names, where the REST request spells it differently from the domain.
REST_FIELDS = {"idempotencyKey": "Idempotency-Key"}


def operation_error(exc: OperationError) -> Response:
    """A domain failure as its status, code and the same details as its GraphQL type."""
    body: dict[str, object] = {"code": exc.code, "message": exc.message}
    for item in exc.details():
        body[camel(item.name)] = getattr(exc, item.name)
    if isinstance(exc, InvalidInput):
        body["field"] = REST_FIELDS.get(exc.field, exc.field)
    headers = RETRY_AFTER if exc.retry_after else None
    return ExactJSONResponse(body, exc.status, headers)
