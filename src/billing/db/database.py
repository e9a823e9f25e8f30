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
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import QueuePool

from billing.config import Settings
from billing.db.engine import input_probe, transaction_settings
from billing.db.faults import (
    CutOff,
    Fault,
    NoFreeConnection,
    classify,
    read_failure,
    sqlstate_of,
    unreachable,
)
from billing.db.gate import (
    EarliestTimer,
    HotWallets,
    KeyedLocks,
    Slots,
    gate_connections,
    lock_in_order,
)
from billing.db.statements import driver_of, run
from billing.errors import OutcomeUnknown, ServiceUnavailable, TryAgain

log = logging.getLogger(__name__)

T = TypeVar("T")

# When the request being served arrived (the event loop's clock), set by the HTTP layer: its
# bounds count from then, not from its first database call. Unset outside a request.
request_arrived: ContextVar[float | None] = ContextVar("billing_request_arrived", default=None)


def _since_arrival(loop: asyncio.AbstractEventLoop, seconds: float) -> float:
    """The deadline ``seconds`` after the current request arrived (or from now)."""
    arrived = request_arrived.get()
    return (loop.time() if arrived is None else arrived) + seconds


def _no_hook(sqlstate: str | None) -> None:
    return None


def _no_count(count: int) -> None:
    return None


# Seconds a kept connection may go unused before it is given back to the engine's pool.
KEEP_IDLE = 1.0

# The gate of a write that queues for no key across processes.
_NO_GATE = contextlib.nullcontext()


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 10
    base_delay: float = 0.002
    max_delay: float = 0.2
    deadline: float = 10.0  # seconds a write may take in all (see Database)

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


