"""Instructions per request: what each operation costs the service's own code, counted.

    python bench/instructions.py --rev 2e639f6       # this src/ against 2e639f6's, ~20 minutes
    python bench/instructions.py --rev HEAD~1 --scenarios transfer --requests 50

Timed CPU (bench/request_cpu.py) moves by up to a third between two runs of the same code on a
shared machine. Valgrind's callgrind counts the instructions the process executes instead, which
does not depend on what else the machine runs. It counts instructions, not time (a cache miss
costs one), and the process runs some fifty times slower: use it to compare two versions, and
request_cpu.py for microseconds. Compare a scenario whose path a change touches with one whose
path it does not (the read, for a change to writes): the latter's ratio is what the two
versions' runs differ by apart from the code (2 % in docs/performance.md's run).

For the working tree's src/, and --rev's (exported with git archive), and each scenario, the app
runs in-process as in request_cpu.py (ASGI, no server; one request at a time) under callgrind
twice: after the warm-up only, and after the warm-up and --requests more. The difference divided
by the requests is the instructions per request: start-up, imports and warm-up cancel out.
PostgreSQL runs in its own processes and is not counted: one embedded server for the whole run
(a database per version, seeded once), or BILLING_DATABASE_URL (a database you can spare; both
versions then use it). Needs valgrind (Debian: apt install valgrind).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import request_cpu  # noqa: E402 - after the bench directory is on the path
from tpbench.common import export_src  # noqa: E402
from tpbench.database import operator_token, prepare  # noqa: E402

DEFAULT_SCENARIOS = "transfer,read,hold-capture,transfer-refund"
COLLECTED = re.compile(r"Collected : (\d+)")


async def seed(url: str, wallets: int) -> dict[str, int]:
    """Migrate and seed (with the version on PYTHONPATH): the wallets' range."""
    seeded = await prepare(url, wallets)
    return {"first": seeded.first, "count": seeded.count}


async def requests(
    url: str, scenario: str, wallets: request_cpu.Wallets, warm_up: int, n: int
) -> int:
    """Start the app, send the warm-up, then ``n`` requests (none if 0): how many were sent."""
    from billing.app import create_app
    from billing.config import Settings

    token = await operator_token(url)
    app = create_app(Settings(database_url=url, log_format="json", events_relay=False))
    devnull = open(os.devnull, "w")  # noqa: SIM115, ASYNC230 - for the life of the process
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    stop = await request_cpu.lifespan(app)
    try:
        await asyncio.wait_for(app.state.schema_ready.wait(), 600)
        send = request_cpu.Client(app, token).send
        run = request_cpu.SCENARIOS[scenario]
        sent = 0
        while sent < warm_up:
            sent += await run(send, wallets)
        sent = 0
        while sent < n:
            sent += await run(send, wallets)
        return sent
    finally:
        await stop()


def child(argv: list[str]) -> None:
    """``--seed URL WALLETS`` or ``--send URL SCENARIO FIRST COUNT WARM_UP N``: JSON on stdout."""
    if argv[0] == "--seed":
        print(json.dumps(request_cpu.run(seed(argv[1], int(argv[2])))))
    else:
        url, scenario, *numbers = argv[1:]
        first, count, warm_up, n = map(int, numbers)
        wallets = request_cpu.Wallets(first, count, seed=1)
        sent = request_cpu.run(requests(url, scenario, wallets, warm_up, n))
        print(json.dumps({"sent": sent}))


