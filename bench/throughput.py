"""Throughput: how close the API runs to PostgreSQL's own limit, measured in one run.

    pip install -e '.[bench]'             # once: what it needs beyond the package
    python bench/throughput.py            # full run, about 12 minutes
    python bench/throughput.py --quick    # smoke check, about 75 seconds

Starts its own embedded PostgreSQL in a temporary directory (deleted afterwards), or uses
BILLING_DATABASE_URL (a database you can spare: it is migrated and 10,000 clients are added).
It seeds 10,000 funded wallets (and an operator token if the API wants one), then measures
every scenario at 1, 8, 32 and 64 clients (--quick: 1 and 32; 8 s each, --quick 1 s) under:

* pgbench (a): PostgreSQL's own client running the API's own posting statement for one
  operation (taken from src/billing/domain/payments.py and holds.py by tpbench/sql.py, its
  array parameters written as ARRAY[...] of pgbench variables; SERIALIZABLE; the wallet gate in
  the hot-spot and pair scenarios, where the API uses it), prepared, with retries;
* asyncpg (b): the same statements from Python with the API's retry policy, no HTTP/GraphQL;
* the API: ``billing serve --workers 1`` and ``--workers 2`` in a subprocess, driven by wrk with
  bench/wrk/graphql.lua (or by an httpx process when wrk is missing).

Scenarios: transfers uniform over all wallets, a hot spot of 10 wallets, one pair A<->B both
ways; resupply; a read of wallet { balance }; hold + capture, uniform: one operation is a
holdTransfer and a captureHold of that hold (two API requests, two statements for the baselines;
its latency is that of both, and the API's CPU is also given per request). The configurations of
one concurrency run back to back (the API servers wait idle meanwhile), so each ratio compares
measurements seconds apart.
After every measurement it checks that money was conserved, and it runs the ledger audit at the
end. Results: a Markdown table on stdout and in bench/results/throughput.md, and
bench/results/throughput.json and throughput.png (``--quick`` writes throughput-quick.*). Every
throughput is also given as a ratio to pgbench.

``--rev REV`` benchmarks src/ as of a git revision instead of the working tree: the API, the
baselines' statements, the migrations and the audit all come from that revision (it must have
the posting statements of issue 14; for an older one, run that revision's own bench from a
worktree of it); ``--help`` lists the other options.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

from tpbench.common import SNAPSHOT_ENV, export_src  # imports nothing of billing

# Imported by the benchmark and installed by the `bench` extra only: httpx drives the API when
# wrk is missing, matplotlib draws the chart once everything is measured.
BENCH_EXTRA = ("httpx", "matplotlib")
INSTALL_BENCH_EXTRA = "pip install -e '.[bench]'"


def missing_modules(names: tuple[str, ...]) -> list[str]:
    return [name for name in names if importlib.util.find_spec(name) is None]


def requested_rev(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg == "--rev" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--rev="):
            return arg.split("=", 1)[1]
    return None


def restart_on_snapshot(rev: str) -> None:
    """Export src/ as of ``rev`` and run this script again with it first on PYTHONPATH.

    Before anything imports ``billing``: the working tree may be half-edited. The API processes
    inherit PYTHONPATH, so the server, the baselines and the checks all run that version.
    """
    target = Path(tempfile.mkdtemp(prefix="billing-src-"))
    src, commit = export_src(rev, target)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH")) if p)
    env[SNAPSHOT_ENV] = f"{target}|{commit}"
    print(f"Benchmarking src/ of {commit[:10]} from {target}", file=sys.stderr, flush=True)
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def main() -> None:
    # Now, not after minutes of measuring: the chart is drawn last.
    if missing := missing_modules(BENCH_EXTRA):
        sys.exit(
            f"bench/throughput.py needs {' and '.join(missing)}, which the bench extra installs:"
            f"\n    {INSTALL_BENCH_EXTRA}"
        )
    rev = requested_rev(sys.argv[1:])
    if rev and SNAPSHOT_ENV not in os.environ:
        restart_on_snapshot(rev)
    from tpbench.bench import main as run_benchmark

    run_benchmark()


if __name__ == "__main__":
    main()
