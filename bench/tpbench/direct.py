"""Baseline (b): the API's SQL from Python over asyncpg, without HTTP or GraphQL.

Run as a process of its own (``python -m tpbench.direct ...`` with ``bench/`` on the path) so
its CPU is measured apart from everything else; prints one JSON object on stdout.

Each of N clients has its own connection and loops until the time is up: pick wallets at
random, run the operation with the API's retry policy (serialization failures and deadlocks
retried with exponential backoff and full jitter, at most ``retry_max_attempts`` attempts within
the deadline; what is left is a failure, as TryAgain is for the API). A hold-capture is two
operations, the hold and then the capture of that hold, each retried on its own as the API's
two requests are; its latency is that of both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import partial
from typing import TypeVar

import asyncpg

from billing.config import Settings
from billing.db.database import RetryPolicy
from tpbench import sql
from tpbench.common import AMOUNT, KINDS, SUCCESS, Kind, Load, money, percentile

RETRYABLE = frozenset({"40001", "40P01"})
T = TypeVar("T")


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


def _refusal(rows: list[asyncpg.Record], default: str) -> Refused:
    """What the API would answer for a posting that was not allowed (the usual reasons)."""
    for row in rows:
        if row["wallet_id"] is not None and not row["found"]:
            return Refused("WalletNotFound")
        if row["balance"] is not None and (
            row["balance"] + row["delta"] < row["held"] + row["hold_delta"]
        ):
            return Refused("InsufficientFunds")
    return Refused(default)


async def post(
    conn: asyncpg.Connection, statement: sql.Statement, values: dict[str, object]
) -> list[asyncpg.Record]:
    """One posting statement, as ``posting.post`` sends it; Refused if nothing was allowed."""
    rows: list[asyncpg.Record] = await conn.fetch(statement.numbered, *statement.arguments(values))
    if rows[0]["transaction_id"] is None:
        raise _refusal(rows, "BalanceLimitExceeded")
    return rows


async def gated(conn: asyncpg.Connection, locks: list[int], work: Callable[[], Awaitable[T]]) -> T:
    """``work`` between advisory locks on ``locks`` (ascending) and their release."""
    if len(locks) == 1:
        await conn.fetchval(sql.LOCK_ONE, *locks)
    elif locks:
        await conn.fetchval(sql.LOCK_TWO, *sorted(locks))
    try:
        return await work()
    finally:
        if locks:
            await conn.fetchval(sql.UNLOCK_ALL)


async def transfer(
    conn: asyncpg.Connection, source: int, target: int, amount: Decimal, gate: bool
) -> None:
    values = sql.transfer_values(source, target, amount)
    await gated(
        conn, [source, target] if gate else [], lambda: post(conn, sql.TRANSFER_STATEMENT, values)
    )


async def resupply(conn: asyncpg.Connection, wallet: int, amount: Decimal, gate: bool) -> None:
    values = sql.resupply_values(wallet, amount)
    await gated(conn, [wallet] if gate else [], lambda: post(conn, sql.RESUPPLY_STATEMENT, values))


async def hold(
    conn: asyncpg.Connection, source: int, target: int, amount: Decimal, *, gate: bool, ref: str
) -> int:
    values = sql.hold_values(source, target, amount, ref, sql.hold_expiry())
    rows = await gated(
        conn, [source, target] if gate else [], lambda: post(conn, sql.HOLD_STATEMENT, values)
    )
    hold_id: int = rows[0]["hold_id"]
    return hold_id


async def capture(conn: asyncpg.Connection, hold_id: int) -> None:
    # No gate: the API takes a hold's lock there only once its resolvers have collided, and a
    # hold here is captured once.
    await post(conn, sql.CAPTURE_STATEMENT, sql.capture_values(hold_id))


async def read(conn: asyncpg.Connection, wallet: int) -> None:
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await conn.fetch(sql.READ_WALLETS, [wallet])
    if not rows:
        raise Refused("null")


async def retried(step: Callable[[], Awaitable[T]], policy: RetryPolicy, tally: Tally) -> T | str:
    """``step`` with the API's retry policy: its result, or the typed error the API answers."""
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + policy.deadline
    attempt = 0
    while True:
        attempt += 1
        try:
            return await step()
        except Refused as exc:
            return exc.typename
        except asyncpg.PostgresError as exc:
            if getattr(exc, "sqlstate", None) not in RETRYABLE:
                raise
            pause = policy.backoff(attempt)
            if attempt >= policy.max_attempts or loop.time() + pause > give_up_at:
                return "TryAgain"
            tally.retries += 1
            await asyncio.sleep(pause)


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
    name: str,
) -> None:
    amount = money(AMOUNT)
    loop = asyncio.get_running_loop()
    serial = 0
    while loop.time() < stop_at:
        a = first + rng.randrange(count)
        b = first + rng.randrange(count - 1) if count > 1 else a
        if b >= a and count > 1:
            b += 1
        started = loop.time()
        outcome: object
        if kind == "transfer":
            outcome = await retried(partial(transfer, conn, a, b, amount, gated), policy, tally)
        elif kind == "resupply":
            outcome = await retried(partial(resupply, conn, a, amount, gated), policy, tally)
        elif kind == "read":
            outcome = await retried(partial(read, conn, a), policy, tally)
        else:  # hold-capture: two API requests, each retried on its own; latency of both
            serial += 1
            ref = f"{name}-{serial}"
            step = partial(hold, conn, a, b, amount, gate=gated, ref=ref)
            made = await retried(step, policy, tally)
            if isinstance(made, str):
                outcome = made
            else:
                tally.outcomes["HoldTransferSuccess"] += 1
                outcome = await retried(partial(capture, conn, made), policy, tally)
        tally.latencies.append(loop.time() - started)
        tally.outcomes[SUCCESS[kind] if outcome is None else str(outcome)] += 1


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
                    name=f"bench-{args.seed}-{i}",
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
        requests=sum(tally.outcomes.values()),
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
    parser.add_argument("--kind", choices=KINDS, required=True)
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
