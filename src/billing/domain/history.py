"""Reading the ledger: a wallet's operations, a transaction's legs, a balance at an instant.

Operations are listed newest first, ordered by (created_at, id) and paged by keyset on the
index (wallet_id, created_at, id): a page costs the same however long the history is, and a
position stays valid while new operations arrive.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, select, text, true, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from billing.db.models import Transaction, Wallet, WalletOperation


@dataclass(frozen=True, slots=True)
class OperationRecord:
    id: int
    wallet_id: int
    transaction_number: uuid.UUID
    transaction_kind: str
    amount: Decimal  # signed: negative for money leaving the wallet
    balance_after: Decimal
    counterparty_wallet_id: int | None
    reference: str | None
    created_at: datetime
    metadata: dict[str, str]

    @property
    def kind(self) -> str:
        if self.transaction_kind in ("RESUPPLY", "WITHDRAWAL"):
            return self.transaction_kind
        family = "TRANSFER" if self.transaction_kind == "SPLIT" else self.transaction_kind
        return f"{family}_OUT" if self.amount < 0 else f"{family}_IN"

    @property
    def position(self) -> Position:
        return Position(self.created_at, self.id)


@dataclass(frozen=True, slots=True)
class Position:
    """Where an operation stands in its wallet's history."""

    created_at: datetime
    id: int


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    id: int
    number: uuid.UUID
    kind: str
    currency: str
    amount: Decimal
    refunded: Decimal
    reference: str | None
    metadata: dict[str, str]
    created_at: datetime
    hold_id: int | None
    refund_of: int | None
    legs: list[OperationRecord]

    @property
    def refundable(self) -> Decimal:
        """What may still be refunded (nothing, for kinds that cannot be)."""
        if self.kind not in ("TRANSFER", "SPLIT", "CAPTURE"):
            return self.amount - self.amount
        return self.amount - self.refunded


@dataclass(frozen=True, slots=True)
class Page:
    operations: list[OperationRecord]  # newest first
    has_newer: bool
    has_older: bool


def _operations() -> Select[*tuple[Any, ...]]:
    # The other side: the one wallet that moved the other way (none when several did, as for
    # the paying wallet of a split).
    other = aliased(WalletOperation)
    counterparty = (
        select(func.min(other.wallet_id))
        .where(
            other.transaction_id == WalletOperation.transaction_id,
            func.sign(other.amount) != func.sign(WalletOperation.amount),
        )
        .having(func.count() == 1)
        .scalar_subquery()
    )
    return select(
        WalletOperation.id,
        WalletOperation.wallet_id,
        WalletOperation.amount,
        WalletOperation.balance_after,
        WalletOperation.created_at,
        Transaction.number,
        Transaction.kind,
        func.coalesce(WalletOperation.reference, Transaction.reference).label("reference"),
        Transaction.metadata_.label("metadata"),
        counterparty.label("counterparty"),
    ).join(Transaction, Transaction.id == WalletOperation.transaction_id)


def _record(row: Row[Any]) -> OperationRecord:
    return OperationRecord(
        id=row.id,
        wallet_id=row.wallet_id,
        transaction_number=row.number,
        transaction_kind=row.kind,
        amount=row.amount,
        balance_after=row.balance_after,
        counterparty_wallet_id=row.counterparty,
        reference=row.reference,
        created_at=row.created_at,
        metadata=row.metadata,
    )


