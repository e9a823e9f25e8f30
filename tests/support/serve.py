"""`billing serve` in a subprocess: on a free port, called over HTTP, stopped with Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

BILLING = [sys.executable, "-m", "billing.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    env.update(extra)
    return env


TOKEN = re.compile(r"\bbk_[A-Za-z0-9_-]{20,}")


@dataclass
class Served:
    url: str
    proc: subprocess.Popen[str]
    output: list[str]  # stdout and stderr lines so far

    def token(self) -> str:
        """The operator token printed on the first start of a data directory."""
        found = [m.group(0) for line in self.output if (m := TOKEN.search(line))]
        assert found, "".join(self.output)
        return found[0]


@contextmanager
def serving(data_dir: Path, *args: str, **env: str) -> Iterator[Served]:
    """Run `billing serve` until the block ends, then stop it with Ctrl-C (SIGINT)."""
    port = free_port()
    proc = subprocess.Popen(
        [*BILLING, "serve", "--port", str(port), *args],
        env=clean_env(BILLING_DATA_DIR=str(data_dir), **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    served = Served(f"http://127.0.0.1:{port}/graphql", proc, [])
    reader = threading.Thread(target=lambda: served.output.extend(proc.stdout or []))
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                reader.join(5)
                raise AssertionError(f"billing serve exited early:\n{''.join(served.output)}")
            try:
                httpx.get(served.url, params={"query": "{ __typename }"}, timeout=2)
                break  # it answers (401 without a token): it is up
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("billing serve did not answer within 60 s")
            time.sleep(0.2)
        yield served
    finally:
        interrupt(proc)
        reader.join(10)
        if proc.stdout is not None:
            proc.stdout.close()


def interrupt(proc: subprocess.Popen[Any]) -> None:
    """Stop a process as Ctrl-C would (SIGINT), killing it if it has not ended in 30 s."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def gql(
    url: str, token: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = httpx.post(
        url,
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def postmasters(pgdata: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and str(pgdata) in cmdline:
            found.append(proc)
    return found
