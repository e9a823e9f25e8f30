"""Batched reads for the API's loaders: one query per kind of object per request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.statements import Record, Statement, fetch
from billing.domain.posting import WALLET_COLUMNS
from billing.domain.records import ClientRecord, WalletRecord

_OWNER = "(CAST(:owner AS bigint) IS NULL OR {column} = :owner)"
_CLIENTS_BY_ID = Statement(
    "SELECT c.id, c.login, c.name FROM clients AS c WHERE c.id = ANY(CAST(:ids AS bigint[]))"
    f" AND {_OWNER.format(column='c.id')}"
)
_WALLETS_BY_ID = Statement(
    f"SELECT {WALLET_COLUMNS} FROM wallets AS w WHERE w.id = ANY(CAST(:ids AS bigint[]))"
    f" AND {_OWNER.format(column='w.client_id')}"
)
_WALLETS_BY_CLIENT = Statement(
    f"SELECT {WALLET_COLUMNS} FROM wallets AS w"
    " WHERE w.client_id = ANY(CAST(:ids AS bigint[]))"
    f" AND {_OWNER.format(column='w.client_id')} ORDER BY w.id"
)


async def clients_by_id(
    conn: AsyncConnection, ids: Sequence[int], owner: int | None
) -> dict[int, ClientRecord]:
    """Clients by id; with ``owner`` set, only that client can be found."""
    rows = await fetch(conn, _CLIENTS_BY_ID, {"ids": list(ids), "owner": owner})
    return {r.id: ClientRecord(id=r.id, login=r.login, name=r.name) for r in rows}


def _wallet(r: Record) -> WalletRecord:
    return WalletRecord(
        id=r.id, client_id=r.client_id, currency=r.currency, balance=r.balance, held=r.held
    )


async def wallets_by_id(
    conn: AsyncConnection, ids: Sequence[int], owner: int | None
) -> dict[int, WalletRecord]:
    """Wallets by id; with ``owner`` set, only that client's wallets can be found."""
    rows = await fetch(conn, _WALLETS_BY_ID, {"ids": list(ids), "owner": owner})
    return {r.id: _wallet(r) for r in rows}


async def wallets_by_client(
    conn: AsyncConnection, client_ids: Sequence[int], owner: int | None
) -> dict[int, list[WalletRecord]]:
    """Each client's wallets; with ``owner`` set, other clients have none."""
    rows = await fetch(conn, _WALLETS_BY_CLIENT, {"ids": list(client_ids), "owner": owner})
    found: dict[int, list[WalletRecord]] = {cid: [] for cid in client_ids}
    for r in rows:
        found[r.client_id].append(_wallet(r))
    return found


@dataclass(frozen=True, slots=True)
class CurrencyTotals:
    currency: str
    wallets: int
    total_balance: Decimal
    total_held: Decimal
    total_resupplied: Decimal
    total_withdrawn: Decimal


@dataclass(frozen=True, slots=True)
class LedgerTotals:
    wallets: int
    currencies: list[CurrencyTotals]


_TOTALS = text(f"""
WITH w AS (SELECT {WALLET_COLUMNS}, w.exponent FROM wallets AS w),
     balances AS (
       SELECT currency, count(*) AS wallets, sum(balance) AS balance, sum(held) AS held,
              min(exponent) AS exponent
       FROM w GROUP BY currency
     ),
     flows AS (
       SELECT currency,
              sum(amount) FILTER (WHERE kind = 'RESUPPLY') AS resupplied,
              sum(amount) FILTER (WHERE kind = 'WITHDRAWAL') AS withdrawn
       FROM transactions WHERE kind IN ('RESUPPLY', 'WITHDRAWAL') GROUP BY currency
     )
SELECT b.currency, b.wallets, b.balance, b.held,
       round(coalesce(f.resupplied, 0), b.exponent) AS resupplied,
       round(coalesce(f.withdrawn, 0), b.exponent) AS withdrawn
FROM balances AS b LEFT JOIN flows AS f ON f.currency = b.currency
ORDER BY b.currency
""")


async def ledger_totals(conn: AsyncConnection) -> LedgerTotals:
    """Totals over the whole ledger, per currency, from the caller's snapshot."""
    rows = (await conn.execute(_TOTALS)).all()
    per = [
        CurrencyTotals(r.currency, r.wallets, r.balance, r.held, r.resupplied, r.withdrawn)
        for r in rows
    ]
    return LedgerTotals(wallets=sum(c.wallets for c in per), currencies=per)
