"""The committed schema file and the migrations match the code."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import graphql
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

from billing.app import create_app
from billing.config import Settings
from billing.db.database import Database
from billing.db.engine import create_engine
from billing.db.migrate import current_revision, run_alembic
from billing.db.models import Base
from billing.domain.audit import audit
from billing.graphql.schema import schema
from support.api import api_for, new_token
from support.postgres import HEAD, PgServer

ROOT = Path(__file__).resolve().parent.parent

# Rows as the first revision's code wrote them: two clients, a resupply and a transfer.
CORE_ERA_DATA = [
    "INSERT INTO clients (id, login, name) OVERRIDING SYSTEM VALUE"
    " VALUES (1, 'old', 'Old Timer'), (2, 'older', 'Older')",
    "INSERT INTO wallets (id, client_id, balance) OVERRIDING SYSTEM VALUE"
    " VALUES (1, 1, 60.00), (2, 2, 40.00)",
    "INSERT INTO transactions (id, number, kind, amount) OVERRIDING SYSTEM VALUE"
    " VALUES (1, 'aaaaaaaa-0000-4000-8000-000000000001', 'RESUPPLY', 100.00),"
    " (2, 'aaaaaaaa-0000-4000-8000-000000000002', 'TRANSFER', 40.00)",
    "INSERT INTO wallet_operations (transaction_id, wallet_id, amount, balance_after)"
    " VALUES (1, 1, 100.00, 100.00), (2, 1, -40.00, 60.00), (2, 2, 40.00, 40.00)",
    "SELECT setval(pg_get_serial_sequence(t, 'id'), 10)"
    " FROM unnest(ARRAY['clients', 'wallets', 'transactions', 'wallet_operations']) AS t",
]


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
        assert await Database(engine).read_one(current_revision) is None
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
        assert await Database(engine).read_one(current_revision) == HEAD

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
        assert await Database(engines[0]).read_one(current_revision) == HEAD
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


async def test_upgrade_keeps_core_data_readable_as_history(
    pg_server: PgServer, database: str
) -> None:
    # given: a database at the first revision holding data written by that version
    engine = create_engine(Settings(), pg_server.url(database))
    try:
        await run_alembic(engine, "downgrade", "0001")
        async with engine.begin() as conn:
            for statement in CORE_ERA_DATA:
                await conn.execute(text(statement))
        # when
        await run_alembic(engine)
    finally:
        await engine.dispose()
    app = create_app(
        Settings(database_url=pg_server.url(database), migrate_on_start=False, pool_size=2)
    )
    async with app.router.lifespan_context(app), api_for(app, await new_token(app)) as api:
        # then: the old operations read as history, with counterparties and no reference
        data = await api.run(
            "{ wallet(id: 1) { operations { edges { node {"
            " kind amount balanceAfter reference counterpartyWallet { id } } } } } }"
        )
        nodes = [e["node"] for e in data["wallet"]["operations"]["edges"]]
        assert nodes == [
            {
                "kind": "TRANSFER_OUT",
                "amount": "-40.00",
                "balanceAfter": "60.00",
                "reference": None,
                "counterpartyWallet": {"id": "2"},
            },
            {
                "kind": "RESUPPLY",
                "amount": "100.00",
                "balanceAfter": "100.00",
                "reference": None,
                "counterpartyWallet": None,
            },
        ]
        # and the old wallets hold the default currency, nothing held, every invariant kept
        wallets = await api.run("{ wallets(ids: [1, 2]) { currency balance held available } }")
        assert wallets["wallets"] == [
            {"currency": "USD", "balance": "60.00", "held": "0.00", "available": "60.00"},
            {"currency": "USD", "balance": "40.00", "held": "0.00", "available": "40.00"},
        ]
        assert (await audit(app.state.db.engine)).ok
        # and new operations with keys work on the upgraded database
        done = await api.run(
            'mutation { resupply(input: {walletId: "2", amount: "1", idempotencyKey: "k"})'
            " { ... on ResupplySuccess { walletBalance } } }"
        )
        assert done["resupply"] == {"walletBalance": "41.00"}


def test_every_mutation_result_offers_the_errors_any_mutation_can_meet() -> None:
    common = {
        "InvalidInput",
        "IdempotencyKeyReused",
        "PermissionDenied",
        "TryAgain",
        "ServiceUnavailable",
        "OutcomeUnknown",
    }
    sdl = graphql.build_schema(schema.as_str())
    assert sdl.mutation_type is not None
    for name, field in sdl.mutation_type.fields.items():
        result = graphql.get_named_type(field.type)
        assert isinstance(result, graphql.GraphQLUnionType), name
        members = {member.name for member in result.types}
        assert common <= members, (name, common - members)
