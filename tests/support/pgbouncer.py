"""PgBouncer (the Debian package) in transaction pooling mode, in front of a test's PostgreSQL.

Stock settings, as a deployment would have them: only ``extra_float_digits`` is ignored among
startup parameters (as PgBouncer's documentation suggests); nothing else the service sends at
connection start is accepted. Tests that need it and do not find it skip, saying so
(``require_pgbouncer``); the benchmark of many nodes uses it too.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from support.serve import free_port

SYSTEM_USER = "pgserver"  # who runs the embedded PostgreSQL when the tests run as root


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/sbin")


def require_pgbouncer() -> None:
    """Skip the test, saying why, where PgBouncer is not installed."""
    if pgbouncer_binary() is None:
        import pytest  # (here: benchmarks use this module without pytest)

        pytest.skip("PgBouncer is not installed (Debian package pgbouncer; .ci/run installs it)")


@dataclass
class PgBouncer:
    port: int
    directory: Path
    proc: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        """SQLAlchemy (asyncpg) URL of ``database`` through PgBouncer."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        binary = pgbouncer_binary()
        if binary is None:
            raise RuntimeError("PgBouncer is not installed (Debian package pgbouncer)")
        command = [binary, str(self.directory / "pgbouncer.ini")]
        if os.geteuid() == 0:
            command[1:1] = ["-u", SYSTEM_USER]  # PgBouncer does not run as root
        with (self.directory / "pgbouncer.out").open("ab") as output:
            self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=output)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    said = (self.directory / "pgbouncer.out").read_text()
                    raise AssertionError(
                        f"PgBouncer did not start:\n{said}\n{self.log()}"
                    ) from None
                time.sleep(0.05)

    def stop(self, *, sig: int = signal.SIGINT) -> None:
        """SIGINT: PgBouncer's immediate shutdown (connections dropped, as in a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        path = self.directory / "pgbouncer.log"
        return path.read_text() if path.exists() else ""


@contextmanager
def pgbouncer(
    admin_url: str, *, pool_size: int = 20, max_client_conn: int = 1000
) -> Iterator[PgBouncer]:
    """PgBouncer on a free port of 127.0.0.1, every database of the server at ``admin_url``
    (a Unix socket or a TCP address) behind it, in transaction pooling mode. Its files are in
    a temporary directory of its own (deleted afterwards), which it can reach when it runs as
    another user."""
    server = make_url(admin_url)
    socket_dir = server.query.get("host")
    host = str(socket_dir) if isinstance(socket_dir, str) else server.host or "127.0.0.1"
    port = server.port or 5432
    with tempfile.TemporaryDirectory(prefix="billing-pgbouncer-") as name:
        directory = Path(name)
        os.chmod(directory, 0o777)  # PgBouncer may run as another user (see start)
        bouncer = PgBouncer(free_port(), directory)
        with _running(bouncer, server.username, host, port, pool_size, max_client_conn):
            yield bouncer


@contextmanager
def _running(
    bouncer: PgBouncer, user: str | None, host: str, port: int, pool_size: int, clients: int
) -> Iterator[PgBouncer]:
    directory = bouncer.directory
    (directory / "users.txt").write_text(f'"{user or "postgres"}" ""\n')
    (directory / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={host} port={port}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {bouncer.port}\n"
        f"unix_socket_dir = {directory}\n"
        "auth_type = trust\n"
        f"auth_file = {directory / 'users.txt'}\n"
        "pool_mode = transaction\n"
        f"default_pool_size = {pool_size}\n"
        f"max_client_conn = {clients}\n"
        "ignore_startup_parameters = extra_float_digits\n"
        f"logfile = {directory / 'pgbouncer.log'}\n"
        f"pidfile = {directory / 'pgbouncer.pid'}\n"
    )
    for name in ("users.txt", "pgbouncer.ini"):
        os.chmod(directory / name, 0o644)
    bouncer.start()
    try:
        yield bouncer
    finally:
        bouncer.stop()
