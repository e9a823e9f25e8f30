"""The `transactions` query is served by an index for every filter, never by a scan of the
whole table: its plans are read from PostgreSQL itself, over a table of a few thousand rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event
from starlette.applications import Starlette

from support.api import Api, api_for, new_token

ROWS = 4000
QUERY = """
query($filter: TransactionFilter) { transactions(filter: $filter, first: 5) { edges { node {
  kind reference } } } }
"""
# Each filter, and the index a selective one must be served by (None: any index will do, as
# when a page of the newest rows is found at once by walking the primary key backwards).
FILTERS: list[tuple[dict[str, Any] | None, str | None]] = [
    (None, None),
    ({"reference": "order-1234"}, "ix_transactions_reference"),
    ({"metadata": {"order": "o-77"}}, "ix_transactions_metadata"),
    ({"kind": "WITHDRAWAL"}, None),
    (
        {"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"},
        "ix_transactions_created_at",
    ),
]


@pytest.fixture
def pages(app: Starlette) -> Iterator[list[tuple[str, Any]]]:
    """The page statements the app sends (the SQL and its parameters, as the driver got them)."""
    seen: list[tuple[str, Any]] = []
    engine = app.state.db.engine.sync_engine

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "FROM transactions" in statement and "ORDER BY transactions.id DESC" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


async def test_every_filter_is_served_by_an_index(
    app: Starlette, api: Api, sql: asyncpg.Connection, pages: list[tuple[str, Any]]
) -> None:
    # given: a ledger of a few thousand transactions of every kind, over a year, of 100 clients
    clients = [
        row["id"]
        for row in await sql.fetch(
            "INSERT INTO clients (login, name) SELECT 'plan-' || g, 'Plan' "
            "FROM generate_series(1, 100) AS g RETURNING id"
        )
    ]
    await sql.execute(
        """
        INSERT INTO transactions (number, kind, currency, amount, reference, metadata, parties,
                                  created_at)
        SELECT gen_random_uuid(),
               (ARRAY['RESUPPLY', 'TRANSFER', 'SPLIT', 'WITHDRAWAL'])[1 + g % 4], 'USD', 1.00,
               'order-' || g, jsonb_build_object('order', 'o-' || g),
               ARRAY[($2::bigint[])[1 + g % 100], ($2::bigint[])[1 + (g + 1) % 100]],
               now() - g * interval '2 hours'
        FROM generate_series(1, $1) AS g
        """,
        ROWS,
        clients,
    )
    await sql.execute("ANALYZE transactions")
    # when: an operator and a client token page through them with each filter
    for variables, _ in FILTERS:
        await api.run(QUERY, {"filter": variables})
    async with api_for(app, await new_token(app, client_id=clients[6])) as client:
        await client.run(QUERY, {"filter": None})
    # then: PostgreSQL plans each page statement with an index (a selective filter with its
    # own), and never reads the table whole
    expected = [index for _, index in FILTERS] + [None]
    assert len(pages) == len(expected)
    for (statement, parameters), index in zip(pages, expected, strict=True):
        plan = "\n".join(row[0] for row in await sql.fetch("EXPLAIN " + statement, *parameters))
        assert "Index" in plan, plan
        assert "Seq Scan on transactions" not in plan, plan
        assert index is None or index in plan, plan
