"""bench/throughput.py says at once which extra it needs, before it measures anything."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THROUGHPUT = ROOT / "bench" / "throughput.py"

# `python bench/throughput.py --quick` with matplotlib not importable, as where the bench extra
# is not installed (a None in sys.modules makes its import fail and find_spec return None).
WITHOUT_MATPLOTLIB = f"""
import runpy, sys
sys.modules["matplotlib"] = None
sys.path.insert(0, {str(THROUGHPUT.parent)!r})
sys.argv = [{str(THROUGHPUT)!r}, "--quick"]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_throughput_without_the_bench_extra_stops_at_once_naming_it(tmp_path: Path) -> None:
    # given: a database URL nothing answers at, so that a run which started measuring anyway
    # would fail there within seconds rather than measure for minutes
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    env["BILLING_DATABASE_URL"] = f"postgresql://billing:unused@/billing?host={tmp_path}"

    # when: the benchmark is started without matplotlib
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_MATPLOTLIB],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.monotonic() - started

    # then: it stops at once, saying what is missing and how to install it, having measured nothing
    assert done.returncode == 1, done.stdout + done.stderr
    assert "needs matplotlib" in done.stderr, done.stderr
    assert "pip install -e '.[bench]'" in done.stderr, done.stderr
    assert done.stdout == "", done.stdout
    assert elapsed < 30, elapsed
