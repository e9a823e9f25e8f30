"""Making an API request meet another transaction's row lock, on purpose."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg

from support.api import Api


async def resupply_past_a_competing_update(
    api: Api,
    sql: asyncpg.Connection,
    dsn: str,
    wallet: str,
    resupply: Callable[[], Coroutine[Any, Any, Any]] | None = None,
) -> Any:
    """Resupply 1.00 (by GraphQL, or by ``resupply``) while another SERIALIZABLE transaction,
    which has already added 5 to the wallet, commits only once the API's request waits for the
    row lock."""
    other = await asyncpg.connect(dsn)
    try:
        await other.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
        await other.execute("UPDATE wallets SET balance = balance + 5 WHERE id = $1", int(wallet))
        send = resupply or (lambda: api.resupply(wallet, "1.00"))
        request = asyncio.create_task(send())
        await wait_until_api_waits_for_a_lock(sql)
        await other.execute("COMMIT")
        return await asyncio.wait_for(request, timeout=10)
    finally:
        await other.close()


async def wait_until_api_waits_for_a_lock(sql: asyncpg.Connection) -> None:
    for _ in range(500):
        waiting = await sql.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'billing-api'"
            " AND datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the API request never waited for the row lock")
