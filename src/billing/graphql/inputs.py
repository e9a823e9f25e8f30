"""Input types of the mutations."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from billing.graphql.scalars import Metadata, Money


def idempotency_key_field() -> str | None:
    return strawberry.field(  # type: ignore[no-any-return]  # a field declaration, typed by use
        default=None,
        description=(
            "Optional, 1-255 printable characters (a UUID is a good choice). A retry with the"
            " same key and the same input returns the first result (replayed: true) instead of"
            " performing the operation again."
        ),
    )


def reference_field() -> str | None:
    return strawberry.field(  # type: ignore[no-any-return]  # a field declaration, typed by use
        default=None, description="Optional free text up to 255 characters, e.g. an order id."
    )


def metadata_field() -> Metadata | None:
    return strawberry.field(  # type: ignore[no-any-return]  # a field declaration, typed by use
        default=None, description="Optional labels of your own, stored with the transaction."
    )


def dry_run_field() -> bool:
    return strawberry.field(  # type: ignore[no-any-return]  # a field declaration, typed by use
        default=False,
        description=(
            "Run every check and answer with the would-be result, changing nothing (and using"
            " no idempotency key)."
        ),
    )


AMOUNT = "Greater than 0, at most 10^15, with at most the currency's decimals."


@strawberry.input
class CreateClientInput:
    login: str = strawberry.field(
        description="3-64 characters: letters A-Z/a-z, digits, '.', '_', '-'. Unique ignoring case."
    )
    name: str = strawberry.field(
        description="1-200 characters in any script; trimmed; no control characters."
    )
    currency: str | None = strawberry.field(
        default=None,
        description="The first wallet's currency code; the server's default (USD unless set).",
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input
class ResupplyInput:
    wallet_id: strawberry.ID
    amount: Money = strawberry.field(description=AMOUNT)
    reference: str | None = reference_field()
    metadata: Metadata | None = metadata_field()
    idempotency_key: str | None = idempotency_key_field()
    dry_run: bool = dry_run_field()


@strawberry.input
class TransferInput:
    wallet_from_id: strawberry.ID
    wallet_to_id: strawberry.ID = strawberry.field(description="Must differ from walletFromId.")
    amount: Money = strawberry.field(description=AMOUNT)
    reference: str | None = reference_field()
    metadata: Metadata | None = metadata_field()
    idempotency_key: str | None = idempotency_key_field()
    dry_run: bool = dry_run_field()


@strawberry.input
class CreateWalletInput:
    client_id: strawberry.ID
    currency: str = strawberry.field(description="A currency code, e.g. EUR (see currencies).")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input
class CreateCurrencyInput:
    code: str = strawberry.field(description="3-12 capitals, digits or '_', e.g. POINTS.")
    exponent: int = strawberry.field(description="Its number of decimals, 0 to 8.")
    name: str


@strawberry.input
class WithdrawInput:
    wallet_id: strawberry.ID
    amount: Money = strawberry.field(description=AMOUNT)
    reference: str | None = reference_field()
    metadata: Metadata | None = metadata_field()
    idempotency_key: str | None = idempotency_key_field()
    dry_run: bool = dry_run_field()


@strawberry.input
class SplitLegInput:
    wallet_to_id: strawberry.ID = strawberry.field(
        description="Differs from walletFromId and from every other leg's."
    )
    amount: Money = strawberry.field(description=AMOUNT)
    reference: str | None = reference_field()


@strawberry.input
class SplitTransferInput:
    wallet_from_id: strawberry.ID
    legs: list[SplitLegInput] = strawberry.field(description="1 to 100 receiving wallets.")
    reference: str | None = reference_field()
    metadata: Metadata | None = metadata_field()
    idempotency_key: str | None = idempotency_key_field()
    dry_run: bool = dry_run_field()


@strawberry.input
class HoldTransferInput:
    wallet_from_id: strawberry.ID
    wallet_to_id: strawberry.ID = strawberry.field(description="Must differ from walletFromId.")
    amount: Money = strawberry.field(description=AMOUNT)
    expires_at: datetime | None = strawberry.field(
        default=None,
        description="When it lapses (the database's clock); at most 366 days ahead, default 7"
        " days. Times without an offset are UTC.",
    )
    reference: str | None = reference_field()
    metadata: Metadata | None = metadata_field()
    idempotency_key: str | None = idempotency_key_field()
    dry_run: bool = dry_run_field()


@strawberry.input
class CaptureHoldInput:
    hold_id: strawberry.ID
    amount: Money | None = strawberry.field(
        default=None, description="At most what the hold reserves; without it, all of it."
    )
    idempotency_key: str | None = idempotency_key_field()
    dry_run: bool = dry_run_field()


@strawberry.input
class VoidHoldInput:
    hold_id: strawberry.ID
    idempotency_key: str | None = idempotency_key_field()
    dry_run: bool = dry_run_field()


@strawberry.input
class RefundInput:
    transaction_number: uuid.UUID = strawberry.field(
        description="The number of a TRANSFER, SPLIT or CAPTURE."
    )
    amount: Money | None = strawberry.field(
        default=None, description="Without it, all that remains refundable."
    )
    reference: str | None = reference_field()
    metadata: Metadata | None = metadata_field()
    idempotency_key: str | None = idempotency_key_field()
    dry_run: bool = dry_run_field()
