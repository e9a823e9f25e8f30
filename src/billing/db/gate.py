"""The wallet gate: writers to the same wallets queue instead of aborting each other.

Two levels. In the process, ``KeyedLocks`` queues writers by wallet before they take a pooled
connection. Across processes, writers to hot wallets (``HotWallets``) and to one idempotency key
also queue on transaction advisory locks (``lock_in_order``), taken before their transaction
starts (see ``Database._gate``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from billing.errors import ServiceUnavailable


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
            # Uncontended, every lock is new and free, taken at once: no timer armed (a timer
            # costs every request).
            bound = asyncio.timeout_at(deadline) if contended else contextlib.nullcontext()
            try:
                async with bound:
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


def gate_connections(connections: int) -> int:
    """How many connections hold gate locks at most, besides ``connections`` for requests."""
    return max(1, connections // 2)


def lock_in_order(keys: list[int]) -> str:
    """Statements taking the transaction advisory locks of ``keys`` one after the other, in the
    order given (ascending: no deadlock cycles). The keys are integers, written as literals so
    that the locks go in one message with the BEGIN before them."""
    return "; ".join(f"SELECT pg_advisory_xact_lock({int(key)})" for key in keys)
