"""The benchmark run itself: options, measurements, checks and outputs (see bench/throughput.py)."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import itertools
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import psutil

from billing.config import to_async_url
from tpbench import database, generators, report
from tpbench.api import GIVE_UP_LINE, RETRY_LINE, ApiServer
from tpbench.common import (
    BENCH_DIR,
    SCENARIOS,
    SNAPSHOT_ENV,
    SUCCESS,
    Job,
    Load,
    Result,
    Scenario,
    Wallets,
    git,
    not_failed,
)
from tpbench.database import Monitor, dsn, limit_connections

FULL_CLIENTS = (1, 8, 32, 64)
QUICK_CLIENTS = (1, 32)
FULL_SECONDS = 8
QUICK_SECONDS = 1
WARM_UP_SECONDS = 1
# The embedded server's max_connections (see main).
MAX_CONNECTIONS = 250


@dataclass(frozen=True)
class Options:
    scenarios: tuple[Scenario, ...]
    clients: tuple[int, ...]
    workers: tuple[int, ...]
    seconds: int
    wallets: int
    headers: list[str]
    use_wrk: bool
    use_pgbench: bool
    max_tries: int
    output: Path
    name: str


def parse_args() -> tuple[Options, str | None]:
    parser = argparse.ArgumentParser(
        description="Throughput of the billing API against pgbench and asyncpg baselines.",
    )
    parser.add_argument("--quick", action="store_true", help="short smoke run (about 75 s)")
    parser.add_argument("--duration", type=int, help="seconds per measurement (full 8, quick 1)")
    parser.add_argument("--clients", help="comma-separated concurrencies (full 1,8,32,64)")
    parser.add_argument("--workers", default="1,2", help="API worker counts (default 1,2)")
    parser.add_argument(
        "--scenarios", help=f"comma-separated subset of {','.join(s.name for s in SCENARIOS)}"
    )
    parser.add_argument("--wallets", type=int, default=10_000)
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        help="extra HTTP header for every API request, e.g. 'Authorization: Bearer ...'",
    )
    parser.add_argument("--no-wrk", action="store_true", help="use the httpx generator")
    parser.add_argument("--no-pgbench", action="store_true", help="skip baseline (a)")
    parser.add_argument("--max-tries", type=int, default=10, help="pgbench --max-tries")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--name", help="output file stem (throughput, or throughput-quick)")
    parser.add_argument(
        "--rev",
        help="benchmark src/ as of this git revision (exported to a temporary directory)"
        " instead of the working tree; compare before and after without checking out",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BILLING_DATABASE_URL"),
        help="PostgreSQL to use instead of an embedded one (default: BILLING_DATABASE_URL)",
    )
    args = parser.parse_args()
    wanted = args.scenarios.split(",") if args.scenarios else [s.name for s in SCENARIOS]
    unknown = set(wanted) - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    clients: tuple[int, ...] = QUICK_CLIENTS if args.quick else FULL_CLIENTS
    if args.clients:
        clients = tuple(int(c) for c in args.clients.split(","))
    for header in args.header:
        if ":" not in header:
            parser.error(f"--header {header!r}: expected 'Name: value'")
    options = Options(
        scenarios=tuple(s for s in SCENARIOS if s.name in wanted),
        clients=clients,
        workers=tuple(int(w) for w in args.workers.split(",") if w),
        seconds=args.duration or (QUICK_SECONDS if args.quick else FULL_SECONDS),
        wallets=args.wallets,
        headers=args.header,
        use_wrk=not args.no_wrk,
        use_pgbench=not args.no_pgbench,
        max_tries=args.max_tries,
        output=args.output,
        name=args.name or ("throughput-quick" if args.quick else "throughput"),
    )
    return options, args.database_url


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def code_under_test() -> str:
    """Where ``billing`` is imported from (the API processes import the same) and its git state."""
    import billing

    snapshot = os.environ.get(SNAPSHOT_ENV)
    if snapshot:
        return f"src/ of git {snapshot.partition('|')[2][:10]} (--rev), not the working tree"

    package = Path(billing.__file__).resolve().parent
    repo = BENCH_DIR.parent
    if not package.is_relative_to(repo):
        # Another checkout (a worktree of another version, say): its own git state.
        return (
            f"billing from {package} (outside this repository, through PYTHONPATH),"
            f" git {git_revision(package)}"
        )
    return f"billing from {package.relative_to(repo)}, git {git_revision(package)}"


def git_revision(package: Path) -> str:
    """The commit of the checkout holding ``package`` (src/billing), and whether its src/ has
    uncommitted changes."""
    try:
        head = git("rev-parse", "--short", "HEAD", cwd=package)
        dirty = git("status", "--porcelain", "--", ".", cwd=package.parent)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' + uncommitted changes in src/' if dirty else ''}"


def tool_version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "?"
    return (
        (done.stdout or done.stderr).strip().splitlines()[0]
        if (done.stdout or done.stderr)
        else "?"
    )


class Bench:
    def __init__(self, options: Options, url: str, wallets: Wallets, monitor: Monitor) -> None:
        self.options = options
        self.url = url
        self.wallets = wallets
        self.monitor = monitor
        self.results: list[Result] = []
        self.notes: list[str] = []
        self.scratch = Path(tempfile.mkdtemp(prefix="billing-throughput-"))
        atexit.register(shutil.rmtree, self.scratch, True)
        self.total = 0
        self.seeds = itertools.count(1)
        self.meta_generator = "?"
        self.meta_pgbench = "?"
        self.meta_pgbench_path = ""
        self.started = time.perf_counter()

    def job(self, scenario: Scenario, clients: int, seconds: int | None = None) -> Job:
        return Job(
            kind=scenario.kind,
            wallets=self.wallets.range_for(scenario),
            clients=clients,
            seconds=seconds or self.options.seconds,
            seed=next(self.seeds),
            gated=scenario.wallets != "all",
        )

    async def measure(
        self,
        scenario: Scenario,
        config: str,
        clients: int,
        load: Callable[[Job], Awaitable[Load]],
        server: ApiServer | None = None,
    ) -> Result:
        job = self.job(scenario, clients)
        await self.monitor.checkpoint()
        since = await self.monitor.mark()
        log_at = server.log_size() if server else 0
        server_cpu = server.cpu_seconds() if server else 0.0
        machine = psutil.cpu_times()
        measured = await load(job)
        machine_after = psutil.cpu_times()
        server_cpu = (server.cpu_seconds() - server_cpu) if server else 0.0
        notes = list(measured.notes)
        retries = measured.retries
        if server is not None:
            if not await self.monitor.wait_idle("billing-api"):
                notes.append("the API was still busy 15 s after the load stopped")
            retries = server.count_since(log_at, RETRY_LINE)
            gave_up = server.count_since(log_at, GIVE_UP_LINE)
            if gave_up:
                notes.append(f"the API gave up (TryAgain) {gave_up} time(s) by its log")
        check = await self.monitor.check(since)
        ok = measured.counts.get(SUCCESS[scenario.kind], 0)
        fine = sum(measured.counts.get(k, 0) for k in not_failed(scenario.kind))
        if scenario.kind != "read" and check.committed < ok:
            notes.append(f"only {check.committed} transactions committed for {ok} successes")
        if not check.conserved:
            notes.append(f"CONSERVATION FAILED: {check.detail}")
        busy = _busy(machine_after) - _busy(machine)
        elapsed = sum(machine_after) - sum(machine)
        seconds = measured.seconds or 1.0
        result = Result(
            scenario=scenario.name,
            config=config,
            clients=clients,
            seconds=round(measured.seconds, 3),
            ok=ok,
            failed=measured.requests - fine + measured.socket_errors,
            throughput=ok / seconds,
            p50_ms=measured.p50_ms,
            p95_ms=measured.p95_ms,
            p99_ms=measured.p99_ms,
            max_ms=measured.max_ms,
            retries=retries,
            outcomes=dict(sorted(measured.counts.items())),
            committed=check.committed,
            conserved=check.conserved,
            generator_cpu_pct=100 * measured.generator_cpu_s / seconds,
            server_cpu_pct=100 * server_cpu / seconds if server else None,
            server_cpu_ms_per_op=1000 * server_cpu / ok if server and ok else None,
            machine_cpu_pct=100 * busy / elapsed if elapsed > 0 else 0.0,
            notes=notes,
        )
        if measured.socket_errors:
            result.outcomes["socket errors"] = measured.socket_errors
        self.results.append(result)
        done = len(self.results)
        server_part = f" api {result.server_cpu_pct:.0f}%" if server else ""
        if result.server_cpu_ms_per_op is not None:
            server_part += f" {result.server_cpu_ms_per_op:.2f} ms/op"
        say(
            f"[{done:>3}/{self.total} {time.perf_counter() - self.started:5.0f} s]"
            f" {scenario.name:<16} {config:<8} c={clients:<3}"
            f" {result.throughput:8,.0f}/s  p50 {result.p50_ms:7.2f}  p99 {result.p99_ms:8.2f} ms"
            f"  failed {result.failed:<5} retries {retries:<6}"
            f" cpu: gen {result.generator_cpu_pct:.0f}%{server_part}"
            f" machine {result.machine_cpu_pct:.0f}%" + (f"  ! {'; '.join(notes)}" if notes else "")
        )
        return result

    async def run(self) -> None:
        options = self.options
        pgbench = generators.find_pgbench() if options.use_pgbench else None
        if options.use_pgbench and pgbench is None:
            message = "pgbench not found (neither in the embedded PostgreSQL nor on PATH)"
            say(f"SKIPPING baseline (a): {message}; ratios to pgbench are left empty.")
            self.notes.append(f"baseline (a) skipped: {message}")
        wrk = shutil.which("wrk") if options.use_wrk else None
        if wrk is None:
            why = "wrk not found (apt-get install wrk)" if options.use_wrk else "--no-wrk"
            say(f"{why}: driving the API with the httpx generator.")
        self.meta_generator = (
            f"{' '.join(tool_version([wrk, '--version']).split()[:2])} with bench/wrk/graphql.lua"
            if wrk
            else "httpx (tpbench.httpload, a Python process)"
        )
        self.meta_pgbench = (
            f"{pgbench[1]}" if pgbench else "skipped" if not options.use_pgbench else "absent"
        )
        self.meta_pgbench_path = str(pgbench[0]) if pgbench else ""
        per_scenario = len(options.clients) * (2 + len(options.workers) - (pgbench is None))
        self.total = per_scenario * len(options.scenarios)
        restarts = len(options.scenarios) * len(options.workers)
        estimate = self.total * (options.seconds + 0.7) + restarts * (WARM_UP_SECONDS + 4)
        say(
            f"{self.total} measurements of {options.seconds} s; about"
            f" {estimate / 60:.0f} minutes from now."
        )
        database_dsn = dsn(self.url)
        configs: list[tuple[str, Callable[[Job], Awaitable[Load]]]] = []
        if pgbench is not None:
            run_pgbench = partial(
                generators.pgbench,
                binary=pgbench[0],
                version=pgbench[1],
                dsn=database_dsn,
                scratch=self.scratch,
                max_tries=options.max_tries,
            )
            configs.append(("pgbench", run_pgbench))
        configs.append(
            ("asyncpg", partial(generators.direct, dsn=database_dsn, scratch=self.scratch))
        )
        for scenario in options.scenarios:
            # All configurations of one concurrency run back to back (the API servers wait idle
            # meanwhile), so each ratio compares measurements taken seconds apart, not minutes:
            # the machine's background load drifts less in between.
            servers: list[ApiServer] = []
            try:
                for workers in options.workers:
                    server = ApiServer(self.url, workers, self.scratch, options.headers)
                    servers.append(server)
                    took = await asyncio.to_thread(server.start, self.wallets.first)
                    say(f"      billing serve --workers {workers} answering after {took:.1f} s")
                    drive = self.driver(server, wrk)
                    await drive(self.job(scenario, min(8, max(options.clients)), WARM_UP_SECONDS))
                    await self.monitor.wait_idle("billing-api")
                for clients in options.clients:
                    for config, load in configs:
                        await self.measure(scenario, config, clients, load)
                    for server in servers:
                        config = f"api-{server.workers}w"
                        drive = self.driver(server, wrk)
                        await self.measure(scenario, config, clients, drive, server)
            except Exception:
                for server in servers:
                    say(f"billing serve --workers {server.workers}, last log lines:")
                    say(server.tail())
                raise
            finally:
                for server in servers:
                    await asyncio.to_thread(server.stop)

    def driver(self, server: ApiServer, wrk: str | None) -> Callable[[Job], Awaitable[Load]]:
        """The API's load generator: wrk if installed, else the httpx process."""
        if wrk is not None:
            return partial(
                generators.wrk,
                binary=wrk,
                url=server.url,
                scratch=self.scratch,
                headers=self.options.headers,
            )
        return partial(
            generators.httpload, url=server.url, scratch=self.scratch, headers=self.options.headers
        )


