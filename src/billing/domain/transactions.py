"""The one place where write transactions are opened, committed and retried.

Every money-moving operation runs ``Database.write(work)``: one SERIALIZABLE transaction, retried
on serialization failures (40001) and deadlocks (40P01), including those raised by COMMIT. The
outcome of a fault is classified by what the server told us and when it happened:

* 40001 / 40P01: the server aborted the transaction, so running it again is safe;
* connection lost before COMMIT was sent: nothing was written, so running it again is safe;
* connection lost during COMMIT: the outcome is unknown, so it is reported as such, never as
  a failure;
* the database unreachable for the whole retry budget: ``ServiceUnavailable`` (nothing written).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from billing.domain.errors import OutcomeUnknown, ServiceUnavailable, TryAgain
from billing.observability import observe_retry

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
# Connection problems, the server shutting down or starting up, too many connections.
UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "57P01", "57P02", "57P03", "53300", "40003")
# Statement or lock timeout: waiting longer will not help this request.
BUSY_SQLSTATES = frozenset({"57014", "55P03"})


class Fault(enum.Enum):
    RETRY = "retry"  # the server aborted the transaction: run it again
    UNAVAILABLE = "unavailable"  # the database could not be reached or the connection broke
    BUSY = "busy"  # timed out waiting; give up for now


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE carried by an exception as SQLAlchemy or asyncpg raise it."""
    for candidate in (exc, getattr(exc, "orig", None), getattr(exc, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None)
        if isinstance(code, str):
            return code
    orig = getattr(exc, "orig", None)
    cause = getattr(orig, "__cause__", None)
    code = getattr(cause, "sqlstate", None)
    return code if isinstance(code, str) else None


def classify(exc: BaseException) -> Fault | None:  # noqa: PLR0911 - one exit per rule
    """How to react to an exception from the database; None means it is a bug, not a fault."""
    state = sqlstate_of(exc)
    if state in RETRYABLE_SQLSTATES:
        return Fault.RETRY
    if state in BUSY_SQLSTATES:
        return Fault.BUSY
    if state is not None and state.startswith(UNAVAILABLE_SQLSTATE_PREFIXES):
        return Fault.UNAVAILABLE
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return Fault.UNAVAILABLE
    if isinstance(exc, sa_exc.TimeoutError):
        return Fault.BUSY  # no pooled connection in time: the process is saturated
    if isinstance(exc, OSError | asyncpg.exceptions.ConnectionDoesNotExistError):
        return Fault.UNAVAILABLE  # refused, reset, connect timeout, connection gone
    if isinstance(exc, sa_exc.InterfaceError | asyncpg.InterfaceError) and "closed" in str(exc):
        return Fault.UNAVAILABLE  # "connection is closed": terminated while idle, no sqlstate
    return None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 10
    base_delay: float = 0.002
    max_delay: float = 0.2
    deadline: float = 10.0  # seconds; no retry starts after this much time has passed

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter for the sleep after failed attempt ``attempt``."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography


@dataclass
class Counters:
    """Process-wide counts, for logs and tests; metrics export builds on these."""

    retries: int = 0
    try_again: int = 0
    unavailable: int = 0


class KeyedLocks:
    """In-process locks by key, created on demand and dropped when nobody uses them.

    Writers to the same wallets queue here before they take a pooled connection, so a hot
    wallet cannot tie up the pool with connections that only wait for its database lock.
    """

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    @asynccontextmanager
    async def hold(self, keys: list[int]) -> AsyncIterator[list[int]]:
        """Hold the locks of ``keys`` (sorted: every holder takes them in the same order).

        Yields the keys that another request held or waited for when this one arrived.
        """
        contended = [key for key in keys if self._users.get(key)]
        for key in keys:
            self._users[key] = self._users.get(key, 0) + 1
            self._locks.setdefault(key, asyncio.Lock())
        held: list[asyncio.Lock] = []
        try:
            for key in keys:
                await self._locks[key].acquire()
                held.append(self._locks[key])
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


def unreachable(exc: BaseException) -> bool:
    """The connection broke or could not be made (as opposed to: the pool was exhausted)."""
    cause = exc.__cause__ if isinstance(exc, ServiceUnavailable) else exc
    return cause is not None and classify(cause) is Fault.UNAVAILABLE


def read_failure(exc: Exception) -> ServiceUnavailable | None:
    """What a failed read means for the caller: the database is down or saturated."""
    fault = classify(exc)
    if fault is Fault.UNAVAILABLE:
        return ServiceUnavailable()
    if fault is Fault.BUSY:
        return ServiceUnavailable(busy=True)
    return None


@dataclass
class Database:
    engine: AsyncEngine
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    counters: Counters = field(default_factory=Counters)
    wallet_queue: KeyedLocks = field(default_factory=KeyedLocks)
    hot: HotWallets = field(default_factory=HotWallets)

    async def write(
        self,
        work: Callable[[AsyncConnection], Awaitable[T]],
        *,
        wallet_locks: Iterable[int] = (),
        one_statement: bool = False,
    ) -> T:
        """Run ``work`` in one SERIALIZABLE transaction, retried as described in this module.

        ``wallet_locks``: wallets (positive ids) and idempotency keys (negative ids) whose
        concurrent writers should queue instead of aborting each other. They queue first in
        this process, then, for idempotency keys and hot wallets (see ``HotWallets``), on
        session advisory locks taken in ascending order *before* the transaction starts (a lock
        taken inside a SERIALIZABLE transaction comes after its snapshot, too late to prevent
        the conflict), and released after it ends.

        ``one_statement``: ``work`` sends a single statement, which PostgreSQL runs as a
        transaction of its own (SERIALIZABLE: the connections' default), without BEGIN and
        COMMIT round trips. Work that finds nothing to change may send a second, read-only one.
        """
        locks = sorted(set(wallet_locks))
        async with self.wallet_queue.hold(locks) as contended:
            self.hot.keep(contended, asyncio.get_running_loop().time())
            return await self._write(work, locks, one_statement)

    async def _write(
        self, work: Callable[[AsyncConnection], Awaitable[T]], locks: list[int], one: bool
    ) -> T:
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self.policy.deadline
        attempt = 0
        while True:
            attempt += 1
            committing = False
            gated = [k for k in locks if k < 0 or self.hot.is_hot(k, loop.time())]
            try:
                async with self.engine.connect() as conn:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    async with _gate(conn, gated):
                        if one:
                            committing = True  # the statement commits as it completes
                            return await work(conn)
                        await conn.execution_options(isolation_level="SERIALIZABLE")
                        async with conn.begin():
                            result = await work(conn)
                            committing = True
                        return result
            except Exception as exc:
                fault = classify(exc)
                if fault is None:
                    raise
                if fault is Fault.UNAVAILABLE and committing:
                    log.warning("connection lost during COMMIT; outcome unknown: %r", exc)
                    raise OutcomeUnknown() from exc
                if fault is Fault.BUSY:
                    self.counters.try_again += 1
                    raise TryAgain() from exc
                if fault is Fault.RETRY:
                    self.hot.mark((k for k in locks if k > 0), loop.time())
                pause = self.policy.backoff(attempt)
                if attempt >= self.policy.max_attempts or loop.time() + pause > give_up_at:
                    if fault is Fault.RETRY:
                        self.counters.try_again += 1
                        log.warning("giving up after %d attempts: %r", attempt, exc)
                        raise TryAgain() from exc
                    self.counters.unavailable += 1
                    log.error("database unavailable after %d attempts: %r", attempt, exc)
                    raise ServiceUnavailable() from exc
                self.counters.retries += 1
                observe_retry(sqlstate_of(exc))
                log.info("retrying transaction (attempt %d failed: %s)", attempt, fault.value)
                await asyncio.sleep(pause)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only REPEATABLE READ transaction: one consistent snapshot, never a 40001."""
        try:
            async with self.engine.connect() as conn:
                await conn.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
                async with conn.begin():
                    yield conn
        except Exception as exc:
            raise self._failed_read(exc)  # noqa: B904 - the cause is set by _failed_read

    async def read_one(self, query: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``query``, a single statement, on its own: a statement outside a transaction
        block sees one snapshot, so no BEGIN and COMMIT round trips are needed."""

        async def once() -> T:
            async with self.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                return await query(conn)

        return await self.again_if_stale(once)

    async def again_if_stale(self, read: Callable[[], Awaitable[T]]) -> T:
        """Run a read; if its connection turns out to be dead, run it once more.

        After an outage the pooled connections are dead but look fine until used. The first
        failure invalidates the pool, so the second attempt connects afresh; if the database
        is really down, that attempt fails as well and the caller gets ServiceUnavailable.
        """
        try:
            return await read()
        except Exception as exc:
            if not unreachable(exc):
                raise self._failed_read(exc)  # noqa: B904 - the cause is set by _failed_read
        try:
            return await read()
        except Exception as exc:
            raise self._failed_read(exc)  # noqa: B904 - the cause is set by _failed_read

    def _failed_read(self, exc: Exception) -> Exception:
        """What a failed read raises: ServiceUnavailable (caused by ``exc``) when the database
        is down or saturated, else ``exc`` itself."""
        if isinstance(exc, ServiceUnavailable) or (failure := read_failure(exc)) is None:
            return exc
        self.counters.unavailable += 1
        failure.__cause__ = exc
        return failure


@asynccontextmanager
async def _gate(conn: AsyncConnection, keys: list[int]) -> AsyncIterator[None]:
    """Session advisory locks on ``keys`` (in the order given) around the block.

    ``conn`` is in autocommit mode: the locks are taken before any transaction starts.
    """
    if not keys:
        yield
        return
    try:
        # One round trip. A volatile function in the select list is evaluated after ORDER BY,
        # so the locks are taken in the order given (ascending: no deadlock cycles).
        await conn.execute(_LOCK_IN_ORDER, {"keys": keys})
        await conn.commit()
        yield
    finally:
        # Also when only some of the locks were taken (say, a timeout on the second).
        await _release_gate(conn)


_LOCK_IN_ORDER = text(
    "SELECT pg_advisory_lock(k) FROM unnest(CAST(:keys AS bigint[])) WITH ORDINALITY AS t(k, n)"
    " ORDER BY n"
)


async def _release_gate(conn: AsyncConnection) -> None:
    try:
        if conn.in_transaction():
            await conn.rollback()
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("SELECT pg_advisory_unlock_all()"))
        await conn.commit()
    except Exception:
        # The session may be gone (its locks with it). If not, closing it is the only way to be
        # sure no lock outlives this request.
        log.debug("could not release wallet locks; discarding the connection", exc_info=True)
        with contextlib.suppress(Exception):
            await conn.invalidate()
