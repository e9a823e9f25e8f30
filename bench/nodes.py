"""Many nodes: transfers with 1, 2 and 8 API nodes, straight to PostgreSQL and through PgBouncer.

    pip install -e '.[bench]'          # once
    python bench/nodes.py              # about 3 minutes
    python bench/nodes.py --seconds 5  # shorter measurements

Starts an embedded PostgreSQL in a temporary directory (deleted afterwards) with
``max_connections`` 60, seeds 10,000 funded wallets and starts PgBouncer (the Debian package;
transaction pooling, stock settings, ``default_pool_size`` 40) in front of it. Then, for each
configuration, starts its nodes (``billing serve --workers 1`` each, ``BILLING_POOL_SIZE`` 16)
and drives them for ``--seconds`` with uniform transfers from ``--clients`` clients spread
evenly over the nodes (the httpx generator, tpbench.httpload; for 8 nodes, 16 clients per
node, so that each uses all of its 16 connections), one configuration after the other:

* direct, 1 node; direct, 2 nodes;
* through PgBouncer, 1 node; 2 nodes; 8 nodes;
* direct, 8 nodes: each node may open 16 + 8 (gate) + 2 (relay) + 1 (LISTEN) connections,
  216 in all, far more than the server's ``max_connections``: what PgBouncer is for.

The table gives the most connections PostgreSQL had at once, transfers per second, the ratio
to "direct, 1 node" measured in the same run, latencies, and failed requests (anything but
TransferSuccess and InsufficientFunds, and connection errors); money is checked to be
conserved after each configuration. The machine runs everything (PostgreSQL, PgBouncer, the
nodes, the load generator) on its own cores: more nodes add processes, not cores; the question
is whether they work and what the pooling costs. The table goes to stdout and to
bench/results/nodes.md.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import shutil
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import asyncpg
from sqlalchemy.engine import make_url

from billing.db.embedded import start_embedded
from billing.db.gate import gate_connections
from support.pgbouncer import PgBouncer, pgbouncer, pgbouncer_binary
from tpbench.api import ApiServer
from tpbench.bench import code_under_test
from tpbench.common import Job, WalletRange, not_failed
from tpbench.database import dsn, limit_connections, operator_token, prepare
from tpbench.generators import httpload

POOL = 16
PGBOUNCER_POOL = 40
MAX_CONNECTIONS = 60  # the server's: 2 nodes fit straight to it, 8 do not


@dataclass
class Row:
    config: str
    nodes: int
    connections: int  # the nodes may open at most (requests, gate, relay, LISTEN)
    server_connections: int  # the most PostgreSQL had at once during the measurement
    per_second: float
    ratio: float
    p50_ms: float
    p99_ms: float
    failed: int
    note: str = ""


def connections(nodes: int) -> int:
    """What ``nodes`` nodes may open: requests, the gate, the relay (2), LISTEN (1)."""
    return nodes * (POOL + gate_connections(POOL) + 2 + 1)


async def measure(
    name: str,
    nodes: int,
    url: str,
    env: dict[str, str],
    *,
    wallets: WalletRange,
    args: argparse.Namespace,
    scratch: Path,
    headers: list[str],
    direct_url: str,
) -> tuple[float, float, float, int, str, int]:
    """(transfers/s, p50, p99, failed, note, the most server connections at once) of
    ``nodes`` nodes on ``url``."""
    servers = [ApiServer(url, 1, scratch, headers, env) for _ in range(nodes)]
    note = ""
    try:
        for server in servers:
            try:
                await asyncio.to_thread(server.start, wallets.first)
            except RuntimeError as exc:
                note = f"a node did not start: {str(exc).splitlines()[0]}"
        clients = max(args.clients, nodes * POOL) if nodes >= 8 else args.clients
        job = Job("transfer", wallets, clients, args.seconds, seed=7)
        peak = Peak()
        counting = asyncio.create_task(peak.count(direct_url))
        try:
            load = await httpload(
                job, url=[s.url for s in servers], scratch=scratch, headers=headers
            )
        finally:
            counting.cancel()
            await asyncio.gather(counting, return_exceptions=True)
    finally:
        for server in servers:
            await asyncio.to_thread(server.stop)
    fine = {*not_failed("transfer"), "InsufficientFunds"}
    failures = {o: n for o, n in load.counts.items() if o not in fine}
    if load.socket_errors:
        failures["connection errors"] = load.socket_errors
    failed = sum(failures.values())
    if failures:
        note = "; ".join(filter(None, [note, ", ".join(f"{o}: {n}" for o, n in failures.items())]))
    print(f"  {name}: {load.requests / load.seconds:,.0f}/s, {failed} failed", flush=True)
    return load.requests / load.seconds, load.p50_ms, load.p99_ms, failed, note, peak.most


class Peak:
    """The most client connections the server had at once (its own not counted)."""

    def __init__(self) -> None:
        self.most = 0

    async def count(self, url: str) -> None:
        """Look every 50 ms until cancelled."""
        conn = await asyncpg.connect(dsn(url))
        try:
            while True:
                now = await conn.fetchval(
                    "SELECT count(*) - 1 FROM pg_stat_activity"
                    " WHERE backend_type = 'client backend'"
                )
                self.most = max(self.most, int(now))
                await asyncio.sleep(0.05)
        finally:
            await conn.close()


async def total_balance(url: str) -> str:
    conn = await asyncpg.connect(dsn(url))
    try:
        return str(await conn.fetchval("SELECT sum(balance) FROM wallets"))
    finally:
        await conn.close()


async def run(args: argparse.Namespace, url: str, bouncer: PgBouncer, scratch: Path) -> list[Row]:
    seeded = await prepare(url, args.wallets)
    wallets = WalletRange(seeded.first, seeded.count)
    token = await operator_token(url)
    headers = [f"Authorization: Bearer {token}"] if token else []
    conn = await asyncpg.connect(dsn(url))
    try:
        limit = int(await conn.fetchval("SHOW max_connections"))
    finally:
        await conn.close()
    before = await total_balance(url)
    database = make_url(url).database or "billing"
    pooled = {"BILLING_DATABASE_POOLED": "true"}
    plans = [
        ("direct", 1, url, {}),
        ("direct", 2, url, {}),
        ("PgBouncer", 1, bouncer.url(database), pooled),
        ("PgBouncer", 2, bouncer.url(database), pooled),
        ("PgBouncer", 8, bouncer.url(database), pooled),
        ("direct", 8, url, {}),
    ]
    rows: list[Row] = []
    base = None
    for config, nodes, where, extra in plans:
        env = {"BILLING_POOL_SIZE": str(POOL), "BILLING_LOG_LEVEL": "WARNING", **extra}
        name = f"{config}, {nodes} node{'s' if nodes > 1 else ''}"
        rate, p50, p99, failed, note, most = await measure(
            name,
            nodes,
            where,
            env,
            wallets=wallets,
            args=args,
            scratch=scratch,
            headers=headers,
            direct_url=url,
        )
        base = base or rate
        if config == "direct" and connections(nodes) > limit:
            over = f"may need {connections(nodes)} connections; max_connections {limit}"
            note = "; ".join(filter(None, [over, note]))
        rows.append(
            Row(config, nodes, connections(nodes), most, rate, rate / base, p50, p99, failed, note)
        )
        after = await total_balance(url)
        if after != before:
            raise RuntimeError(f"money not conserved: {before} before, {after} after {name}")
    return rows


def table(rows: list[Row], args: argparse.Namespace, limit_note: str) -> str:
    lines = [
        f"Uniform transfers, {args.clients} clients ({8 * POOL} for 8 nodes: 16 each, as many as"
        f" their connections), {args.seconds} s per configuration; {limit_note}"
        f" ({code_under_test()})",
        "",
        "| configuration | nodes | connections the nodes may open | PostgreSQL connections"
        " (most at once) | transfers/s | ratio to direct, 1 node | p50 ms | p99 ms | failed"
        " | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {r.config} | {r.nodes} | {r.connections} | {r.server_connections}"
        f" | {r.per_second:,.0f} | {r.ratio:.2f}"
        f" | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.failed} | {r.note} |"
        for r in rows
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--wallets", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    if pgbouncer_binary() is None:
        sys.exit("PgBouncer is not installed (Debian package pgbouncer)")

    data = Path(tempfile.mkdtemp(prefix="billing-nodes-pg-"))
    atexit.register(shutil.rmtree, data, True)
    embedded = start_embedded(data, cleanup_mode="delete")
    limit_connections(embedded, MAX_CONNECTIONS)
    with ExitStack() as stack:
        bouncer = stack.enter_context(
            pgbouncer(embedded.admin_url, pool_size=PGBOUNCER_POOL, max_client_conn=2000)
        )
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="billing-nodes-")))
        rows = asyncio.run(run(args, embedded.url(), bouncer, scratch))
    note = f"PgBouncer default_pool_size {PGBOUNCER_POOL}, transaction mode"
    report = table(rows, args, note)
    print()
    print(report)
    (Path(__file__).resolve().parent / "results" / "nodes.md").write_text(report + "\n")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))


if __name__ == "__main__":
    main()
