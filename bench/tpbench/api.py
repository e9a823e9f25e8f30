"""The API under test: ``billing serve`` in a subprocess, its CPU and its retry log lines."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from tpbench.database import dsn

RETRY_LINE = "retrying transaction"
GIVE_UP_LINE = "giving up after"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ApiServer:
    """One ``billing serve --workers N`` on 127.0.0.1, in a process group of its own.

    Only the processes this object started are ever signalled: the group of the child it
    spawned, whose id is that child's pid.
    """

    def __init__(
        self,
        url: str,
        workers: int,
        logs: Path,
        headers: list[str],
        env: dict[str, str] | None = None,
    ) -> None:
        self.workers = workers
        self.env = env or {}  # BILLING_* settings besides the database URL
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/graphql"
        self.stderr_path = logs / f"api-{workers}w-{self.port}.err"
        self.stdout_path = logs / f"api-{workers}w-{self.port}.out"
        self._db_url = dsn(url)
        self._headers = headers
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def argv(self) -> list[str]:
        # ``python -m billing.cli`` is the ``billing`` console script of this interpreter.
        host = ["--host", "127.0.0.1", "--port", str(self.port)]
        return [sys.executable, "-m", "billing.cli", "serve", *host, "--workers", str(self.workers)]

    def start(self, probe_wallet: int, timeout: float = 90.0) -> float:
        """Start and wait until a GraphQL read answers; returns the seconds it took."""
        env = dict(os.environ)
        env["BILLING_DATABASE_URL"] = self._db_url
        env.update(self.env)
        env.setdefault("BILLING_LOG_LEVEL", "INFO")  # retries are counted from INFO lines
        started = time.perf_counter()
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self._proc = subprocess.Popen(
                self.argv, env=env, stdout=out, stderr=err, start_new_session=True
            )
        body = {
            "query": "query($id: ID!) { wallet(id: $id) { balance } }",
            "variables": {"id": str(probe_wallet)},
        }
        headers = dict(h.split(":", 1) for h in self._headers)
        with httpx.Client(timeout=5.0, headers={k: v.strip() for k, v in headers.items()}) as http:
            while time.perf_counter() - started < timeout:
                if self._proc.poll() is not None:
                    raise RuntimeError(f"billing serve exited early:\n{self.tail()}")
                with contextlib.suppress(httpx.TransportError):
                    answer = http.post(self.url, json=body)
                    if answer.status_code == 200 and '"balance"' in answer.text:
                        return time.perf_counter() - started
                    if answer.status_code != 200 or "errors" in answer.text:
                        raise RuntimeError(f"the API answers {answer.status_code}: {answer.text}")
                time.sleep(0.2)
        raise RuntimeError(f"billing serve did not answer within {timeout:.0f} s:\n{self.tail()}")

    def processes(self) -> list[psutil.Process]:
        if self._proc is None:
            return []
        try:
            root = psutil.Process(self._proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        """User + system CPU of the server and its workers so far."""
        total = 0.0
        for proc in self.processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def log_size(self) -> int:
        return self.stderr_path.stat().st_size

    def count_since(self, offset: int, needle: str) -> int:
        with self.stderr_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace").count(needle)

    def tail(self, lines: int = 30) -> str:
        text = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 20.0) -> None:
        """SIGINT (uvicorn's graceful shutdown) to the group, SIGKILL if it lingers."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            self._proc = None
            return
        workers = []
        for worker in self.processes()[1:]:
            with contextlib.suppress(psutil.NoSuchProcess):
                workers.append((worker, worker.create_time()))
        self._proc = None
        group = proc.pid  # start_new_session: the group id is the child's pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            proc.wait(5)
        # Workers normally leave with the supervisor; make sure none outlives it.
        for worker, created in workers:
            with contextlib.suppress(psutil.NoSuchProcess):
                if worker.create_time() == created:  # the very process, not a reused pid
                    worker.kill()
