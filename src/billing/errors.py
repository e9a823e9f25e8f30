"""Every expected failure of an operation, each defined once: here.

An error is a class, and the class says everything the APIs tell a caller about it:

* its name gives its stable code (``InsufficientFunds`` -> ``INSUFFICIENT_FUNDS``);
* its docstring describes it (the GraphQL type's and the OpenAPI schema's description);
* ``status`` is the HTTP status the REST adapter answers it with, and ``retry_after`` whether
  that answer tells the caller to retry shortly;
* its dataclass fields are the details it carries, each of one kind: ``int`` the id of an
  object, ``Decimal`` an amount of money, ``str`` text, ``uuid.UUID`` a transaction's number.
  A field made with ``detail()`` carries a description; one made with ``internal()`` only
  helps to word the message.
* its ``message`` property words it for people.

The GraphQL error types, the REST answers and the OpenAPI document are built from ``CATALOG``.
Adding an error is adding a class here and naming it where an operation can meet it (see
``failures``). Raising one inside a transaction rolls the transaction back.

This module imports nothing else of the service: every layer may use it.
"""

from __future__ import annotations

import dataclasses
import re
import typing
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

CATALOG: list[type[OperationError]] = []
KINDS = (int, Decimal, str, uuid.UUID)


@dataclass(frozen=True)
class Detail:
    """A field of an error as the APIs show it."""

    name: str  # as in Python: wallet_id (the APIs spell it walletId)
    kind: type  # one of KINDS
    description: str | None


def detail(description: str) -> Any:
    """A field of an error, with its description."""
    return dataclasses.field(metadata={"description": description})


def internal(default: object = dataclasses.MISSING) -> Any:
    """A field that only words the message; callers are not shown it."""
    return dataclasses.field(default=default, metadata={"internal": True})


def camel(name: str) -> str:
    """``wallet_id`` -> ``walletId``: how both APIs spell a field."""
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


