"""Expected failures of an operation. Each is returned to the caller as a typed result."""

from __future__ import annotations

from decimal import Decimal


class OperationError(Exception):
    """An expected, typed failure. Raising it inside a transaction rolls the transaction back."""

    message: str

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(OperationError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class LoginTaken(OperationError):
    def __init__(self, login: str) -> None:
        super().__init__(f"The login {login!r} is already taken.")
        self.login = login


class WalletNotFound(OperationError):
    def __init__(self, wallet_id: int) -> None:
        super().__init__(f"Wallet {wallet_id} does not exist.")
        self.wallet_id = wallet_id


class InsufficientFunds(OperationError):
    def __init__(self, wallet_id: int, balance: Decimal, requested: Decimal) -> None:
        super().__init__(
            f"Wallet {wallet_id} holds {balance:.2f}, less than the {requested:.2f} requested."
        )
        self.wallet_id = wallet_id
        self.balance = balance
        self.requested = requested


class BalanceLimitExceeded(OperationError):
    def __init__(self, wallet_id: int, balance: Decimal | None, limit: Decimal) -> None:
        above = f"above the maximum balance of {limit:.2f}"
        super().__init__(
            f"This operation would take wallet {wallet_id} {above}."
            if balance is None
            else f"Wallet {wallet_id} holds {balance:.2f}; this operation would take it {above}."
        )
        self.wallet_id = wallet_id
        self.balance = balance
        self.limit = limit


class IdempotencyKeyReused(OperationError):
    """The key was already used for a request with different parameters."""

    def __init__(self, key: str) -> None:
        super().__init__(
            "This idempotency key was already used for a different request. Nothing was"
            " changed; use a new key for a new request."
        )
        self.key = key


class PermissionDenied(OperationError):
    """The caller's token does not allow this operation at all."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"This token may not perform {operation}; an operator token may.")
        self.operation = operation


class TryAgain(OperationError):
    """Contention outlasted the retry budget. Nothing was written; the same call may succeed."""

    def __init__(self) -> None:
        super().__init__(
            "The operation conflicted with concurrent operations too often and was not"
            " performed. Nothing was changed; retry it."
        )


class ServiceUnavailable(OperationError):
    """The database could not be reached (or is saturated). Nothing was written."""

    def __init__(self, *, busy: bool = False) -> None:
        super().__init__(
            "The service is too busy to answer now. Nothing was changed; retry shortly."
            if busy
            else "The database is unavailable. Nothing was changed; retry later."
        )


class OutcomeUnknown(OperationError):
    """The connection was lost while committing: the operation may or may not have happened."""

    def __init__(self) -> None:
        super().__init__(
            "The connection to the database was lost while committing, so it is unknown"
            " whether the operation took effect. Check the wallet before retrying."
        )
