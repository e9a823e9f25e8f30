"""Alembic environment: runs on the connection handed over by billing.db.migrate."""

from __future__ import annotations

from alembic import context

from billing.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `billing migrate` (it supplies the connection)")

context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
