"""Reading the ledger straight from the database: the money it holds, and whether it adds up."""

from __future__ import annotations

from decimal import Decimal

import asyncpg


async def total(sql: asyncpg.Connection) -> Decimal:
    value = await sql.fetchval("SELECT coalesce(sum(balance), 0) FROM wallets")
    assert isinstance(value, Decimal)
    return value


async def assert_ledger_consistent(sql: asyncpg.Connection) -> None:
    """Each balance equals the sum of its operations; each transfer's legs sum to zero."""
    drift = await sql.fetch(
        "SELECT w.id FROM wallets w LEFT JOIN wallet_operations o ON o.wallet_id = w.id"
        " GROUP BY w.id, w.balance HAVING w.balance <> coalesce(sum(o.amount), 0)"
    )
    assert drift == []
    unbalanced = await sql.fetch(
        "SELECT t.id FROM transactions t JOIN wallet_operations o ON o.transaction_id = t.id"
        " WHERE t.kind = 'TRANSFER' GROUP BY t.id HAVING sum(o.amount) <> 0"
    )
    assert unbalanced == []
    negative = await sql.fetchval("SELECT count(*) FROM wallets WHERE balance < 0")
    assert negative == 0
