"""Recently seen tokens, so that most requests need no database round trip to authenticate.

The cache keeps whatever the caller resolved a token to (the domain's ``Actor``) under the
token's hash; it knows nothing of what that is.

A cached token is trusted only while this process hears about every revocation: revoking a
token notifies the ``billing_tokens`` channel in the same transaction, and one connection per
process listens to it. A notification empties the cache; so does losing that connection, and
while it is down nothing is cached (every request asks the database, as without a cache).
Entries also expire after ``ttl`` seconds. Only valid tokens are cached: an unknown or revoked
secret is looked up every time.

A lookup that started before a revocation must not put its stale answer back after the cache
was emptied: every emptying starts a new generation, and an answer is kept only if the
generation did not change while it was looked up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from typing import Generic, TypeVar

import asyncpg

from billing.config import Settings
from billing.db.engine import drop_dead_peers, server_settings

log = logging.getLogger(__name__)

CHANNEL = "billing_tokens"

V = TypeVar("V")


class TokenCache(Generic[V]):
    def __init__(
        self,
        dsn: str,
        settings: Settings,
        *,
        ttl: float = 60.0,
        size: int = 10_000,
        health_interval: float = 5.0,
    ) -> None:
        self.dsn = dsn
        self.settings = settings
        self.ttl = ttl
        self.size = size
        self.health_interval = health_interval
        self.generation = 0
        self.listening = False
        self._entries: OrderedDict[str, tuple[V, float]] = OrderedDict()
        self._task: asyncio.Task[None] | None = None

    def get(self, secret_hash: str) -> V | None:
        entry = self._entries.get(secret_hash)
        if entry is None or not self.listening:
            return None
        value, expires = entry
        if expires < time.monotonic():
            del self._entries[secret_hash]
            return None
        return value

    def put(self, secret_hash: str, value: V, generation: int) -> None:
        """Keep ``value`` unless the cache was emptied since ``generation`` was read."""
        if not self.listening or generation != self.generation:
            return
        self._entries[secret_hash] = (value, time.monotonic() + self.ttl)
        self._entries.move_to_end(secret_hash)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="token-cache-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen(self) -> None:
        pause = 0.5
        while True:
            try:
                await self._session()
                pause = 0.5
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.info("token cache off until the database is back: %r", exc)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 10.0)

    async def _session(self) -> None:
        """Listen on one connection until it is lost; the cache is on only meanwhile."""
        lost = asyncio.Event()
        conn = await asyncpg.connect(
            self.dsn,
            timeout=self.settings.connect_timeout,
            server_settings=server_settings(self.settings),
        )
        try:
            drop_dead_peers(conn, self.settings.tcp_timeout)
            conn.add_termination_listener(lambda _: lost.set())
            await conn.add_listener(CHANNEL, lambda *_: self.clear())
            self.clear()  # revocations may have happened while nobody listened
            self.listening = True
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self.health_interval)
                if not lost.is_set():  # a connection can also die without a word
                    await asyncio.wait_for(conn.execute("SELECT 1"), self.settings.connect_timeout)
        finally:
            self.listening = False
            self.clear()
            with contextlib.suppress(Exception):
                await conn.close(timeout=1)
