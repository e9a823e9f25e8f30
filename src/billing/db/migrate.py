"""Alembic migrations, shipped in the package, applied under an advisory lock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from billing.db.faults import Fault, classify

log = logging.getLogger(__name__)

# pg_advisory_xact_lock(int, int) keys: a key space apart from the single-bigint wallet locks.
MIGRATION_LOCK = (0x62696C6C, 1)  # "bill", 1

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


@asynccontextmanager
async def migration_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction holding the migration lock; concurrent migrators wait for each other.

    READ COMMITTED, not the engine's SERIALIZABLE: a worker that waited on the lock must see the
    version table that the first worker just committed.
    """
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="READ COMMITTED")
        async with conn.begin():
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:a, :b)"),
                {"a": MIGRATION_LOCK[0], "b": MIGRATION_LOCK[1]},
            )
            yield conn


async def run_alembic(
    engine: AsyncEngine,
    action: str = "upgrade",
    revision: str = "head",
    *,
    default_currency: str = "USD",
) -> None:
    """Upgrade (or downgrade) the schema under the migration lock. Wallets made before
    currencies existed get ``default_currency``."""

    def _run(sync_conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        cfg.attributes["default_currency"] = default_currency
        getattr(command, action)(cfg, revision)

    async with migration_connection(engine) as conn:
        await conn.run_sync(_run)


def migrations_head() -> str | None:
    """The newest migration this version of the code ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(conn: AsyncConnection) -> str | None:
    """The schema's migration revision (None before the first migration)."""
    exists = await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
    if not exists:
        return None
    rev: str | None = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    return rev


async def migrate_when_reachable(
    engine: AsyncEngine, done: asyncio.Event, default_currency: str = "USD"
) -> None:
    """Apply the migrations as soon as the database answers, then set ``done``.

    While the database cannot be reached this tries again, at growing intervals up to 5 s, and
    says so once in the log. Any other failure is logged and ends the attempts: ``done`` stays
    unset and ``/readyz`` keeps reporting the schema it finds.
    """
    pause = 0.5
    waiting = False
    while True:
        try:
            await run_alembic(engine, default_currency=default_currency)
        except Exception as exc:
            if classify(exc) is not Fault.UNAVAILABLE:
                log.exception("the migrations failed; the service will not become ready")
                return
            if not waiting:
                log.warning("migrations wait for the database, which does not answer: %r", exc)
                waiting = True
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)
            continue
        if waiting:
            log.warning("the database answers again; migrations applied")
        done.set()
        return
