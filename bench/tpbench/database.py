"""The benchmark's database: schema, seed data and the checks run after every measurement."""

from __future__ import annotations

import asyncio
import importlib
import secrets
from dataclasses import dataclass
from decimal import Decimal

import asyncpg

from billing.config import Settings
from billing.db.database import Database
from billing.db.engine import create_engine
from billing.db.migrate import run_alembic
from billing.domain.audit import audit
from tpbench.common import SEED_BALANCE, Wallets, money

SEED_CLIENTS = """
INSERT INTO clients (login, name)
SELECT $1 || i, 'Bench client ' || i FROM generate_series(1, $2::int) AS i
"""
SEED_WALLETS = """
INSERT INTO wallets (client_id, balance)
SELECT id, $2::numeric FROM clients WHERE login LIKE $1 || '%' ORDER BY id
RETURNING id
"""
# Each opening balance is a RESUPPLY with its one leg, so the ledger audits clean from the start.
SEED_LEDGER = """
WITH tx AS (
  INSERT INTO transactions (number, kind, amount, reference)
  SELECT gen_random_uuid(), 'RESUPPLY', $3::numeric, 'bench opening balance ' || w
  FROM generate_series($1::bigint, $2::bigint) AS w
  RETURNING id, reference
)
INSERT INTO wallet_operations (transaction_id, wallet_id, amount, balance_after)
SELECT id, split_part(reference, ' ', 4)::bigint, $3::numeric, $3::numeric FROM tx
"""

# One snapshot: conservation (every balance comes from a resupply), no negative balance, and the
# legs of every transaction written since ``$1``.
CHECK = """
SELECT
  (SELECT coalesce(sum(balance), 0) FROM wallets) AS balances,
  (SELECT coalesce(sum(amount), 0) FROM transactions WHERE kind = 'RESUPPLY') AS resupplied,
  (SELECT count(*) FROM wallets WHERE balance < 0) AS negative,
  (SELECT count(*) FROM transactions WHERE id > $1) AS committed,
  (SELECT count(*) FROM (
     SELECT t.id FROM transactions t LEFT JOIN wallet_operations o ON o.transaction_id = t.id
     WHERE t.id > $1
     GROUP BY t.id
     HAVING (t.kind = 'TRANSFER' AND (count(o.id) <> 2 OR coalesce(sum(o.amount), 0) <> 0
                                      OR max(o.amount) <> t.amount))
         OR (t.kind = 'RESUPPLY' AND (count(o.id) <> 1
                                      OR coalesce(sum(o.amount), 0) <> t.amount))
  ) AS bad) AS broken
"""


async def prepare(url: str, wallets: int) -> Wallets:
    """Migrate, then bulk-insert ``wallets`` clients, each with one funded wallet."""
    engine = create_engine(Settings(statement_timeout_ms=0), url)
    try:
        await run_alembic(engine)
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(dsn(url))
    try:
        prefix = f"bench-{secrets.token_hex(4)}-"
        async with conn.transaction():
            await conn.execute(SEED_CLIENTS, prefix, wallets)
            ids = [r["id"] for r in await conn.fetch(SEED_WALLETS, prefix, money(SEED_BALANCE))]
            first, last = min(ids), max(ids)
            if last - first + 1 != wallets:
                raise RuntimeError("the seeded wallet ids are not contiguous; use an idle database")
            await conn.execute(SEED_LEDGER, first, last, money(SEED_BALANCE))
        await conn.execute("ANALYZE")
        await conn.execute("CHECKPOINT")
        return Wallets(first=first, count=wallets)
    finally:
        await conn.close()


def dsn(url: str) -> str:
    """The libpq/asyncpg form of a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@dataclass(frozen=True)
class Check:
    committed: int  # transactions written since the mark
    conserved: bool
    detail: str


class Monitor:
    """A connection of its own for marks, checks and waits between measurements."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    @classmethod
    async def open(cls, url: str) -> Monitor:
        conn = await asyncpg.connect(dsn(url), server_settings={"application_name": "bench"})
        return cls(conn)

    async def close(self) -> None:
        await self._conn.close()

    async def mark(self) -> int:
        """The newest transaction id now: what a run writes comes after it."""
        value = await self._conn.fetchval("SELECT coalesce(max(id), 0) FROM transactions")
        return int(value)

    async def checkpoint(self) -> None:
        """Flush dirty pages now rather than in the middle of the next measurement."""
        await self._conn.execute("CHECKPOINT")

    async def check(self, since: int) -> Check:
        async with self._conn.transaction(isolation="repeatable_read", readonly=True):
            row = await self._conn.fetchrow(CHECK, since)
        assert row is not None
        balances: Decimal = row["balances"]
        resupplied: Decimal = row["resupplied"]
        problems = []
        if balances != resupplied:
            problems.append(f"balances total {balances}, resupplies total {resupplied}")
        if row["negative"]:
            problems.append(f"{row['negative']} negative balance(s)")
        if row["broken"]:
            problems.append(f"{row['broken']} transaction(s) with wrong legs")
        return Check(
            committed=int(row["committed"]),
            conserved=not problems,
            detail="; ".join(problems) or f"total {balances} conserved",
        )

    async def wait_idle(self, application_name: str, patience: float = 15.0) -> bool:
        """Wait until no session of ``application_name`` is busy (stragglers of the last run)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + patience
        while loop.time() < give_up:
            busy = await self._conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = $1 AND state NOT IN ('idle')",
                application_name,
            )
            if not busy:
                return True
            await asyncio.sleep(0.05)
        return False

    async def server_version(self) -> str:
        return str(await self._conn.fetchval("SHOW server_version"))


async def operator_token(url: str) -> str | None:
    """A bearer token for the API, if this version of it has tokens; None if it has none.

    Looked up at run time (``billing.domain.tokens.create_token``), so the benchmark runs against
    versions of the service with and without authentication.
    """
    try:
        tokens = importlib.import_module("billing.domain.tokens")
    except ImportError:
        return None
    engine = create_engine(Settings(), url)
    try:
        _, secret = await tokens.create_token(
            Database(engine), kind="OPERATOR", name="throughput benchmark"
        )
    finally:
        await engine.dispose()
    return str(secret)


async def full_audit(url: str) -> tuple[bool, str]:
    """The service's own ledger audit over everything the benchmark wrote."""
    engine = create_engine(Settings(statement_timeout_ms=0), url)
    try:
        report = await audit(engine)
    finally:
        await engine.dispose()
    return report.ok, report.render()
