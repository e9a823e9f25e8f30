"""Errors as JSON ``{"code", "message", ...}``: the codes and extra fields of the GraphQL error
types, with an HTTP status that says what kind of failure it is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from starlette.responses import Response

from billing.domain import errors as domain
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


def operation_error(exc: domain.OperationError) -> Response:  # noqa: PLR0911 - one per type
    """A domain failure as its status, code and the same extra fields as its GraphQL type."""
    m = exc.message
    match exc:
        case domain.InvalidInput():
            field = REST_FIELDS.get(exc.field, exc.field)
            return _error(422, "INVALID_INPUT", m, field=field)
        case domain.LoginTaken():
            return _error(409, "LOGIN_TAKEN", m, login=exc.login)
        case domain.WalletNotFound():
            return _error(404, "WALLET_NOT_FOUND", m, walletId=exc.wallet_id)
        case domain.InsufficientFunds():
            return _error(
                409,
                "INSUFFICIENT_FUNDS",
                m,
                walletId=exc.wallet_id,
                balance=exc.balance,
                requested=exc.requested,
            )
        case domain.BalanceLimitExceeded():
            return _error(409, "BALANCE_LIMIT_EXCEEDED", m, walletId=exc.wallet_id, limit=exc.limit)
        case domain.IdempotencyKeyReused():
            return _error(422, "IDEMPOTENCY_KEY_REUSED", m, idempotencyKey=exc.key)
        case domain.PermissionDenied():
            return _error(403, "PERMISSION_DENIED", m, operation=exc.operation)
        case domain.TryAgain():
            return _error(503, "TRY_AGAIN", m, headers=RETRY_AFTER)
        case domain.ServiceUnavailable():
            return _error(503, "SERVICE_UNAVAILABLE", m, headers=RETRY_AFTER)
        case domain.OutcomeUnknown():
            return _error(504, "OUTCOME_UNKNOWN", m)
    raise TypeError(f"no REST error for {type(exc).__name__}")  # pragma: no cover


def _error(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    **extra: str | int | Decimal,
) -> Response:
    return ExactJSONResponse({"code": code, "message": message, **extra}, status, headers)
