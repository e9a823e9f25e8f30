"""Input types of the mutations."""

from __future__ import annotations

import strawberry

from billing.graphql.scalars import Money


@strawberry.input
class CreateClientInput:
    login: str = strawberry.field(
        description="3-64 characters: letters A-Z/a-z, digits, '.', '_', '-'. Unique ignoring case."
    )
    name: str = strawberry.field(
        description="1-200 characters in any script; trimmed; no control characters."
    )


@strawberry.input
class ResupplyInput:
    wallet_id: strawberry.ID
    amount: Money = strawberry.field(description="Greater than 0, at most 10^15, 2 decimals.")


@strawberry.input
class TransferInput:
    wallet_from_id: strawberry.ID
    wallet_to_id: strawberry.ID = strawberry.field(description="Must differ from walletFromId.")
    amount: Money = strawberry.field(description="Greater than 0, at most 10^15, 2 decimals.")
