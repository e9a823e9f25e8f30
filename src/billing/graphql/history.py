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

from billing.domain import history, holds
from billing.graphql.context import Context
from billing.graphql.scalars import Metadata, Money, money

if TYPE_CHECKING:
    from billing.graphql.types import Hold, Wallet

PAGE_DEFAULT = 20
PAGE_MAX = 100


@strawberry.enum(description="What an operation did to its wallet.")
class OperationKind(enum.Enum):
    RESUPPLY = "RESUPPLY"
    WITHDRAWAL = "WITHDRAWAL"
    TRANSFER_IN = "TRANSFER_IN"
    TRANSFER_OUT = "TRANSFER_OUT"
    CAPTURE_IN = "CAPTURE_IN"
    CAPTURE_OUT = "CAPTURE_OUT"
    REFUND_IN = "REFUND_IN"
    REFUND_OUT = "REFUND_OUT"


@strawberry.enum(
    description=(
        "What a transaction did. HOLD and VOID move no balance (they change what is held), so"
        " they have no legs; a SPLIT pays several wallets from one."
    )
)
class TransactionKind(enum.Enum):
    RESUPPLY = "RESUPPLY"
    WITHDRAWAL = "WITHDRAWAL"
    TRANSFER = "TRANSFER"
    SPLIT = "SPLIT"
    HOLD = "HOLD"
    CAPTURE = "CAPTURE"
    VOID = "VOID"
    REFUND = "REFUND"


@strawberry.type(description="One change of one wallet's balance: a leg of a transaction.")
class Operation:
    id: strawberry.ID
    transaction_number: uuid.UUID
    kind: OperationKind
    amount: Money = strawberry.field(description="Signed: negative when money left the wallet.")
    balance_after: Money = strawberry.field(description="The wallet's balance right after it.")
    reference: str | None = strawberry.field(
        description="The leg's own reference (a split leg's), else its transaction's."
    )
    metadata: Metadata = strawberry.field(description="Its transaction's.")
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

    @strawberry.field(
        description=(
            "The id of the one wallet on the other side; null for a resupply or payout, and for"
            " the paying side of a payment to several wallets."
        )
    )
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
            metadata=Metadata(r.metadata),
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


@strawberry.type(description="One ledger transaction with all its legs.")
class Transaction:
    number: uuid.UUID
    kind: TransactionKind
    currency: str
    amount: Money
    reference: str | None
    metadata: Metadata
    created_at: datetime
    legs: list[Operation] = strawberry.field(
        description="One operation per wallet whose balance it changed (a client token sees"
        " only its own)."
    )
    refundable: Money = strawberry.field(
        description="What may still be refunded: 0 for kinds that cannot be."
    )
    record: strawberry.Private[history.TransactionRecord]

    @strawberry.field(description="The payment a REFUND refunds; null otherwise.")
    async def refund_of(self, info: strawberry.Info[Context, None]) -> Transaction | None:
        if self.record.refund_of is None:
            return None
        key = self.record.refund_of
        owner = info.context.actor.owner_filter
        found = await info.context.reader.run(
            lambda conn: history.transactions_by_id(conn, [key], owner)
        )
        return None if key not in found else Transaction.from_record(found[key])

    @strawberry.field(description="Its refunds, oldest first.")
    async def refunds(self, info: strawberry.Info[Context, None]) -> list[Transaction]:
        owner = info.context.actor.owner_filter
        found = await info.context.reader.run(
            lambda conn: history.linked_transactions(conn, refunds_of=self.record.id, owner=owner)
        )
        return [Transaction.from_record(t) for t in found]

    @strawberry.field(description="The hold a HOLD, CAPTURE or VOID belongs to.")
    async def hold(
        self, info: strawberry.Info[Context, None]
    ) -> Annotated[Hold, strawberry.lazy("billing.graphql.types")] | None:
        from billing.graphql.types import Hold

        if self.record.hold_id is None:
            return None
        key = self.record.hold_id
        owner = info.context.actor.owner_filter
        found = await info.context.reader.run(lambda conn: holds.hold_of(conn, key, owner))
        return None if found is None else Hold.from_record(found)

    @classmethod
    def from_record(cls, r: history.TransactionRecord) -> Transaction:
        return cls(
            number=r.number,
            kind=TransactionKind(r.kind),
            currency=r.currency,
            amount=money(r.amount),
            reference=r.reference,
            metadata=Metadata(r.metadata),
            created_at=r.created_at,
            legs=[Operation.from_record(leg) for leg in r.legs],
            refundable=money(r.refundable),
            record=r,
        )


@strawberry.type
class TransactionEdge:
    cursor: str = strawberry.field(description="Opaque; pass it as `after`.")
    node: Transaction


@strawberry.type(description="A page of transactions, newest first.")
class TransactionConnection:
    edges: list[TransactionEdge]
    page_info: PageInfo


@strawberry.input(description="Every condition given must hold.")
class TransactionFilter:
    reference: str | None = None
    metadata: Metadata | None = strawberry.field(
        default=None, description="Transactions whose metadata holds all these keys and values."
    )
    kind: TransactionKind | None = None
    since: datetime | None = strawberry.field(default=None, description="Created at or after.")
    until: datetime | None = strawberry.field(default=None, description="Created before.")


async def transactions_connection(
    info: strawberry.Info[Context, None],
    where: TransactionFilter | None,
    first: int | None,
    after: str | None,
) -> TransactionConnection:
    size = PAGE_DEFAULT if first is None else first
    if not 0 <= size <= PAGE_MAX:
        raise GraphQLError(f"`first` must be between 0 and {PAGE_MAX}.")
    before_id = None if after is None else id_after(after, "t")
    given = where or TransactionFilter()
    metadata = given.metadata
    if metadata is not None and (
        not isinstance(metadata, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        raise GraphQLError("`filter.metadata` must be an object of string values.")
    found, more = await info.context.reader.run(
        lambda conn: history.transactions_page(
            conn,
            history.TransactionFilter(
                reference=given.reference,
                metadata=metadata,
                kind=None if given.kind is None else given.kind.value,
                since=as_utc(given.since, "since"),
                until=as_utc(given.until, "until"),
            ),
            owner=info.context.actor.owner_filter,
            limit=size,
            before_id=before_id,
        )
    )
    edges = [
        TransactionEdge(
            cursor=id_cursor("t", t.id),
            node=Transaction.from_record(t),
        )
        for t in found
    ]
    return TransactionConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=more,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


def id_cursor(prefix: str, ident: int) -> str:
    """The opaque cursor of a row of one kind (``prefix``) in a newest-first page by id."""
    return base64.urlsafe_b64encode(f"{prefix}:{ident}".encode()).decode().rstrip("=")


def id_after(cursor: str, prefix: str) -> int:
    """The id in a cursor ``id_cursor(prefix, ...)`` made; anything else is refused."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, ident = raw.partition(":")
        if kind != prefix or not ident.isdigit():
            raise ValueError(f"not a cursor of kind {prefix}")
        return int(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise GraphQLError("`after` is not a cursor returned by this API.") from exc


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
