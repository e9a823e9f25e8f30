"""The wallet gate: writers to the same wallets queue instead of aborting each other.

Two levels. In the process, ``KeyedLocks`` queues writers by wallet before they take a pooled
connection. Across processes, writers to hot wallets (``HotWallets``) and to one idempotency key
also queue on session advisory locks (``advisory_locks``), taken before their transaction starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.statements import Statement, fetch
from billing.errors import ServiceUnavailable

log = logging.getLogger(__name__)


class KeyedLocks:
    """In-process locks by key, created on demand and dropped when nobody uses them.

    Writers to the same wallets queue here before they take a pooled connection, so a hot
    wallet cannot tie up the pool with connections that only wait for its database lock.
    """

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    @asynccontextmanager
    async def hold(self, keys: list[int], deadline: float) -> AsyncIterator[list[int]]:
        """Hold the locks of ``keys`` (sorted: every holder takes them in the same order).

        Yields the keys that another request held or waited for when this one arrived. Waiting
        ends at ``deadline`` (the event loop's clock) with ServiceUnavailable: the requests
        ahead hold the wallets too long (a database that stopped answering, say).
        """
        contended = [key for key in keys if self._users.get(key)]
        for key in keys:
            self._users[key] = self._users.get(key, 0) + 1
            self._locks.setdefault(key, asyncio.Lock())
        held: list[asyncio.Lock] = []
        try:
            try:
                async with asyncio.timeout_at(deadline):
                    for key in keys:
                        await self._locks[key].acquire()
                        held.append(self._locks[key])
            except TimeoutError:
                raise ServiceUnavailable(busy=True) from None
            yield contended
        finally:
            for lock in reversed(held):
                lock.release()
            for key in keys:
                self._users[key] -= 1
                if not self._users[key]:
                    del self._users[key], self._locks[key]


class HotWallets:
    """Wallets whose writers recently conflicted with writers in another process.

    A wallet turns hot when a transaction on it had to be retried, and stays hot while
    writers keep queueing for it here (they would keep colliding with the other processes'
    writers). Only hot wallets go through the database gate: for all the others, conflicts
    are too rare to pay its two round trips on every write.
    """

    def __init__(self, ttl: float = 10.0, capacity: int = 100_000) -> None:
        self.ttl = ttl
        self.capacity = capacity
        self._until: dict[int, float] = {}

    def is_hot(self, wallet_id: int, now: float) -> bool:
        return self._until.get(wallet_id, 0.0) > now

    def mark(self, wallet_ids: Iterable[int], now: float) -> None:
        for wallet_id in wallet_ids:
            self._until[wallet_id] = now + self.ttl
        if len(self._until) > self.capacity:
            self._until = {k: t for k, t in self._until.items() if t > now}

    def keep(self, wallet_ids: Iterable[int], now: float) -> None:
        """Extend the wallets that are hot already."""
        self.mark((w for w in wallet_ids if self.is_hot(w, now)), now)


@asynccontextmanager
async def advisory_locks(conn: AsyncConnection, keys: list[int]) -> AsyncIterator[None]:
    """Session advisory locks on ``keys`` (in the order given) around the block.

    ``conn`` is in autocommit mode: the locks are taken before any transaction starts. Both
    statements go straight to the driver (billing.db.statements).
    """
    if not keys:
        yield
        return
    try:
        await fetch(conn, _LOCK_IN_ORDER, {"keys": keys})
        yield
    finally:
        # Also when only some of the locks were taken (say, a timeout on the second).
        await _release(conn)


# One round trip. A volatile function in the select list is evaluated after ORDER BY, so the
# locks are taken in the order given (ascending: no deadlock cycles).
_LOCK_IN_ORDER = Statement(
    "SELECT pg_advisory_lock(k) FROM unnest(CAST(:keys AS bigint[])) WITH ORDINALITY AS t(k, n)"
    " ORDER BY n"
)
_UNLOCK_ALL = Statement("SELECT pg_advisory_unlock_all()")


async def _release(conn: AsyncConnection) -> None:
    if conn.invalidated:
        return  # its session is gone, and its locks with it (using it would connect anew)
    try:
        await fetch(conn, _UNLOCK_ALL, {})
    except Exception:
        # The session may be gone (its locks with it), or inside a transaction that failed. If
        # not, closing it is the only way to be sure no lock outlives this request.
        log.debug("could not release wallet locks; discarding the connection", exc_info=True)
        with contextlib.suppress(Exception):
            await conn.invalidate()