def run_child(
    what: str, src: Path, args: list[str], *, counted: bool
) -> tuple[dict[str, Any], int]:
    """This script as a child on ``src``'s billing (under callgrind if ``counted``): its JSON,
    and the instructions it executed (0 if not counted). ``what`` names it if it fails."""
    path = [str(src), str(BENCH), *filter(None, [os.environ.get("PYTHONPATH")])]
    # (a fixed hash seed: the same dict layouts in every run, so nearly the same instructions)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "PYTHONHASHSEED": "0"}
    command = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    with tempfile.TemporaryDirectory(prefix="billing-callgrind-") as out:
        if counted:
            command = [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}/callgrind.out",
                *command,
            ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    found = COLLECTED.findall(done.stderr)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or (counted and not found):
        sys.exit(f"{what} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1]), int(found[-1]) if found else 0


def measure(
    options: argparse.Namespace, versions: list[tuple[str, Path]], urls: dict[str, str]
) -> dict[str, dict[str, float]]:
    per_request: dict[str, dict[str, float]] = {}
    for label, src in versions:
        url = urls[label]
        seeded, _ = run_child(
            f"seeding for {label}", src, ["--seed", url, str(options.wallets)], counted=False
        )
        first, count = str(seeded["first"]), str(seeded["count"])
        per_request[label] = {}
        for scenario in options.scenarios:
            base = [url, scenario, first, count, str(options.warm_up)]
            what = f"{label} {scenario}"
            _, start_only = run_child(what, src, ["--send", *base, "0"], counted=True)
            answer, with_requests = run_child(
                what, src, ["--send", *base, str(options.requests)], counted=True
            )
            per_request[label][scenario] = (with_requests - start_only) / answer["sent"]
            print(
                f"  {label} {scenario}: {per_request[label][scenario] / 1e6:.2f} M",
                file=sys.stderr,
                flush=True,
            )
    return per_request


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", help="also count src/ as of this git revision, and compare")
    parser.add_argument("--scenarios", default=DEFAULT_SCENARIOS)
    parser.add_argument("--requests", type=int, default=100, help="requests counted")
    parser.add_argument("--warm-up", type=int, default=50, help="requests before counting")
    parser.add_argument("--wallets", type=int, default=1_000)
    options = parser.parse_args()
    options.scenarios = options.scenarios.split(",")
    if unknown := set(options.scenarios) - set(request_cpu.SCENARIOS):
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if shutil.which("valgrind") is None:
        sys.exit("bench/instructions.py needs valgrind (Debian: apt install valgrind)")
    with tempfile.TemporaryDirectory(prefix="billing-instructions-") as work:
        versions: list[tuple[str, Path]] = []
        if options.rev:
            src, commit = export_src(options.rev, Path(work))
            versions.append((commit[:10], src))
        versions.append(("now", REPO / "src"))
        url = os.environ.get("BILLING_DATABASE_URL")
        if url is not None:
            counted = measure(options, versions, dict.fromkeys((v for v, _ in versions), url))
        else:
            from billing.db.embedded import ensure_database, start_embedded

            server = start_embedded(Path(work) / "pg", cleanup_mode="delete")
            try:
                urls = {}
                for i, (label, _) in enumerate(versions):
                    request_cpu.run(ensure_database(server.admin_url, f"instructions_{i}"))
                    urls[label] = server.url(f"instructions_{i}")
                counted = measure(options, versions, urls)
            finally:
                server.stop()
    report(options, [label for label, _ in versions], counted)


def report(
    options: argparse.Namespace, labels: list[str], counted: dict[str, dict[str, float]]
) -> None:
    print(f"\nInstructions per request (callgrind), after {options.warm_up} requests,")
    print(f"counted over {options.requests}, one at a time:\n")
    header = " | ".join(f"{label}, M" for label in labels)
    ratio = f" | now / {labels[0]}" if len(labels) > 1 else ""
    print(f"| scenario | {header}{ratio} |")
    print("|---|" + "---:|" * (len(labels) + (1 if ratio else 0)))
    for scenario in options.scenarios:
        values = [counted[label][scenario] for label in labels]
        cells = " | ".join(f"{v / 1e6:.2f}" for v in values)
        tail = f" | {values[-1] / values[0]:.3f}" if ratio else ""
        print(f"| {scenario} | {cells}{tail} |")


if __name__ == "__main__":
    main()
