"""Whole-request error responses, in the shape the caller's API uses."""

from __future__ import annotations

from typing import Protocol

from starlette.responses import JSONResponse, Response
from starlette.types import Scope


def json_error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    """A whole-request error in the GraphQL response shape."""
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers)


class ErrorResponder(Protocol):
    """Renders a whole-request error (``json_error``, or another API's own error shape)."""

    def __call__(self, status: int, code: str, message: str, **headers: str) -> Response: ...


def graphql_errors(scope: Scope) -> ErrorResponder:
    return json_error
