"""Batched reads for the API's loaders: one query per kind of object per request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.models import Client, Transaction, Wallet
from billing.domain.records import ClientRecord, WalletRecord


async def clients_by_id(
    conn: AsyncConnection, ids: Sequence[int], owner: int | None
) -> dict[int, ClientRecord]:
    """Clients by id; with ``owner`` set, only that client can be found."""
    query = select(Client.id, Client.login, Client.name).where(Client.id.in_(ids))
    if owner is not None:
        query = query.where(Client.id == owner)
    rows = await conn.execute(query)
    return {r.id: ClientRecord(id=r.id, login=r.login, name=r.name) for r in rows}


async def wallets_by_id(
    conn: AsyncConnection, ids: Sequence[int], owner: int | None
) -> dict[int, WalletRecord]:
    """Wallets by id; with ``owner`` set, only that client's wallets can be found."""
    query = select(Wallet.id, Wallet.client_id, Wallet.balance).where(Wallet.id.in_(ids))
    if owner is not None:
        query = query.where(Wallet.client_id == owner)
    rows = await conn.execute(query)
    return {r.id: WalletRecord(id=r.id, client_id=r.client_id, balance=r.balance) for r in rows}


async def wallets_by_client(
    conn: AsyncConnection, client_ids: Sequence[int], owner: int | None
) -> dict[int, list[WalletRecord]]:
    """Each client's wallets; with ``owner`` set, other clients have none."""
    query = select(Wallet.id, Wallet.client_id, Wallet.balance).where(
        Wallet.client_id.in_(client_ids)
    )
    if owner is not None:
        query = query.where(Wallet.client_id == owner)
    rows = await conn.execute(query.order_by(Wallet.id))
    found: dict[int, list[WalletRecord]] = {cid: [] for cid in client_ids}
    for r in rows:
        found[r.client_id].append(WalletRecord(id=r.id, client_id=r.client_id, balance=r.balance))
    return found


@dataclass(frozen=True, slots=True)
class LedgerTotals:
    wallets: int
    total_balance: Decimal
    total_resupplied: Decimal


async def ledger_totals(conn: AsyncConnection) -> LedgerTotals:
    """Totals over the whole ledger, from the caller's snapshot."""
    row = (
        await conn.execute(
            select(
                select(func.count()).select_from(Wallet).scalar_subquery().label("wallets"),
                select(func.coalesce(func.sum(Wallet.balance), 0))
                .scalar_subquery()
                .label("balance"),
                select(func.coalesce(func.sum(Transaction.amount), 0))
                .where(Transaction.kind == "RESUPPLY")
                .scalar_subquery()
                .label("resupplied"),
            )
        )
    ).one()
    return LedgerTotals(row.wallets, row.balance, row.resupplied)
