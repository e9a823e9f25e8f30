"""Batched reads for the API's loaders: one query per kind of object per request."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.models import Client, Wallet
from billing.domain.records import ClientRecord, WalletRecord


async def clients_by_id(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, ClientRecord]:
    rows = await conn.execute(
        select(Client.id, Client.login, Client.name).where(Client.id.in_(ids))
    )
    return {r.id: ClientRecord(id=r.id, login=r.login, name=r.name) for r in rows}


async def wallets_by_id(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, WalletRecord]:
    rows = await conn.execute(
        select(Wallet.id, Wallet.client_id, Wallet.balance).where(Wallet.id.in_(ids))
    )
    return {r.id: WalletRecord(id=r.id, client_id=r.client_id, balance=r.balance) for r in rows}


async def wallets_by_client(
    conn: AsyncConnection, client_ids: Sequence[int]
) -> dict[int, list[WalletRecord]]:
    rows = await conn.execute(
        select(Wallet.id, Wallet.client_id, Wallet.balance)
        .where(Wallet.client_id.in_(client_ids))
        .order_by(Wallet.id)
    )
    found: dict[int, list[WalletRecord]] = {cid: [] for cid in client_ids}
    for r in rows:
        found[r.client_id].append(WalletRecord(id=r.id, client_id=r.client_id, balance=r.balance))
    return found
