"""History types: operations as a Relay connection, transactions with their legs."""

from __future__ import annotations

import base64
import binascii
import enum
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from graphql import GraphQLError

from billing.domain import history
from billing.graphql.context import Context
from billing.graphql.scalars import Money, money

if TYPE_CHECKING:
    from billing.graphql.types import Wallet

PAGE_DEFAULT = 20
PAGE_MAX = 100


@strawberry.enum(description="What an operation did to its wallet.")
class OperationKind(enum.Enum):
    RESUPPLY = "RESUPPLY"
    TRANSFER_IN = "TRANSFER_IN"
    TRANSFER_OUT = "TRANSFER_OUT"


@strawberry.enum
class TransactionKind(enum.Enum):
    RESUPPLY = "RESUPPLY"
    TRANSFER = "TRANSFER"


@strawberry.type(description="One change of one wallet's balance: a leg of a transaction.")
class Operation:
    id: strawberry.ID
    transaction_number: uuid.UUID
    kind: OperationKind
    amount: Money = strawberry.field(description="Signed: negative when money left the wallet.")
    balance_after: Money = strawberry.field(description="The wallet's balance right after it.")
    reference: str | None
    created_at: datetime
    wallet_id: strawberry.Private[int]
    counterparty_id: strawberry.Private[int | None]

    @strawberry.field(description="The wallet this operation changed.")
    async def wallet(
        self, info: strawberry.Info[Context, None]
    ) -> Annotated[Wallet, strawberry.lazy("billing.graphql.types")]:
        from billing.graphql.types import Wallet

        record = await info.context.loaders.wallet.load(self.wallet_id)
        if record is None:  # a foreign key guarantees it exists
            raise LookupError(f"wallet {self.wallet_id} of operation {self.id} not found")
        return Wallet.from_record(record)

    @strawberry.field(description="The id of the other wallet of a transfer; null for a resupply.")
    def counterparty_wallet_id(self) -> strawberry.ID | None:
        if self.counterparty_id is None:
            return None
        return strawberry.ID(str(self.counterparty_id))

    @strawberry.field(
        description=(
            "The other wallet of a transfer; null for a resupply, or when the caller may not see"
            " that wallet."
        )
    )
    async def counterparty_wallet(
        self, info: strawberry.Info[Context, None]
    ) -> Annotated[Wallet, strawberry.lazy("billing.graphql.types")] | None:
        from billing.graphql.types import Wallet

        if self.counterparty_id is None:
            return None
        record = await info.context.loaders.wallet.load(self.counterparty_id)
        return None if record is None else Wallet.from_record(record)

    @classmethod
    def from_record(cls, r: history.OperationRecord) -> Operation:
        return cls(
            id=strawberry.ID(str(r.id)),
            transaction_number=r.transaction_number,
            kind=OperationKind(r.kind),
            amount=money(r.amount),
            balance_after=money(r.balance_after),
            reference=r.reference,
            created_at=r.created_at,
            wallet_id=r.wallet_id,
            counterparty_id=r.counterparty_wallet_id,
        )


@strawberry.type
class OperationEdge:
    cursor: str = strawberry.field(description="Opaque; pass it as `after` or `before`.")
    node: Operation


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="A page of a wallet's operations, newest first.")
class OperationConnection:
    edges: list[OperationEdge]
    page_info: PageInfo


@strawberry.type(description="One money movement with all its legs.")
class Transaction:
    number: uuid.UUID
    kind: TransactionKind
    amount: Money
    reference: str | None
    created_at: datetime
    legs: list[Operation] = strawberry.field(description="One operation per wallet it changed.")

    @classmethod
    def from_record(cls, r: history.TransactionRecord) -> Transaction:
        return cls(
            number=r.number,
            kind=TransactionKind(r.kind),
            amount=money(r.amount),
            reference=r.reference,
            created_at=r.created_at,
            legs=[Operation.from_record(leg) for leg in r.legs],
        )


def encode_cursor(position: history.Position) -> str:
    raw = f"{position.created_at.isoformat()}|{position.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, argument: str) -> history.Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        created_at = datetime.fromisoformat(stamp)
        if created_at.tzinfo is None:
            raise ValueError("a cursor's time has an offset")
        return history.Position(created_at.astimezone(UTC), int(ident))
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
        raise GraphQLError(f"`{argument}` is not a cursor returned by this API.") from exc


def as_utc(value: datetime | None, argument: str) -> datetime | None:
    """The time in UTC; times without an offset are taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise GraphQLError(f"`{argument}` is out of the range of times.") from exc


async def operations_connection(
    info: strawberry.Info[Context, None],
    wallet_id: int,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    since: datetime | None,
    until: datetime | None,
) -> OperationConnection:
    if first is not None and last is not None:
        raise GraphQLError("Pass `first` or `last`, not both.")
    size = first if first is not None else last if last is not None else PAGE_DEFAULT
    if not 0 <= size <= PAGE_MAX:
        raise GraphQLError(f"`first` and `last` must be between 0 and {PAGE_MAX}.")
    older_than = decode_cursor(after, "after") if after else None
    newer_than = decode_cursor(before, "before") if before else None
    page = await info.context.reader.run(
        lambda conn: history.operations_page(
            conn,
            wallet_id,
            limit=size,
            older_than=older_than,
            newer_than=newer_than,
            from_newest=last is None,
            since=as_utc(since, "since"),
            until=as_utc(until, "until"),
        )
    )
    edges = [
        OperationEdge(cursor=encode_cursor(r.position), node=Operation.from_record(r))
        for r in page.operations
    ]
    return OperationConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_older,
            has_previous_page=page.has_newer,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
