"""Typed errors: every expected failure is a result type implementing the Error interface."""

from __future__ import annotations

import enum

import strawberry

from billing.domain import errors as domain
from billing.graphql.scalars import Money, money


@strawberry.enum(description="Stable, machine-readable error codes.")
class ErrorCode(enum.Enum):
    INVALID_INPUT = "INVALID_INPUT"
    LOGIN_TAKEN = "LOGIN_TAKEN"
    WALLET_NOT_FOUND = "WALLET_NOT_FOUND"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    BALANCE_LIMIT_EXCEEDED = "BALANCE_LIMIT_EXCEEDED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    TRY_AGAIN = "TRY_AGAIN"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"


@strawberry.interface(description="Implemented by every error result.")
class Error:
    code: ErrorCode
    message: str = strawberry.field(description="A human-readable explanation.")


@strawberry.type(description="An input value is malformed or out of range. Nothing changed.")
class InvalidInput(Error):
    field: str = strawberry.field(description="The input field at fault, e.g. 'amount'.")


@strawberry.type(description="Another client already has this login (compared ignoring case).")
class LoginTaken(Error):
    login: str


@strawberry.type(description="No such wallet. Nothing changed.")
class WalletNotFound(Error):
    wallet_id: strawberry.ID


@strawberry.type(description="The wallet holds less than requested. Nothing changed.")
class InsufficientFunds(Error):
    wallet_id: strawberry.ID
    balance: Money
    requested: Money


@strawberry.type(description="The operation would take a wallet above the maximum balance.")
class BalanceLimitExceeded(Error):
    wallet_id: strawberry.ID
    limit: Money = strawberry.field(description="The largest balance a wallet may hold.")


@strawberry.type(
    description=(
        "The idempotency key was already used for a request with different parameters."
        " Nothing changed."
    )
)
class IdempotencyKeyReused(Error):
    idempotency_key: str


@strawberry.type(description="The caller's token does not allow this operation. Nothing changed.")
class PermissionDenied(Error):
    operation: str


@strawberry.type(
    description="Too much contention with concurrent operations. Nothing changed; retry."
)
class TryAgain(Error):
    pass


@strawberry.type(description="The database is unavailable. Nothing changed; retry later.")
class ServiceUnavailable(Error):
    pass


@strawberry.type(
    description=(
        "The connection to the database was lost while committing: the operation may or may"
        " not have taken effect. Check the wallet before retrying."
    )
)
class OutcomeUnknown(Error):
    pass


def to_error(exc: domain.OperationError) -> Error:  # noqa: PLR0911 - one branch per type
    """Translate a domain failure into its GraphQL type."""
    m = exc.message
    match exc:
        case domain.InvalidInput():
            return InvalidInput(code=ErrorCode.INVALID_INPUT, message=m, field=exc.field)
        case domain.LoginTaken():
            return LoginTaken(code=ErrorCode.LOGIN_TAKEN, message=m, login=exc.login)
        case domain.WalletNotFound():
            return WalletNotFound(
                code=ErrorCode.WALLET_NOT_FOUND,
                message=m,
                wallet_id=strawberry.ID(str(exc.wallet_id)),
            )
        case domain.InsufficientFunds():
            return InsufficientFunds(
                code=ErrorCode.INSUFFICIENT_FUNDS,
                message=m,
                wallet_id=strawberry.ID(str(exc.wallet_id)),
                balance=money(exc.balance),
                requested=money(exc.requested),
            )
        case domain.BalanceLimitExceeded():
            return BalanceLimitExceeded(
                code=ErrorCode.BALANCE_LIMIT_EXCEEDED,
                message=m,
                wallet_id=strawberry.ID(str(exc.wallet_id)),
                limit=money(exc.limit),
            )
        case domain.IdempotencyKeyReused():
            return IdempotencyKeyReused(
                code=ErrorCode.IDEMPOTENCY_KEY_REUSED, message=m, idempotency_key=exc.key
            )
        case domain.PermissionDenied():
            return PermissionDenied(
                code=ErrorCode.PERMISSION_DENIED, message=m, operation=exc.operation
            )
        case domain.TryAgain():
            return TryAgain(code=ErrorCode.TRY_AGAIN, message=m)
        case domain.ServiceUnavailable():
            return ServiceUnavailable(code=ErrorCode.SERVICE_UNAVAILABLE, message=m)
        case domain.OutcomeUnknown():
            return OutcomeUnknown(code=ErrorCode.OUTCOME_UNKNOWN, message=m)
    raise TypeError(f"no GraphQL type for {type(exc).__name__}")  # pragma: no cover