@dataclass
class Database:
    """Every database call on the request path, each bounded in time.

    A write gets ``policy.deadline`` seconds in all (queueing for its wallets, taking a pooled
    connection, the gate, the statement, the commit, and its retries); a read gets
    ``read_timeout`` from its start. A write's time counts from the arrival of its request
    (``request_arrived``): a request that waited for the event loop has had that time. At the
    deadline the connection in use is cut off (see ``connection``), so a database that stops
    answering costs a request its bound, never more.
    """

    engine: AsyncEngine
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    read_timeout: float = 5.0
    # How many connections requests may hold at once (the pool's size and overflow; None: the
    # pool's size), and how long one waits for a free one before the service counts as busy.
    connections: int | None = None
    pool_timeout: float = 5.0
    counters: Counters = field(default_factory=Counters)
    wallet_queue: KeyedLocks = field(default_factory=KeyedLocks)
    hot: HotWallets = field(default_factory=HotWallets)
    # Called before a transaction runs again, with the SQLSTATE of the fault (None: the
    # connection broke). The app counts retries in its metrics and request logs here.
    on_retry: Callable[[str | None], None] = _no_hook
    # Called with the number of connections in use whenever it changes (the app's metrics).
    on_in_use: Callable[[int], None] = _no_count
    # Keep connections between uses (see ``connection``); whoever sets this calls ``close``
    # before disposing of the engine.
    keep_connections: bool = False
    # Connections lead to a pooler in transaction mode (see billing.db.engine): nothing may
    # rely on a session outliving its transaction, and ``begin_settings`` (``SET LOCAL``
    # statements) follow each BEGIN.
    pooled: bool = False
    begin_settings: str = ""
    _free: Slots = field(init=False, repr=False)
    _gates: Slots = field(init=False, repr=False)
    # Kept connections not in use, the one given back last at the end.
    _idle: list[_Kept] = field(init=False, repr=False, default_factory=list)
    _trimming: asyncio.TimerHandle | None = field(init=False, repr=False, default=None)
    _closing: set[asyncio.Task[None]] = field(init=False, repr=False, default_factory=set)
    _in_use: int = field(init=False, repr=False, default=0)
    # The uses of connections in progress, and one timer for the earliest of their deadlines
    # (``_cut_overdue``): a timer for each use cost every request some microseconds.
    _uses: dict[_Use, None] = field(init=False, repr=False, default_factory=dict)
    _watch: EarliestTimer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Requests wait for a connection here, first come first served, not in the pool: there a
        # connection given back goes to whichever request asks next, and under load a waiting
        # request could lose every time (seconds of wait, while the pool turned over in ms).
        pool = self.engine.sync_engine.pool
        size = pool.size() if isinstance(pool, QueuePool) else 1
        self._free = Slots(self.connections or size)
        # The gate's connections, each holding a lock for one writer (see ``_gate``): their own
        # budget, so that writers holding locks always find a connection to write with.
        self._gates = Slots(gate_connections(self.connections or size))
        self._watch = EarliestTimer(self._cut_overdue)

    @classmethod
    def configured(
        cls,
        engine: AsyncEngine,
        settings: Settings,
        on_retry: Callable[[str | None], None] = _no_hook,
        *,
        on_in_use: Callable[[int], None] = _no_count,
        keep_connections: bool = False,
    ) -> Database:
        """The database as ``settings`` bound its calls."""
        policy = RetryPolicy(
            max_attempts=settings.retry_max_attempts,
            base_delay=settings.retry_base_delay,
            max_delay=settings.retry_max_delay,
            deadline=settings.write_timeout,
        )
        return cls(
            engine,
            policy,
            read_timeout=settings.read_timeout,
            connections=settings.pool_size + settings.pool_max_overflow,
            pool_timeout=settings.pool_timeout,
            on_retry=on_retry,
            on_in_use=on_in_use,
            keep_connections=keep_connections,
            pooled=settings.database_pooled,
            begin_settings=transaction_settings(settings),
        )

    def connection(self, deadline: float, *, slots: Slots | None = None) -> _Use:
        """A connection (in autocommit mode), and the end of its use at ``deadline`` (the event
        loop's clock).

        Waiting for a free one ends after ``pool_timeout`` (NoFreeConnection: the service is
        busy); taking it (or connecting) ends at the deadline (TimeoutError). At the deadline the
        connection is cut off: its socket is closed at once, without the goodbye that a network
        that stopped answering would make wait. The statement in flight then fails at once, and
        the connection is discarded instead of kept.

        With ``keep_connections``, connections are kept between uses (``_idle``), taken from
        the engine's pool once and given back after ``KEEP_IDLE`` seconds unused (others use
        the engine too: the audit, migrations), or by ``close``: checking one out of
        SQLAlchemy's pool and in again, and setting its isolation level each time, cost a
        request some 100 microseconds. What the pool would do is done here: a kept connection
        that the server closed or wrote to while idle is replaced before use (see
        billing.db.engine), one that failed is discarded, and when one is found dead the others
        kept are discarded too (an outage kills them all).

        ``slots``: whose budget the connection counts against (by default, requests').
        """
        return _Use(self, self._free if slots is None else slots, deadline)

    async def _slot(self, loop: asyncio.AbstractEventLoop, slots: Slots, deadline: float) -> None:
        """One of ``slots``; NoFreeConnection after ``pool_timeout`` (or at the deadline)."""
        try:
            await slots.take(loop, min(deadline, loop.time() + self.pool_timeout))
        except TimeoutError:
            raise NoFreeConnection() from None

    async def _take(self, deadline: float) -> _Kept:
        """A kept connection that still looks sound, else a new one from the engine."""
        while self._idle:
            kept = self._idle.pop()  # the one used last: the oldest go back to the pool
            if kept.looks_sound():
                return kept
            await self._discard_idle()  # the server went away: so did the others
            await _close(kept.conn)
        async with asyncio.timeout_at(deadline):
            conn = await self.engine.connect().start()
        try:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            return _Kept.of(conn)
        except BaseException:
            await _close(conn)
            raise

    def _keep(self, kept: _Kept, loop: asyncio.AbstractEventLoop) -> None:
        kept.used = loop.time()
        self._idle.append(kept)
        if self._trimming is None:
            self._trimming = loop.call_later(KEEP_IDLE, self._trim)

    def _trim(self) -> None:
        """Give back to the engine's pool the connections unused for ``KEEP_IDLE`` seconds."""
        loop = asyncio.get_running_loop()
        self._trimming = None
        since = loop.time() - KEEP_IDLE
        stale = [kept.conn for kept in self._idle if kept.used <= since]
        self._idle = self._idle[len(stale) :]
        if stale:
            task = loop.create_task(_close_all(stale))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        if self._idle:
            self._trimming = loop.call_later(KEEP_IDLE, self._trim)

    async def _discard_idle(self) -> None:
        idle, self._idle = self._idle, []
        await _close_all([kept.conn for kept in idle])

    def _cut_overdue(self, now: float) -> float | None:
        """Cut off the uses whose deadline has come; the next deadline of those left."""
        nearest: float | None = None
        for use in list(self._uses):
            if use.cut:
                continue
            if use.deadline <= now:
                use.cut_off()
            elif nearest is None or use.deadline < nearest:
                nearest = use.deadline
        return nearest

    async def close(self) -> None:
        """Give the kept connections back to the engine (before it is disposed of)."""
        if self._trimming is not None:
            self._trimming.cancel()
            self._trimming = None
        self._watch.cancel()
        await self._discard_idle()
        if self._closing:
            await asyncio.gather(*self._closing)

    async def write(
        self,
        work: Callable[[AsyncConnection], Awaitable[T]],
        *,
        locks: Iterable[int] = (),
        key_lock: int | None = None,
        one_statement: bool = False,
    ) -> T:
        """Run ``work`` in one SERIALIZABLE transaction, retried as described in this module.

        ``locks``: what the work writes to (wallets by their positive ids; a hold or a payment
        by a negative id, see ``billing.domain.idempotency.lock_of``) whose concurrent writers
        should queue instead of aborting each other. They queue in this process, and those
        that have collided with another process's writers (hot, see ``HotWallets``) queue at
        the database gate (``_gate``) across processes too.

        ``key_lock``: an idempotency key's lock. Requests with one key queue in this process
        and at the gate, always: exactly one of them executes at a time, on any node.

        ``one_statement``: ``work`` sends a single statement, which PostgreSQL runs as a
        transaction of its own (SERIALIZABLE: the sessions' default), without BEGIN and COMMIT
        round trips. Work that finds nothing to change may send a second, read-only one.
        Through a pooler (``pooled``) sessions have no such default: the work then runs in a
        transaction like any other.

        Out of time (``policy.deadline``): OutcomeUnknown once the statement (or COMMIT) may
        have reached the server, else ServiceUnavailable.
        """
        loop = asyncio.get_running_loop()
        deadline = _since_arrival(loop, self.policy.deadline)
        keys = sorted({*locks, key_lock} if key_lock is not None else set(locks))
        contended = await self.wallet_queue.acquire(keys, deadline)
        try:
            if contended:
                self.hot.keep(contended, loop.time())
            one = one_statement and not self.pooled
            return await self._write(
                loop, work, keys, key_lock=key_lock, one=one, deadline=deadline
            )
        finally:
            self.wallet_queue.release(keys)

    async def _write(
        self,
        loop: asyncio.AbstractEventLoop,
        work: Callable[[AsyncConnection], Awaitable[T]],
        locks: list[int],
        *,
        key_lock: int | None,
        one: bool,
        deadline: float,
    ) -> T:
        attempt = 0
        while True:
            attempt += 1
            committing = False
            now = loop.time()
            gated = [k for k in locks if k == key_lock or self.hot.is_hot(k, now)]
            gate = self._gate(gated, deadline) if gated else _NO_GATE
            try:
                async with gate, self.connection(deadline) as conn:
                    if one:
                        committing = True  # the statement commits as it completes
                        return await work(conn)
                    async with self._transaction(conn, "SERIALIZABLE"):
                        result = await work(conn)
                        committing = True
                    return result
            except Exception as exc:
                # Out of time (the connection cut off, or none taken in time) is a fault like
                # any lost connection, and no retry fits before the deadline.
                fault = classify(exc)
                if fault is None:
                    raise
                lost = "no answer in time" if loop.time() >= deadline else "connection lost"
                if fault is Fault.UNAVAILABLE and committing:
                    log.warning("%s while committing; outcome unknown: %r", lost, exc)
                    raise OutcomeUnknown() from exc
                if fault is Fault.BUSY:
                    self.counters.try_again += 1
                    raise TryAgain() from exc
                if fault is Fault.RETRY:
                    self.hot.mark((k for k in locks if k != key_lock), loop.time())
                pause = self.policy.backoff(attempt)
                if attempt >= self.policy.max_attempts or loop.time() + pause > deadline:
                    if fault is Fault.RETRY:
                        self.counters.try_again += 1
                        log.warning("giving up after %d attempts: %r", attempt, exc)
                        raise TryAgain() from exc
                    self.counters.unavailable += 1
                    log.error("database unavailable (%s, %d attempts): %r", lost, attempt, exc)
                    raise ServiceUnavailable() from exc
                self.counters.retries += 1
                self.on_retry(sqlstate_of(exc))
                log.info("retrying transaction (attempt %d failed: %s)", attempt, fault.value)
                await asyncio.sleep(pause)

    @asynccontextmanager
    async def _gate(self, keys: list[int], deadline: float) -> AsyncIterator[None]:
        """Queue across processes for ``keys`` (ascending) around the block: transaction
        advisory locks, held by a transaction of their own on a connection of their own, until
        the block is over.

        The locks are taken before the writer's transaction starts (one taken inside a
        SERIALIZABLE transaction comes after its snapshot, too late to prevent the conflict),
        and they live in a transaction, not in a session: through a pooler in transaction mode
        a session outlives its client's use of it (its locks would go to whoever gets it next).
        Whatever ends the lock transaction (the block's end, a lost connection, the process
        killed) releases them."""
        async with self.connection(deadline, slots=self._gates) as conn:
            try:
                await run(
                    conn,
                    f"BEGIN ISOLATION LEVEL READ COMMITTED{self.begin_settings}; "
                    + lock_in_order(keys),
                )
                yield
            finally:
                # (an invalidated connection is gone, its session and locks with it)
                if not conn.invalidated and driver_of(conn).is_in_transaction():
                    await _end(conn, partial(run, conn, "ROLLBACK"))

    @asynccontextmanager
    async def _transaction(
        self, conn: AsyncConnection, isolation: str, *, readonly: bool = False
    ) -> AsyncIterator[None]:
        """A transaction begun on the driver: connections are in autocommit mode, where
        SQLAlchemy begins nothing of its own, so statements sent through SQLAlchemy and straight
        to the driver (billing.db.statements) all run inside it. Its BEGIN carries the
        settings a pooled session lacks (``begin_settings``). Committed at the end of the block
        (read-only: rolled back, nothing to keep), rolled back if the block raises."""
        driver = driver_of(conn)
        mode = " READ ONLY" if readonly else ""
        await driver.execute(f"BEGIN ISOLATION LEVEL {isolation}{mode}{self.begin_settings}")
        try:
            yield
        except BaseException:
            await _end(conn, partial(driver.execute, "ROLLBACK"))
            raise
        if readonly:
            await _end(conn, partial(driver.execute, "ROLLBACK"))
        else:
            await driver.execute("COMMIT")  # a failure here is the caller's (outcome unknown)

    @asynccontextmanager
    async def read(self, deadline: float | None = None) -> AsyncIterator[AsyncConnection]:
        """A read-only REPEATABLE READ transaction: one consistent snapshot, never a 40001.

        It ends at ``deadline`` (by default ``read_timeout`` from now)."""
        if deadline is None:
            deadline = asyncio.get_running_loop().time() + self.read_timeout
        try:
            async with (
                self.connection(deadline) as conn,
                self._transaction(conn, "REPEATABLE READ", readonly=True),
            ):
                yield conn
        except Exception as exc:
            raise self._failed_read(exc)  # noqa: B904 - the cause is set by _failed_read

    async def read_one(self, query: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``query``, a single statement, on its own: a statement outside a transaction
        block sees one snapshot, so no BEGIN and COMMIT round trips are needed (unless
        ``pooled``: the statement then needs the settings that come with BEGIN)."""

        async def once(deadline: float) -> T:
            if self.pooled:
                async with self.read(deadline) as conn:
                    return await query(conn)
            async with self.connection(deadline) as conn:
                return await query(conn)

        return await self.again_if_stale(once)

    async def again_if_stale(self, read: Callable[[float], Awaitable[T]]) -> T:
        """Run a read (given its deadline); if its connection turns out to be dead, run it once
        more, before the same deadline.

        After an outage the pooled connections are dead but look fine until used. The first
        failure invalidates the pool, so the second attempt connects afresh; if the database
        is really down, that attempt fails as well and the caller gets ServiceUnavailable.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.read_timeout
        try:
            return await read(deadline)
        except Exception as exc:
            if not unreachable(exc) or loop.time() >= deadline:
                raise self._failed_read(exc)  # noqa: B904 - the cause is set by _failed_read
        try:
            return await read(deadline)
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


@dataclass(slots=True, eq=False)
class _Kept:
    """A connection taken from the engine's pool, with what each use of it needs."""

    conn: AsyncConnection
    driver: Any  # its asyncpg connection
    unread: Callable[[], bool]  # whether its socket has input waiting (see input_probe)
    used: float = 0.0  # when it was last given back (the event loop's clock)

    @classmethod
    def of(cls, conn: AsyncConnection) -> _Kept:
        driver = driver_of(conn)
        return cls(conn, driver, input_probe(driver))

    def looks_sound(self) -> bool:
        """Not closed, and nothing written to it by the server while it was unused."""
        return not (self.driver.is_closed() or self.unread())


class _Use:
    """One use of a connection, cut off at its deadline (see ``Database.connection``)."""

    __slots__ = ("_db", "_kept", "_loop", "_slots", "cut", "deadline")

    def __init__(self, db: Database, slots: Slots, deadline: float) -> None:
        self._db, self._slots, self.deadline = db, slots, deadline
        self.cut = False

    async def __aenter__(self) -> AsyncConnection:
        db = self._db
        self._loop = loop = asyncio.get_running_loop()
        await db._slot(loop, self._slots, self.deadline)
        try:
            self._kept = kept = await db._take(self.deadline)
        except BaseException:
            self._slots.give()
            raise
        db._in_use += 1
        db.on_in_use(db._in_use)
        db._uses[self] = None
        db._watch.expect(loop, self.deadline)
        return kept.conn

    def cut_off(self) -> None:
        """Close the socket at once, without the goodbye a silent network would make wait."""
        self.cut = True
        self._kept.driver.terminate()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        db, kept = self._db, self._kept
        conn, driver = kept.conn, kept.driver
        sound = exc is None
        try:
            if isinstance(exc, Exception):
                fault = classify(exc)
                # The driver, its socket closed under it mid-call, may fail in ways of its own
                # (an AttributeError while it prepares a statement): all mean "cut off".
                if self.cut and fault is None:
                    raise CutOff() from exc
                if fault is Fault.UNAVAILABLE:
                    await db._discard_idle()
                # The server answered (a refusal, a serialization failure), or the work refused
                # after its statement: the connection is as sound as before.
                sound = fault is None or sqlstate_of(exc) is not None
        finally:
            del db._uses[self]
            try:
                if sound and conn.in_transaction():
                    # SQLAlchemy's own record of a transaction it began (in autocommit mode,
                    # on its first statement: nothing on the server): ended before the next use.
                    try:
                        await conn.rollback()
                    except Exception:
                        sound = False
                if (
                    db.keep_connections
                    and sound
                    and not self.cut
                    and not conn.invalidated
                    and not driver.is_closed()
                    and not driver.is_in_transaction()
                ):
                    db._keep(kept, self._loop)
                else:
                    if not sound and not conn.invalidated:
                        # It may be inside a transaction begun on the driver, or have a
                        # statement in flight that begins one: the engine's pool, which knows
                        # only the transactions SQLAlchemy begins, would hand it on as it is.
                        await conn.invalidate()
                    await _close(conn)
                db._in_use -= 1
                db.on_in_use(db._in_use)
            finally:
                self._slots.give()


async def _end(conn: AsyncConnection, end: Callable[[], Awaitable[None]]) -> None:
    """End a transaction whose outcome no longer matters; a connection where that fails is
    discarded (never kept inside a transaction)."""
    try:
        await end()
    except BaseException as exc:
        await conn.invalidate()
        if not isinstance(exc, Exception):
            raise


async def _close_all(connections: list[AsyncConnection]) -> None:
    for conn in connections:
        await _close(conn)


async def _close(conn: AsyncConnection) -> None:
    """Give a connection back to the engine's pool (which drops it if it was invalidated)."""
    with contextlib.suppress(Exception):
        await conn.close()
