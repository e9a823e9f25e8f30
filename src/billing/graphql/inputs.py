"""Input types of the mutations."""

from __future__ import annotations

import strawberry

from billing.graphql.scalars import Money


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


@strawberry.input
class CreateClientInput:
    login: str = strawberry.field(
        description="3-64 characters: letters A-Z/a-z, digits, '.', '_', '-'. Unique ignoring case."
    )
    name: str = strawberry.field(
        description="1-200 characters in any script; trimmed; no control characters."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input
class ResupplyInput:
    wallet_id: strawberry.ID
    amount: Money = strawberry.field(description="Greater than 0, at most 10^15, 2 decimals.")
    reference: str | None = reference_field()
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input
class TransferInput:
    wallet_from_id: strawberry.ID
    wallet_to_id: strawberry.ID = strawberry.field(description="Must differ from walletFromId.")
    amount: Money = strawberry.field(description="Greater than 0, at most 10^15, 2 decimals.")
    reference: str | None = reference_field()
    idempotency_key: str | None = idempotency_key_field()
