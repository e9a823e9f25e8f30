"""What every part of the throughput benchmark shares: scenarios, results, percentiles."""

from __future__ import annotations

import io
import math
import os
import subprocess
import tarfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

BENCH_DIR = Path(__file__).resolve().parent.parent
# Set by bench/throughput.py --rev for the run it restarts: "<exported directory>|<commit>".
SNAPSHOT_ENV = "BILLING_BENCH_SNAPSHOT"
AMOUNT = "1.00"  # every transfer, resupply and hold moves (or reserves) this much
SEED_BALANCE = "1000000.00"  # each wallet's opening balance: ample for any run's random walk
HOT_WALLETS = 10


def git(*args: str, cwd: Path) -> str:
    """What a git command run in ``cwd`` prints (CalledProcessError if it fails)."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def export_src(rev: str, into: Path) -> tuple[Path, str]:
    """src/ as of git revision ``rev``, extracted under ``into``; and the full commit."""
    repo = BENCH_DIR.parent
    commit = git("rev-parse", "--verify", f"{rev}^{{commit}}", cwd=repo)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "src"], cwd=repo, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src", commit


Kind = Literal["transfer", "resupply", "read", "hold-capture"]
KINDS: tuple[Kind, ...] = ("transfer", "resupply", "read", "hold-capture")
# The outcome of a successful operation: what throughput counts.
SUCCESS: dict[Kind, str] = {
    "transfer": "TransferSuccess",
    "resupply": "ResupplySuccess",
    "read": "Wallet",
    "hold-capture": "CaptureHoldSuccess",
}
# Outcomes of the steps before the last of an operation of several requests: no failures.
STEPS: dict[Kind, tuple[str, ...]] = {"hold-capture": ("HoldTransferSuccess",)}
# API requests per operation ("hold-capture": holdTransfer, then captureHold of that hold).
REQUESTS: dict[Kind, int] = {"hold-capture": 2}


def not_failed(kind: Kind) -> frozenset[str]:
    """The outcomes that are no failure: the success, and the steps leading to it."""
    return frozenset((SUCCESS[kind], *STEPS.get(kind, ())))


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    kind: Kind
    wallets: Literal["all", "hot", "pair"]


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("transfer-uniform", "transfer, uniform over all wallets", "transfer", "all"),
    Scenario("transfer-hot", f"transfer, hot spot ({HOT_WALLETS} wallets)", "transfer", "hot"),
    Scenario("transfer-pair", "transfer, one pair A<->B both ways", "transfer", "pair"),
    Scenario("resupply", "resupply, uniform over all wallets", "resupply", "all"),
    Scenario("read", "read wallet { balance }, uniform", "read", "all"),
    Scenario(
        "hold-capture",
        "hold + capture (2 requests), uniform over all wallets",
        "hold-capture",
        "all",
    ),
)


@dataclass(frozen=True)
class WalletRange:
    """Wallet ids ``first .. first + count - 1``; a transfer picks two distinct ones at random."""

    first: int
    count: int

    @property
    def last(self) -> int:
        return self.first + self.count - 1


@dataclass(frozen=True)
class Wallets:
    """The seeded wallets (contiguous ids) and the ranges the scenarios draw from."""

    first: int
    count: int

    def range_for(self, scenario: Scenario) -> WalletRange:
        if scenario.wallets == "hot":
            return WalletRange(self.first, HOT_WALLETS)
        if scenario.wallets == "pair":  # two wallets outside the hot spot
            return WalletRange(self.first + HOT_WALLETS, 2)
        return WalletRange(self.first, self.count)


@dataclass(frozen=True)
class Job:
    """One measurement's load: what to do, on which wallets, how many clients, how long."""

    kind: Kind
    wallets: WalletRange
    clients: int
    seconds: int
    seed: int
    gated: bool = False  # the wallets are contended: the API sends their writes through its gate


@dataclass
class Load:
    """What a load generator measured: outcome counts and latencies of the requests it made."""

    requests: int  # completed requests (successes and failures)
    seconds: float  # measured wall time
    counts: dict[str, int]  # outcome (GraphQL __typename, "HTTP 503", ...) -> requests
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    retries: int = 0  # as counted by the generator itself (pgbench, asyncpg); else by the server
    socket_errors: int = 0  # connect/read/write errors and timeouts (wrk, httpx)
    generator_cpu_s: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass
class Result:
    """One cell of the report: a scenario at one concurrency under one configuration."""

    scenario: str
    config: str  # "pgbench", "asyncpg", "api-1w", "api-2w"
    clients: int
    seconds: float
    ok: int
    failed: int
    throughput: float  # successful operations per second
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    retries: int
    outcomes: dict[str, int]
    committed: int  # new transactions in the database after the run
    conserved: bool  # money conservation held after the run
    generator_cpu_pct: float  # load generator, % of one core
    server_cpu_pct: float | None  # API processes, % of one core
    server_cpu_ms_per_op: float | None  # API processes' CPU per successful operation
    machine_cpu_pct: float  # all cores busy, % of the machine
    ratio_to_pgbench: float | None = None
    notes: list[str] = field(default_factory=list)


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values; 0 for none."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def money(value: str) -> Decimal:
    """An exact amount; it must have two decimals, as the API writes them."""
    amount = Decimal(value)
    if amount.as_tuple().exponent != -2:
        raise ValueError(f"amount {value!r} must have two decimals")
    return amount


@dataclass(frozen=True)
class Finished:
    """A child process that ran to completion, with the CPU it used."""

    returncode: int
    stdout: str
    stderr: str
    cpu_s: float  # user + system of the child (and its reaped children)
    seconds: float


def run_measured(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float,
    scratch: Path,
) -> Finished:
    """Run a command to completion and measure its own CPU use (``wait4``, not sampling).

    Blocking: call it through ``asyncio.to_thread``. Output goes through files in ``scratch`` so
    a chatty child never blocks on a full pipe. Killed (by its pid) if it outlives ``timeout``.
    """
    out_path, err_path = scratch / "child.out", scratch / "child.err"
    started = time.perf_counter()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen consistent
    return Finished(
        returncode=proc.returncode,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
        cpu_s=usage.ru_utime + usage.ru_stime,
        seconds=time.perf_counter() - started,
    )