class OperationError(Exception):
    """An expected, typed failure; subclasses are dataclasses (see the module's docstring)."""

    code: ClassVar[str]
    status: ClassVar[int]
    retry_after: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.code = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).upper()
        CATALOG.append(cls)

    @property
    def message(self) -> str:
        """A human-readable explanation."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.message

    @classmethod
    def description(cls) -> str:
        """The docstring as one line."""
        return " ".join((cls.__doc__ or "").split())

    @classmethod
    def details(cls) -> list[Detail]:
        """The fields callers are shown, in their order."""
        hints = typing.get_type_hints(cls)
        found = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]  # subclasses are dataclasses
            if f.metadata.get("internal"):
                continue
            kind = hints[f.name]
            if kind not in KINDS:
                raise TypeError(f"{cls.__name__}.{f.name}: a detail is an int, Decimal or str")
            found.append(Detail(f.name, kind, f.metadata.get("description")))
        return found


@dataclass(eq=False)
class InvalidInput(OperationError):
    """An input value is missing, malformed or out of range. Nothing changed."""

    status = 422
    field: str = detail("The input field at fault, e.g. 'amount'.")
    reason: str = internal()

    @property
    def message(self) -> str:
        return self.reason


@dataclass(eq=False)
class LoginTaken(OperationError):
    """Another client already has this login (compared ignoring case). Nothing changed."""

    status = 409
    login: str

    @property
    def message(self) -> str:
        return f"The login {self.login!r} is already taken."


@dataclass(eq=False)
class WalletNotFound(OperationError):
    """No such wallet (for a client token paying from it: none of its own). Nothing changed."""

    status = 404
    wallet_id: int

    @property
    def message(self) -> str:
        return f"Wallet {self.wallet_id} does not exist."


@dataclass(eq=False)
class InsufficientFunds(OperationError):
    """The paying wallet's available balance (its balance less what holds reserve) is less
    than the amount. Nothing changed."""

    status = 409
    wallet_id: int
    balance: Decimal
    requested: Decimal
    available: Decimal = detail("The balance less what pending holds reserve.")

    @property
    def message(self) -> str:
        if self.available == self.balance:
            return (
                f"Wallet {self.wallet_id} holds {self.balance:f}, less than the"
                f" {self.requested:f} requested."
            )
        return (
            f"Wallet {self.wallet_id} has {self.available:f} available (of {self.balance:f};"
            f" holds reserve the rest), less than the {self.requested:f} requested."
        )


@dataclass(eq=False)
class CurrencyMismatch(OperationError):
    """A wallet's currency differs from the paying wallet's; money moves only within one
    currency. Nothing changed."""

    status = 409
    wallet_id: int = detail("The first wallet whose currency differs.")
    currency: str = detail("That wallet's currency.")
    expected: str = detail("The paying wallet's currency.")

    @property
    def message(self) -> str:
        return (
            f"Wallet {self.wallet_id} holds {self.currency}, not {self.expected}; money moves"
            " only between wallets of one currency."
        )


@dataclass(eq=False)
class CurrencyExists(OperationError):
    """A currency or asset with this code exists already. Nothing changed."""

    status = 409
    currency_code: str

    @property
    def message(self) -> str:
        return f"The currency {self.currency_code} exists already."


@dataclass(eq=False)
class ClientNotFound(OperationError):
    """No such client (for a client token: any client but itself). Nothing changed."""

    status = 404
    client_id: int

    @property
    def message(self) -> str:
        return f"Client {self.client_id} does not exist."


@dataclass(eq=False)
class HoldNotFound(OperationError):
    """No such hold. Nothing changed."""

    status = 404
    hold_id: int

    @property
    def message(self) -> str:
        return f"Hold {self.hold_id} does not exist."


@dataclass(eq=False)
class HoldNotPending(OperationError):
    """The hold was captured or voided already; a hold resolves once. Nothing changed."""

    status = 409
    hold_id: int
    hold_status: str = detail("The hold's status now: CAPTURED or VOIDED.")

    @property
    def message(self) -> str:
        return f"Hold {self.hold_id} is {self.hold_status.lower()}, no longer pending."


@dataclass(eq=False)
class HoldExpired(OperationError):
    """The hold expired (its expiresAt has passed on the database's clock): it holds nothing
    any more and can be neither captured nor voided. Nothing changed."""

    status = 409
    hold_id: int

    @property
    def message(self) -> str:
        return f"Hold {self.hold_id} has expired; the money it held is available again."


@dataclass(eq=False)
class TransactionNotFound(OperationError):
    """No such transaction (for a client token: none that paid one of its wallets). Nothing
    changed."""

    status = 404
    transaction_number: uuid.UUID

    @property
    def message(self) -> str:
        return f"Transaction {self.transaction_number} does not exist."


@dataclass(eq=False)
class RefundExceedsRemaining(OperationError):
    """The refund is larger than what remains refundable of the transaction. Nothing
    changed."""

    status = 409
    transaction_number: uuid.UUID
    remaining: Decimal = detail("What may still be refunded.")
    requested: Decimal = detail("The refund asked for.")

    @property
    def message(self) -> str:
        return (
            f"Only {self.remaining:f} of transaction {self.transaction_number} remains"
            f" refundable, less than the {self.requested:f} requested."
        )


@dataclass(eq=False)
class BalanceLimitExceeded(OperationError):
    """The operation would take a wallet above the maximum balance. Nothing changed."""

    status = 409
    wallet_id: int
    limit: Decimal = detail("The largest balance a wallet may hold.")
    # Shown in the message only to callers who may see the wallet.
    balance: Decimal | None = internal(None)

    @property
    def message(self) -> str:
        above = f"above the maximum balance of {self.limit:f}"
        if self.balance is None:
            return f"This operation would take wallet {self.wallet_id} {above}."
        return (
            f"Wallet {self.wallet_id} holds {self.balance:f}; this operation would take it {above}."
        )


@dataclass(eq=False)
class IdempotencyKeyReused(OperationError):
    """The idempotency key was already used for a request with different parameters. Nothing
    changed."""

    status = 422
    idempotency_key: str

    @property
    def message(self) -> str:
        return (
            "This idempotency key was already used for a different request. Nothing was"
            " changed; use a new key for a new request."
        )


@dataclass(eq=False)
class WebhookEndpointNotFound(OperationError):
    """No such webhook endpoint. Nothing changed."""

    status = 404
    endpoint_id: int

    @property
    def message(self) -> str:
        return f"Webhook endpoint {self.endpoint_id} does not exist."


@dataclass(eq=False)
class WebhookDeliveryNotFound(OperationError):
    """No such webhook delivery. Nothing changed."""

    status = 404
    delivery_id: int

    @property
    def message(self) -> str:
        return f"Webhook delivery {self.delivery_id} does not exist."


@dataclass(eq=False)
class PermissionDenied(OperationError):
    """The caller's token does not allow this operation. Nothing changed."""

    status = 403
    operation: str = detail("The operation refused, e.g. 'resupply'.")

    @property
    def message(self) -> str:
        return f"This token may not perform {self.operation}; an operator token may."


@dataclass(eq=False)
class TryAgain(OperationError):
    """Too much contention with concurrent operations. Nothing changed; retry."""

    status = 503
    retry_after = True

    @property
    def message(self) -> str:
        return (
            "The operation conflicted with concurrent operations too often and was not"
            " performed. Nothing was changed; retry it."
        )


@dataclass(eq=False)
class ServiceUnavailable(OperationError):
    """The database is unavailable (or the service too busy). Nothing changed; retry later."""

    status = 503
    retry_after = True
    busy: bool = internal(False)

    @property
    def message(self) -> str:
        if self.busy:
            return "The service is too busy to answer now. Nothing was changed; retry shortly."
        return "The database is unavailable. Nothing was changed; retry later."


@dataclass(eq=False)
class OutcomeUnknown(OperationError):
    """The connection to the database was lost while committing: the operation may or may not
    have taken effect. Retry with the same idempotency key, or check the wallet first."""

    status = 504

    @property
    def message(self) -> str:
        return (
            "The connection to the database was lost while committing, so it is unknown"
            " whether the operation took effect. Check the wallet before retrying."
        )


def failures(*specific: type[OperationError]) -> tuple[type[OperationError], ...]:
    """What a write can end in besides success: its own ``specific`` failures, and those
    every write can meet. The GraphQL result unions and the REST answers list these."""
    return (
        InvalidInput,
        *specific,
        IdempotencyKeyReused,
        PermissionDenied,
        TryAgain,
        ServiceUnavailable,
        OutcomeUnknown,
    )
