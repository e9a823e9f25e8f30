"""The wallet gate: writers to the same wallets queue instead of aborting each other.

Two levels. In the process, ``KeyedLocks`` queues writers by wallet (or hold, or refunded
payment, or idempotency key) before they take a pooled connection. Across processes, writers to
hot wallets, holds and payments (``HotWallets``) and to one idempotency key (always) also queue
on transaction advisory locks (``lock_in_order``), taken before their transaction starts (see
``Database._gate``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable, Iterable

from billing.errors import ServiceUnavailable


class KeyedLocks:
    """In-process locks by key, created on demand and dropped when nobody uses them.

    Writers to the same wallets queue here before they take a pooled connection, so a hot
    wallet cannot tie up the pool with connections that only wait for its database lock.
    """

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    async def acquire(self, keys: list[int], deadline: float) -> list[int]:
        """Take the locks of ``keys`` (sorted: every holder takes them in the same order); the
        holder gives them back with ``release``.

        Returns the keys that another request held or waited for when this one arrived.
        Waiting ends at ``deadline`` (the event loop's clock) with ServiceUnavailable: the
        requests ahead hold the wallets too long (a database that stopped answering, say).
        """
        users, locks = self._users, self._locks
        contended = [key for key in keys if key in users]
        for key in keys:
            users[key] = users.get(key, 0) + 1
            if key not in locks:
                locks[key] = asyncio.Lock()
        held = 0
        # Uncontended, every lock is new and free, taken at once: no timer armed (a timer costs
        # every request).
        bound = asyncio.timeout_at(deadline) if contended else contextlib.nullcontext()
        try:
            async with bound:
                for key in keys:
                    await locks[key].acquire()
                    held += 1
        except BaseException as exc:
            self._release(keys, held)
            if isinstance(exc, TimeoutError):
                raise ServiceUnavailable(busy=True) from None
            raise
        return contended

    def release(self, keys: list[int]) -> None:
        """Give back the locks that ``acquire`` took for ``keys``."""
        self._release(keys, len(keys))

    def _release(self, keys: list[int], held: int) -> None:
        for key in reversed(keys[:held]):
            self._locks[key].release()
        for key in keys:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


class Slots:
    """A budget of ``size`` slots (connections), handed out first come, first served.

    A request that finds none free waits in line until its own time is up (``take``); one
    timer, for the earliest of those times, serves all that wait.
    """

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiting: collections.deque[tuple[asyncio.Future[None], float]] = collections.deque()
        self._timer = EarliestTimer(self._expire)

    def locked(self) -> bool:
        return not self._free

    async def take(self, loop: asyncio.AbstractEventLoop, until: float) -> None:
        """One slot, or TimeoutError if none came before ``until`` (the loop's clock)."""
        if self._free and not self._waiting:
            self._free -= 1
            return
        turn = loop.create_future()
        self._waiting.append((turn, until))
        self._timer.expect(loop, until)
        try:
            await turn
        except BaseException:
            if turn.done() and not turn.cancelled() and turn.exception() is None:
                self.give()  # handed over just as this request gave up: the next one's
            raise

    def give(self) -> None:
        """Give a slot back: to the request that has waited longest, if any still waits."""
        while self._waiting:
            turn, _ = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self._free += 1

    def _expire(self, now: float) -> float | None:
        """Time out those whose time is up; the earliest time of those still waiting."""
        for turn, until in self._waiting:
            if not turn.done() and until <= now:
                turn.set_exception(TimeoutError())
        self._waiting = collections.deque(w for w in self._waiting if not w[0].done())
        return min((until for _, until in self._waiting), default=None)


class EarliestTimer:
    """One timer for many deadlines, armed for the earliest: a timer of the event loop's for
    each (a request's) costs some microseconds to arm and to cancel.

    ``expect(loop, at)``: something is due at ``at``. When the timer fires, ``due(now)`` deals
    with everything due by ``now`` and returns the next deadline to fire at, if any.
    """

    # How early a timer may fire by the loop's clock (uvloop's timers count milliseconds).
    SLACK = 0.001

    def __init__(self, due: Callable[[float], float | None]) -> None:
        self._due = due
        self._handle: asyncio.TimerHandle | None = None
        self._at = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    def expect(self, loop: asyncio.AbstractEventLoop, at: float) -> None:
        if self._handle is None or at < self._at or self._loop is not loop:
            self._arm(loop, at)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _arm(self, loop: asyncio.AbstractEventLoop, at: float) -> None:
        if self._loop is loop:
            self.cancel()  # (a timer of another loop, closed since, is left alone)
        self._at, self._loop = at, loop
        self._handle = loop.call_at(at, self._fire, loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._handle = None
        then = self._due(loop.time() + self.SLACK)
        if then is not None:
            self._arm(loop, then)


class HotWallets:
    """Wallets (and holds, and payments being refunded, by their lock ids) whose writers
    recently conflicted with writers in another process.

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
