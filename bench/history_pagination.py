"""History pagination: a page over a huge history costs what a page over a small one costs.

Starts its own embedded PostgreSQL (in a temporary directory, deleted afterwards), fills one
wallet with 1,000,000 operations and another with 100, then times pages of 100 through the
real app (ASGI, full GraphQL stack). Every figure is a ratio to the baseline measured in the
same run: the newest page of the 100-operation wallet.

    python bench/history_pagination.py [--operations 1000000] [--repeat 200]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from billing.app import create_app
from billing.config import Settings
from billing.db.embedded import start_embedded
from billing.db.engine import create_engine
from billing.db.migrate import run_alembic
from billing.domain import tokens
from billing.domain.history import Position
from billing.graphql.history import encode_cursor

PAGE = """
query Page($id: ID!, $first: Int, $after: String, $last: Int, $since: DateTime, $until: DateTime) {
  wallet(id: $id) {
    operations(first: $first, after: $after, last: $last, since: $since, until: $until) {
      edges { cursor node { id kind amount balanceAfter transactionNumber createdAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
BALANCE_AT = "query($id: ID!, $t: DateTime!) { wallet(id: $id) { balanceAt(time: $t) } }"

FILL = """
WITH tx AS (
  INSERT INTO transactions (number, kind, amount, created_at)
  SELECT gen_random_uuid(), 'RESUPPLY', 1.00, now() - make_interval(secs => :n - i)
  FROM generate_series(1, :n) AS i
  RETURNING id, created_at
)
INSERT INTO wallet_operations (transaction_id, wallet_id, amount, balance_after, created_at)
SELECT id, :wallet, 1.00, row_number() OVER (ORDER BY id), created_at FROM tx
"""


async def fill(url: str, operations: int) -> tuple[int, int]:
    engine = create_engine(Settings(statement_timeout_ms=0), url)  # bulk loading takes a while
    try:
        await run_alembic(engine)
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO clients (login, name) VALUES ('big', 'Big')"))
            client = await conn.scalar(text("SELECT max(id) FROM clients"))
            new_wallet = text("INSERT INTO wallets (client_id) VALUES (:c) RETURNING id")
            big = await conn.scalar(new_wallet, {"c": client})
            small = await conn.scalar(new_wallet, {"c": client})
        for wallet, n in ((big, operations), (small, 100)):
            started = time.perf_counter()
            async with engine.begin() as conn:
                await conn.execute(text(FILL), {"n": n, "wallet": wallet})
                await conn.execute(
                    text("UPDATE wallets SET balance = :n WHERE id = :w"), {"n": n, "w": wallet}
                )
            print(f"  wallet {wallet}: {n:,} operations in {time.perf_counter() - started:.1f} s")
        async with engine.connect() as conn:
            await conn.execute(text("COMMIT"))
            await conn.execute(text("ANALYZE"))
        return int(big), int(small)
    finally:
        await engine.dispose()


async def middle_position(url: str, wallet: int, operations: int) -> tuple[str, str]:
    engine = create_engine(Settings(), url)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT id, created_at FROM wallet_operations WHERE wallet_id = :w"
                        " ORDER BY created_at, id OFFSET :k LIMIT 1"
                    ),
                    {"w": wallet, "k": operations // 2},
                )
            ).one()
        return encode_cursor(Position(row.created_at, row.id)), row.created_at.isoformat()
    finally:
        await engine.dispose()


async def timed(call: Callable[[], Awaitable[Any]], repeat: int) -> list[float]:
    for _ in range(5):  # warm-up
        await call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def run(url: str, operations: int, repeat: int) -> None:
    big, small = await fill(url, operations)
    cursor, middle_time = await middle_position(url, big, operations)
    app = create_app(Settings(database_url=url, migrate_on_start=False))
    async with app.router.lifespan_context(app):
        _, secret = await tokens.create_token(app.state.db, kind="OPERATOR", name="bench")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://bench",
            headers={"Authorization": f"Bearer {secret}"},
        ) as client:

            def query(doc: str, variables: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
                async def call() -> None:
                    body = (
                        await client.post("/graphql", json={"query": doc, "variables": variables})
                    ).json()
                    assert "errors" not in body, body
                    edges = body["data"]["wallet"].get("operations", {}).get("edges")
                    assert edges is None or len(edges) == min(100, len(edges)) > 0

                return call

            cases: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                ("baseline: newest 100 of 100", query(PAGE, {"id": str(small), "first": 100})),
                (f"newest 100 of {operations:,}", query(PAGE, {"id": str(big), "first": 100})),
                (
                    f"100 after a cursor {operations // 2:,} deep",
                    query(PAGE, {"id": str(big), "first": 100, "after": cursor}),
                ),
                (f"oldest 100 of {operations:,}", query(PAGE, {"id": str(big), "last": 100})),
                (
                    "100 from a time window in the middle",
                    query(PAGE, {"id": str(big), "first": 100, "until": middle_time}),
                ),
                (
                    "balanceAt, middle of the history",
                    query(BALANCE_AT, {"id": str(big), "t": middle_time}),
                ),
            ]
            results = []
            for name, call in cases:
                samples = await timed(call, repeat)
                results.append((name, statistics.median(samples), _p95(samples)))
    baseline = results[0][1]
    print()
    header = f"case ({repeat} requests each, full HTTP + GraphQL)"
    print(f"| {header} | median ms | p95 ms | ratio to baseline |")
    print("|---|---:|---:|---:|")
    for name, median, p95 in results:
        print(f"| {name} | {median:.2f} | {p95:.2f} | {median / baseline:.2f} |")


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--operations", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="billing-bench-") as tmp:
        print(f"Embedded PostgreSQL in {tmp}; filling ...")
        server = start_embedded(Path(tmp), cleanup_mode="delete")
        asyncio.run(run(server.url(), args.operations, args.repeat))


if __name__ == "__main__":
    main()
