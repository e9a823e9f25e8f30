"""The committed schema file and the migrations match the code."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

from billing.config import Settings
from billing.db.engine import create_engine
from billing.db.migrate import current_revision, run_alembic
from billing.db.models import Base
from billing.graphql.schema import schema
from conftest import HEAD, PgServer

ROOT = Path(__file__).resolve().parent.parent


def test_committed_schema_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == schema.as_str() + "\n", (
        "schema.graphql is stale: run `billing export-schema -o schema.graphql`"
    )


async def test_migrations_apply_to_an_empty_database_and_downgrade_to_base(
    pg_server: PgServer, database: str
) -> None:
    # given: the test database, emptied back to base
    engine = create_engine(Settings(), pg_server.url(database))
    try:
        await run_alembic(engine, "downgrade", "base")
        assert await current_revision(engine) is None
        async with engine.connect() as conn:
            tables = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                    " AND tablename <> 'alembic_version'"
                )
            )
        assert tables == 0
        # when
        await run_alembic(engine)
        # then
        assert await current_revision(engine) == HEAD

        def diff(sync_conn: Connection) -> list[object]:
            context = MigrationContext.configure(sync_conn)
            return list(compare_metadata(context, Base.metadata))

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_concurrent_migrations_do_not_race(pg_server: PgServer, database: str) -> None:
    # given: an empty database and four processes' worth of engines starting at once
    engines = [create_engine(Settings(), pg_server.url(database)) for _ in range(4)]
    try:
        await run_alembic(engines[0], "downgrade", "base")
        # when
        await asyncio.gather(*(run_alembic(e) for e in engines))
        # then
        assert await current_revision(engines[0]) == HEAD
    finally:
        for e in engines:
            await e.dispose()


def test_plain_alembic_command_downgrades_and_upgrades(pg_server: PgServer, database: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    env["BILLING_DATABASE_URL"] = pg_server.dsn(database)

    def alembic(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "alembic", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr

    alembic("downgrade", "base")
    assert "(head)" not in alembic("current")
    alembic("upgrade", "head")
    assert f"{HEAD} (head)" in alembic("current")
