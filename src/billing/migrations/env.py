"""Alembic environment.

`billing migrate` and the app's startup hand over a connection that already holds the
migration lock. The plain `alembic` command (with the repository's alembic.ini) gets none: then
the database comes from the same settings as the service (BILLING_DATABASE_URL, or the embedded
server), under the same lock.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from billing.config import get_settings
from billing.db.engine import create_engine
from billing.db.migrate import migration_connection
from billing.db.models import Base


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_with_own_engine() -> None:
    settings = get_settings()
    url = settings.database_url
    if url is None:
        from billing.db.embedded import start_embedded

        url = start_embedded(settings.data_dir).url()
    engine = create_engine(settings, url)
    context.config.attributes.setdefault("default_currency", settings.default_currency)
    try:
        async with migration_connection(engine) as conn:
            await conn.run_sync(run_migrations)
    finally:
        await engine.dispose()


given = context.config.attributes.get("connection")
if given is not None:
    run_migrations(given)
else:
    asyncio.run(run_with_own_engine())
