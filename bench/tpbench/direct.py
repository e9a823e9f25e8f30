"""Baseline (b): the API's SQL from Python over asyncpg, without HTTP or GraphQL.

Run as a process of its own (``python -m tpbench.direct ...`` with ``bench/`` on the path) so
its CPU is measured apart from everything else; prints one JSON object on stdout.

Each of N clients has its own connection and loops until the time is up: pick wallets at
random, run the operation with the API's retry policy (serialization failures and deadlocks
retried with exponential backoff and full jitter, at most ``retry_max_attempts`` attempts within
the deadline; what is left is a failure, as TryAgain is for the API).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from decimal import Decimal

import asyncpg

from billing.config import Settings
from billing.db.database import RetryPolicy
from billing.domain.money import MAX_BALANCE
from tpbench import sql
from tpbench.common import AMOUNT, SUCCESS, Kind, Load, money, percentile

RETRYABLE = frozenset({"40001", "40P01"})


class Refused(Exception):
    """A conditional update matched no row: the typed error the API would answer."""

    def __init__(self, typename: str) -> None:
        super().__init__(typename)
        self.typename = typename


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds
    retries: int = 0


async def transfer(
    conn: asyncpg.Connection, source: int, target: int, amount: Decimal, gated: bool
) -> None:
    if gated:
        await conn.fetchval(sql.LOCK_TWO, *sorted((source, target)))
    try:
        rows = await conn.fetch(
            sql.TRANSFER, source, target, None, amount, MAX_BALANCE - amount, uuid.uuid4(),
            None, None, None, None,
        )  # fmt: skip
    finally:
        if gated:
            await conn.fetchval(sql.UNLOCK_ALL)
    if rows[0]["transaction_id"] is None:
        balance = rows[0]["source_balance"]
        raise Refused("InsufficientFunds" if balance < amount else "BalanceLimitExceeded")


async def resupply(conn: asyncpg.Connection, wallet: int, amount: Decimal, gated: bool) -> None:
    if gated:
        await conn.fetchval(sql.LOCK_ONE, wallet)
    try:
        rows = await conn.fetch(
            sql.RESUPPLY, wallet, amount, MAX_BALANCE - amount, uuid.uuid4(), None, None, None,
            None,
        )  # fmt: skip
    finally:
        if gated:
            await conn.fetchval(sql.UNLOCK_ALL)
    if rows[0]["transaction_id"] is None:
        raise Refused("BalanceLimitExceeded")


async def read(conn: asyncpg.Connection, wallet: int) -> None:
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await conn.fetch(sql.READ_WALLETS, [wallet])
    if not rows:
        raise Refused("null")


async def client(
    conn: asyncpg.Connection,
    *,
    kind: Kind,
    first: int,
    count: int,
    stop_at: float,
    policy: RetryPolicy,
    rng: random.Random,
    tally: Tally,
    gated: bool,
) -> None:
    amount = money(AMOUNT)
    loop = asyncio.get_running_loop()
    while loop.time() < stop_at:
        a = first + rng.randrange(count)
        b = first + rng.randrange(count - 1) if count > 1 else a
        if b >= a and count > 1:
            b += 1
        started = loop.time()
        give_up_at = started + policy.deadline
        attempt = 0
        while True:
            attempt += 1
            try:
                if kind == "transfer":
                    await transfer(conn, a, b, amount, gated)
                elif kind == "resupply":
                    await resupply(conn, a, amount, gated)
                else:
                    await read(conn, a)
                outcome = SUCCESS[kind]
            except Refused as exc:
                outcome = exc.typename
            except asyncpg.PostgresError as exc:
                if getattr(exc, "sqlstate", None) not in RETRYABLE:
                    raise
                pause = policy.backoff(attempt)
                if attempt >= policy.max_attempts or loop.time() + pause > give_up_at:
                    outcome = "TryAgain"
                else:
                    tally.retries += 1
                    await asyncio.sleep(pause)
                    continue
            break
        tally.latencies.append(loop.time() - started)
        tally.outcomes[outcome] += 1


async def run(args: argparse.Namespace) -> Load:
    settings = Settings()
    policy = RetryPolicy(
        max_attempts=settings.retry_max_attempts,
        base_delay=settings.retry_base_delay,
        max_delay=settings.retry_max_delay,
    )
    server_settings = {
        "application_name": "bench-direct",
        "default_transaction_isolation": "serializable",  # as the API's connections
    }
    conns = [
        await asyncpg.connect(args.dsn, server_settings=server_settings)
        for _ in range(args.clients)
    ]
    try:
        tally = Tally()
        cpu_at_start = time.process_time()
        loop = asyncio.get_running_loop()
        started = loop.time()
        stop_at = started + args.duration
        await asyncio.gather(
            *(
                client(
                    conn,
                    kind=args.kind,
                    first=args.first,
                    count=args.count,
                    stop_at=stop_at,
                    policy=policy,
                    rng=random.Random(args.seed * 1000 + i),  # load, not secrets
                    tally=tally,
                    gated=args.gated,
                )
                for i, conn in enumerate(conns)
            )
        )
        seconds = loop.time() - started
    finally:
        for conn in conns:
            await conn.close()
    ms = sorted(t * 1000 for t in tally.latencies)
    return Load(
        requests=len(ms),
        seconds=seconds,
        counts=dict(tally.outcomes),
        p50_ms=percentile(ms, 50),
        p95_ms=percentile(ms, 95),
        p99_ms=percentile(ms, 99),
        max_ms=ms[-1] if ms else 0.0,
        retries=tally.retries,
        generator_cpu_s=time.process_time() - cpu_at_start,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="asyncpg baseline: the API's SQL, no HTTP")
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--kind", choices=["transfer", "resupply", "read"], required=True)
    parser.add_argument("--first", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--gated", action="store_true", help="lock the wallets (the API's gate)")
    args = parser.parse_args()
    load = asyncio.run(run(args))
    json.dump(asdict(load), sys.stdout)


if __name__ == "__main__":
    main()
