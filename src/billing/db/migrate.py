"""Alembic migrations, shipped in the package, applied under an advisory lock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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


async def run_alembic(engine: AsyncEngine, action: str = "upgrade", revision: str = "head") -> None:
    """Upgrade (or downgrade) the schema under the migration lock."""

    def _run(sync_conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        getattr(command, action)(cfg, revision)

    async with migration_connection(engine) as conn:
        await conn.run_sync(_run)


def migrations_head() -> str | None:
    """The newest migration this version of the code ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        exists = await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
        if not exists:
            return None
        rev: str | None = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        return rev