def _busy(times: Any) -> float:
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


async def run(options: Options, url: str, where: str, pg_log: Path | None) -> int:
    say(f"Seeding {options.wallets:,} wallets ({where}) ...")
    started = time.perf_counter()
    wallets = await database.prepare(url, options.wallets)
    say(
        f"      wallets {wallets.first}..{wallets.first + wallets.count - 1} in"
        f" {time.perf_counter() - started:.1f} s"
    )
    if not any(h.lower().startswith("authorization:") for h in options.headers):
        token = await database.operator_token(url)
        if token:
            say("      the API wants a bearer token: created an operator token for the run")
            options = replace(options, headers=[*options.headers, f"Authorization: Bearer {token}"])
    monitor = await Monitor.open(url)
    bench = Bench(options, url, wallets, monitor)
    began = datetime.now(UTC)
    postgres = await monitor.server_version()
    aborted: str | None = None
    try:
        await bench.run()
    except Exception as exc:  # keep what was measured; the exit status tells the failure
        aborted = f"{type(exc).__name__}: {exc}"
        say(f"RUN ABORTED after {len(bench.results)} measurement(s): {aborted}")
        if pg_log is not None:
            say(f"Last lines of the PostgreSQL log:\n{tail(pg_log, 40)}")
    finally:
        with contextlib.suppress(Exception):
            await monitor.close()
    if aborted is None:
        say("Auditing the ledger ...")
        audit_ok, audit_text = await database.full_audit(url)
    else:
        audit_ok, audit_text = False, "not run: the run was aborted"
    results = bench.results
    report.add_ratios(results)
    meta: dict[str, Any] = {
        "started": began.strftime("%Y-%m-%d %H:%M UTC"),
        "took_s": round(time.perf_counter() - started),
        "machine": f"{psutil.cpu_count()} CPUs, {platform.machine()}, Python"
        f" {platform.python_version()}",
        "postgres": postgres,
        "database": where,
        "pgbench": bench.meta_pgbench,
        "pgbench_path": bench.meta_pgbench_path,
        "generator": bench.meta_generator,
        "wallets": options.wallets,
        "duration": options.seconds,
        "clients": list(options.clients),
        "workers": list(options.workers),
        "pgbench_max_tries": options.max_tries,
        "code": code_under_test(),
        "audit": "consistent" if audit_ok else audit_text if aborted else "VIOLATIONS (see JSON)",
        "audit_report": audit_text,
        "notes": bench.notes,
        "aborted": aborted,
    }
    stem = options.output / options.name
    print(write_outputs(stem, results, meta), flush=True)
    say(f"Wrote {stem}.md, .json and .png in {meta['took_s'] / 60:.1f} minutes.")
    if not audit_ok:
        say(audit_text)
    return 0 if audit_ok and aborted is None and all(r.conserved for r in results) else 1


def tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"({exc})"


def write_outputs(stem: Path, results: list[Result], meta: dict[str, Any]) -> str:
    stem.parent.mkdir(parents=True, exist_ok=True)
    text = report.markdown(results, meta)
    stem.with_suffix(".md").write_text(text, encoding="utf-8")
    report.write_json(stem.with_suffix(".json"), results, meta)
    report.chart(stem.with_suffix(".png"), results, meta)
    return text


def main() -> None:
    options, external = parse_args()
    snapshot = os.environ.get(SNAPSHOT_ENV)
    if snapshot:  # bench/throughput.py exported src/ there for --rev
        atexit.register(shutil.rmtree, snapshot.partition("|")[0], True)
    logging.basicConfig(level=logging.WARNING)
    if external:
        url = to_async_url(external)
        where = "BILLING_DATABASE_URL"
        pg_log = None
    else:
        from billing.db.embedded import start_embedded

        data = Path(tempfile.mkdtemp(prefix="billing-throughput-pg-"))
        # atexit runs last-in first-out: the embedded server's own clean-up (stop, delete its
        # data) runs first, then this removes the directory that held it.
        atexit.register(shutil.rmtree, data, True)
        say(f"Embedded PostgreSQL in {data} (deleted afterwards) ...")
        embedded = start_embedded(data, cleanup_mode="delete")  # before any event loop
        # pgbench's and asyncpg's 64 clients connect while the API servers, idle meanwhile,
        # keep their pools and gate connections open: more than the default 100.
        limit_connections(embedded, MAX_CONNECTIONS)
        url = embedded.url()
        where = "embedded"
        pg_log = embedded.pgdata / "log"  # shown if the run fails
    try:
        status = asyncio.run(run(options, url, where, pg_log))
    except KeyboardInterrupt:
        say("Interrupted: servers stopped, nothing written.")
        status = 130
    sys.exit(status)