async def operations_page(
    conn: AsyncConnection,
    wallet_id: int,
    *,
    limit: int,
    older_than: Position | None = None,
    newer_than: Position | None = None,
    from_newest: bool = True,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page:
    """Up to ``limit`` operations of a wallet, between two positions and within [since, until).

    ``from_newest`` takes the newest operations of the range (forward paging, ``first``); else
    the oldest (backward paging, ``last``). The page itself is always newest first.
    """
    key = tuple_(WalletOperation.created_at, WalletOperation.id)
    query = _operations().where(WalletOperation.wallet_id == wallet_id)
    if older_than is not None:
        query = query.where(key < tuple_(older_than.created_at, older_than.id))
    if newer_than is not None:
        query = query.where(key > tuple_(newer_than.created_at, newer_than.id))
    if since is not None:
        query = query.where(WalletOperation.created_at >= since)
    if until is not None:
        query = query.where(WalletOperation.created_at < until)
    if from_newest:
        order = (WalletOperation.created_at.desc(), WalletOperation.id.desc())
    else:
        order = (WalletOperation.created_at.asc(), WalletOperation.id.asc())
    rows = (await conn.execute(query.order_by(*order).limit(limit + 1))).all()
    more = len(rows) > limit
    # A cursor bounding the page is itself an operation on the page's other side.
    bounded = older_than is not None or newer_than is not None
    records = [_record(r) for r in rows[:limit]]
    if from_newest:
        return Page(records, has_newer=bounded, has_older=more)
    records.reverse()
    return Page(records, has_newer=more, has_older=bounded)


_HEAD = (
    Transaction.id,
    Transaction.number,
    Transaction.kind,
    Transaction.currency,
    Transaction.amount,
    Transaction.refunded,
    Transaction.reference,
    Transaction.metadata_.label("metadata"),
    Transaction.created_at,
    Transaction.hold_id,
    Transaction.refund_of,
)


async def _with_legs(
    conn: AsyncConnection, heads: Sequence[Row[Any]] | Sequence[Any], owner: int | None
) -> list[TransactionRecord]:
    """Transactions with their legs (for a client token, only its own legs)."""
    if not heads:
        return []
    query = _operations().where(WalletOperation.transaction_id.in_([h.id for h in heads]))
    if owner is not None:
        query = query.join(Wallet, Wallet.id == WalletOperation.wallet_id).where(
            Wallet.client_id == owner
        )
    rows = (
        await conn.execute(
            query.add_columns(WalletOperation.transaction_id).order_by(
                WalletOperation.amount, WalletOperation.id
            )
        )
    ).all()
    legs: dict[int, list[OperationRecord]] = {h.id: [] for h in heads}
    for r in rows:
        legs[r.transaction_id].append(_record(r))
    return [
        TransactionRecord(
            id=h.id,
            number=h.number,
            kind=h.kind,
            currency=h.currency,
            amount=h.amount,
            refunded=h.refunded,
            reference=h.reference,
            metadata=h.metadata,
            created_at=h.created_at,
            hold_id=h.hold_id,
            refund_of=h.refund_of,
            legs=legs[h.id],
        )
        for h in heads
    ]


def _visible_to(owner: int | None) -> ColumnElement[bool]:
    if owner is None:
        return true()
    return Transaction.parties.contains([owner])


async def transaction_by_number(
    conn: AsyncConnection, number: uuid.UUID, owner: int | None
) -> TransactionRecord | None:
    """A transaction with its legs. With ``owner`` set: only if it touches one of that
    client's wallets, and only that client's legs are listed."""
    heads = (
        await conn.execute(select(*_HEAD).where(Transaction.number == number, _visible_to(owner)))
    ).all()
    found = await _with_legs(conn, heads, owner)
    return found[0] if found else None


async def transactions_by_id(
    conn: AsyncConnection, ids: Sequence[int], owner: int | None
) -> dict[int, TransactionRecord]:
    heads = (
        await conn.execute(select(*_HEAD).where(Transaction.id.in_(ids), _visible_to(owner)))
    ).all()
    return {t.id: t for t in await _with_legs(conn, heads, owner)}


async def linked_transactions(
    conn: AsyncConnection,
    *,
    refunds_of: int | None = None,
    hold: int | None = None,
    owner: int | None = None,
) -> list[TransactionRecord]:
    """The refunds of a transaction, or the transactions of a hold, oldest first."""
    link = (
        Transaction.refund_of == refunds_of
        if refunds_of is not None
        else Transaction.hold_id == hold
    )
    heads = (
        await conn.execute(select(*_HEAD).where(link, _visible_to(owner)).order_by(Transaction.id))
    ).all()
    return await _with_legs(conn, heads, owner)


@dataclass(frozen=True, slots=True)
class TransactionFilter:
    reference: str | None = None
    metadata: dict[str, str] | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def transactions_page(
    conn: AsyncConnection,
    where: TransactionFilter,
    *,
    owner: int | None,
    limit: int,
    before_id: int | None,
) -> tuple[list[TransactionRecord], bool]:
    """Up to ``limit`` transactions matching ``where``, newest first, older than ``before_id``.

    Every filter has an index of its own (reference, metadata, kind, time, and the parties a
    client token is limited to); the planner picks the most selective.
    """
    query = select(*_HEAD).where(_visible_to(owner))
    if before_id is not None:
        query = query.where(Transaction.id < before_id)
    if where.reference is not None:
        query = query.where(Transaction.reference == where.reference)
    if where.metadata:
        # The partial index holds only transactions with metadata: say so to the planner.
        query = query.where(
            Transaction.metadata_.contains(where.metadata),
            Transaction.metadata_ != text("'{}'::jsonb"),
        )
    if where.kind is not None:
        query = query.where(Transaction.kind == where.kind)
    if where.since is not None:
        query = query.where(Transaction.created_at >= where.since)
    if where.until is not None:
        query = query.where(Transaction.created_at < where.until)
    heads = (await conn.execute(query.order_by(Transaction.id.desc()).limit(limit + 1))).all()
    return await _with_legs(conn, heads[:limit], owner), len(heads) > limit


async def balance_at(conn: AsyncConnection, wallet_id: int, at: datetime) -> Decimal | None:
    """The wallet's balance at instant ``at`` (None if the wallet did not exist yet).

    One index lookup: the balance left by the last operation at or before ``at``.
    """
    last = (
        select(WalletOperation.balance_after)
        .where(WalletOperation.wallet_id == wallet_id, WalletOperation.created_at <= at)
        .order_by(WalletOperation.created_at.desc(), WalletOperation.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    row = (
        await conn.execute(
            select(
                Wallet.created_at,
                func.coalesce(last, func.round(0, Wallet.exponent)).label("balance"),
            ).where(Wallet.id == wallet_id)
        )
    ).one_or_none()
    if row is None or row.created_at > at:
        return None
    balance: Decimal = row.balance
    return balance
