"""Events: what live subscribers get while transfers run, and what they cost the transfers.

    pip install -e '.[bench]'          # once
    python bench/events.py             # 0, 1, 100, 1,000 subscribers, 10 s each (~2 minutes)
    python bench/events.py --quick     # 0, 1, 100 subscribers, 4 s each

Starts its own embedded PostgreSQL in a temporary directory (deleted afterwards) and one
``billing serve --workers 1``; seeds 1,000 funded wallets. For each number of subscribers it
opens that many ``walletEvents`` subscriptions (graphql-transport-ws, one WebSocket each, each on
its own wallet), then runs transfers uniform over the 1,000 wallets from 32 clients (wrk, or an
httpx process without it) and measures:

* transfers per second, and their ratio to the run without subscribers (measured first and
  again last, in the same run: the baseline is their mean);
* events delivered per second (those of transfers made during the measurement);
* the delay from an event's commit (its ``createdAt`` on the database's clock, on this same
  machine) to its arrival at the subscriber: p50 and p99;
* that every subscriber got its wallet's events in order, each once (sequence numbers).

Results: a Markdown table on stdout and in bench/results/events.md (--output to change).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import websockets

from tpbench import database, generators
from tpbench.api import ApiServer
from tpbench.common import Job, WalletRange, percentile

BENCH_DIR = Path(__file__).resolve().parent
CLIENTS = 32
WALLETS = 1000

SUBSCRIPTION = """
subscription($walletId: ID!, $after: String) {
  walletEvents(walletId: $walletId, after: $after) {
    __typename
    ... on WalletEvent { cursor sequence createdAt }
  }
}
"""


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Tally:
    """What all subscribers of one measurement received."""

    # Only events created between these (unix seconds), while transfers run, are counted: not
    # the backlog a new subscriber gets first.
    since: float = float("inf")
    until: float = float("inf")
    delays_ms: list[float] = field(default_factory=list)
    out_of_order: int = 0
    ended: list[str] = field(default_factory=list)


class Subscriber:
    def __init__(self, url: str, token: str, wallet: int, tally: Tally) -> None:
        self.url, self.token, self.wallet, self.tally = url, token, wallet, tally
        self.ready = asyncio.Event()
        self.last = 0
        self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        async with websockets.connect(
            self.url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")], max_queue=None
        ) as ws:
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {self.token}"}}
            await ws.send(json.dumps(init))
            ack = json.loads(await ws.recv())
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"no connection_ack: {ack}")
            payload = {"query": SUBSCRIPTION, "variables": {"walletId": str(self.wallet)}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            self.ready.set()
            async for raw in ws:
                received = time.time()
                message = json.loads(raw)
                if message.get("type") != "next":
                    self.tally.ended.append(str(message)[:200])
                    return
                item = message["payload"]["data"]["walletEvents"]
                if item["__typename"] != "WalletEvent":
                    self.tally.ended.append(item["__typename"])
                    return
                if item["sequence"] != self.last + 1:
                    self.tally.out_of_order += 1
                self.last = item["sequence"]
                created = datetime.fromisoformat(item["createdAt"]).timestamp()
                if self.tally.since <= created <= self.tally.until:
                    self.tally.delays_ms.append((received - created) * 1000)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


@dataclass
class Row:
    subscribers: int
    transfers_per_s: float
    failed: int
    p99_transfer_ms: float
    events_per_s: float
    delay_p50_ms: float
    delay_p99_ms: float
    out_of_order: int


async def measure(
    server: ApiServer,
    token: str,
    wallets: WalletRange,
    subscribers: int,
    *,
    clients: int,
    seconds: int,
    seed: int,
) -> Row:
    tally = Tally()
    ws_url = server.url.replace("http://", "ws://")
    subs = [Subscriber(ws_url, token, wallets.first + i, tally) for i in range(subscribers)]
    try:
        if subs:
            await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in subs)), 120)
            await asyncio.sleep(1.0)  # the backlog arrives before the measurement
        job = Job(kind="transfer", wallets=wallets, clients=clients, seconds=seconds, seed=seed)
        drive = generators.wrk if shutil.which("wrk") else generators.httpload
        headers = [f"Authorization: Bearer {token}"]
        scratch = Path(tempfile.mkdtemp(prefix="billing-events-bench-"))
        kwargs: dict[str, Any] = {"url": server.url, "scratch": scratch, "headers": headers}
        if drive is generators.wrk:
            kwargs["binary"] = shutil.which("wrk")
        tally.since = time.time()
        load = await drive(job, **kwargs)
        tally.until = time.time()
        await asyncio.sleep(2.0)  # stragglers
        shutil.rmtree(scratch, ignore_errors=True)
    finally:
        for s in subs:
            await s.stop()
    if tally.ended:
        raise RuntimeError(f"{len(tally.ended)} subscription(s) ended early: {tally.ended[:3]}")
    ok = load.counts.get("TransferSuccess", 0)
    delays = sorted(tally.delays_ms)
    window = tally.until - tally.since
    return Row(
        subscribers=subscribers,
        transfers_per_s=ok / load.seconds,
        failed=load.requests - ok,
        p99_transfer_ms=load.p99_ms,
        events_per_s=len(delays) / window if subs else 0.0,
        delay_p50_ms=statistics.median(delays) if delays else float("nan"),
        delay_p99_ms=percentile(delays, 99) if delays else float("nan"),
        out_of_order=tally.out_of_order,
    )


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def table(rows: list[Row], baseline: float) -> str:
    lines = [
        "| subscribers | transfers/s | vs none | failed | transfer p99 ms | events/s delivered"
        " | delay p50 ms | delay p99 ms | out of order |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        events = f"{r.events_per_s:,.0f}" if r.subscribers else "-"
        p50 = f"{r.delay_p50_ms:.1f}" if r.subscribers else "-"
        p99 = f"{r.delay_p99_ms:.1f}" if r.subscribers else "-"
        lines.append(
            f"| {r.subscribers:,} | {r.transfers_per_s:,.0f} | {r.transfers_per_s / baseline:.2f}"
            f" | {r.failed} | {r.p99_transfer_ms:.1f} | {events} | {p50} | {p99}"
            f" | {r.out_of_order} |"
        )
    return "\n".join(lines)


async def run(url: str, counts: list[int], seconds: int, output: Path, clients: int) -> int:
    say(f"Seeding {WALLETS:,} wallets ...")
    seeded = await database.prepare(url, WALLETS)
    token = await database.operator_token(url)
    if token is None:
        raise RuntimeError("the API wants no token? events need one to subscribe")
    wallets = WalletRange(seeded.first, seeded.count)
    # One token holds every subscription here: let it hold them all.
    os.environ["BILLING_SUBSCRIPTIONS_PER_TOKEN"] = str(max(counts) + 10)
    logs = Path(tempfile.mkdtemp(prefix="billing-events-logs-"))
    server = ApiServer(url, 1, logs, [f"Authorization: Bearer {token}"])
    server.start(probe_wallet=seeded.first)
    rows: list[Row] = []
    try:
        for i, n in enumerate([0, *counts, 0]):
            say(f"  {n:,} subscriber(s), {seconds} s of transfers ...")
            rows.append(
                await measure(
                    server, token, wallets, n, clients=clients, seconds=seconds, seed=i + 1
                )
            )
    finally:
        server.stop()
        shutil.rmtree(logs, ignore_errors=True)
    baseline = (rows[0].transfers_per_s + rows[-1].transfers_per_s) / 2
    text = table(rows, baseline)
    ok, audit = await database.full_audit(url)
    body = (
        f"# Events: subscribers while transfers run\n\n{clients} transfer clients, uniform over"
        f" {WALLETS:,} wallets; one API worker; {seconds} s per row; baseline = the mean of the"
        f" two runs without subscribers (first and last row).\n\n{text}\n\nAudit:"
        f" {'consistent' if ok else audit}\n"
    )
    print(body, flush=True)
    await asyncio.to_thread(write, output / "events.md", body)
    bad = [r for r in rows if r.out_of_order or r.failed]
    return 0 if ok and not bad else 1


def main() -> None:
    parser = argparse.ArgumentParser(description="Subscribers' events while transfers run.")
    parser.add_argument("--quick", action="store_true", help="0, 1, 100 subscribers, 4 s each")
    parser.add_argument("--subscribers", help="comma-separated counts (default 1,100,1000)")
    parser.add_argument("--duration", type=int, help="seconds per row (default 10, quick 4)")
    parser.add_argument("--clients", type=int, default=CLIENTS, help="transfer clients (32)")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "results")
    args = parser.parse_args()
    counts = [1, 100] if args.quick else [1, 100, 1000]
    if args.subscribers:
        counts = [int(c) for c in args.subscribers.split(",")]
    seconds = args.duration or (4 if args.quick else 10)
    from billing.db.embedded import start_embedded

    data = Path(tempfile.mkdtemp(prefix="billing-events-pg-"))
    atexit.register(shutil.rmtree, data, True)
    embedded = start_embedded(data, cleanup_mode="delete")
    sys.exit(asyncio.run(run(embedded.url(), counts, seconds, args.output, args.clients)))


if __name__ == "__main__":
    main()
