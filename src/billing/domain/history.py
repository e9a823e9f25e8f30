"""Reading the ledger: a wallet's operations, a transaction's legs, a balance at an instant.

Operations are listed newest first, ordered by (created_at, id) and paged by keyset on the
index (wallet_id, created_at, id): a page costs the same however long the history is, and a
position stays valid while new operations arrive.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Select, and_, select, tuple_
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

    @property
    def kind(self) -> str:
        if self.transaction_kind == "RESUPPLY":
            return "RESUPPLY"
        return "TRANSFER_OUT" if self.amount < 0 else "TRANSFER_IN"

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
    number: uuid.UUID
    kind: str
    amount: Decimal
    reference: str | None
    created_at: datetime
    legs: list[OperationRecord]


@dataclass(frozen=True, slots=True)
class Page:
    operations: list[OperationRecord]  # newest first
    has_newer: bool
    has_older: bool


def _operations() -> Select[*tuple[Any, ...]]:
    other = aliased(WalletOperation)
    return (
        select(
            WalletOperation.id,
            WalletOperation.wallet_id,
            WalletOperation.amount,
            WalletOperation.balance_after,
            WalletOperation.created_at,
            Transaction.number,
            Transaction.kind,
            Transaction.reference,
            other.wallet_id.label("counterparty"),
        )
        .join(Transaction, Transaction.id == WalletOperation.transaction_id)
        .outerjoin(
            other,
            and_(
                other.transaction_id == WalletOperation.transaction_id,
                other.id != WalletOperation.id,
            ),
        )
    )


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


async def transaction_by_number(
    conn: AsyncConnection, number: uuid.UUID, owner: int | None
) -> TransactionRecord | None:
    """A transaction with its legs. With ``owner`` set: only if one of its legs is that
    client's, and only that client's legs are listed."""
    head = (
        await conn.execute(
            select(
                Transaction.id,
                Transaction.kind,
                Transaction.amount,
                Transaction.reference,
                Transaction.created_at,
            ).where(Transaction.number == number)
        )
    ).one_or_none()
    if head is None:
        return None
    query = _operations().where(WalletOperation.transaction_id == head.id)
    if owner is not None:
        query = query.join(Wallet, Wallet.id == WalletOperation.wallet_id).where(
            Wallet.client_id == owner
        )
    rows = (await conn.execute(query.order_by(WalletOperation.amount))).all()
    if not rows:
        return None
    return TransactionRecord(
        number=number,
        kind=head.kind,
        amount=head.amount,
        reference=head.reference,
        created_at=head.created_at,
        legs=[_record(r) for r in rows],
    )


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
            select(Wallet.created_at, last.label("balance")).where(Wallet.id == wallet_id)
        )
    ).one_or_none()
    if row is None or row.created_at > at:
        return None
    balance: Decimal = row.balance if row.balance is not None else Decimal("0.00")
    return balance
