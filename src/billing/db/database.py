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
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from billing.db.faults import Fault, classify, read_failure, sqlstate_of, unreachable
from billing.db.gate import HotWallets, KeyedLocks, advisory_locks
from billing.errors import OutcomeUnknown, ServiceUnavailable, TryAgain

log = logging.getLogger(__name__)

T = TypeVar("T")


def _no_hook(sqlstate: str | None) -> None:
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


@dataclass
class Database:
    engine: AsyncEngine
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    counters: Counters = field(default_factory=Counters)
    wallet_queue: KeyedLocks = field(default_factory=KeyedLocks)
    hot: HotWallets = field(default_factory=HotWallets)
    # Called before a transaction runs again, with the SQLSTATE of the fault (None: the
    # connection broke). The app counts retries in its metrics and request logs here.
    on_retry: Callable[[str | None], None] = _no_hook

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
                    async with advisory_locks(conn, gated):
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
                self.on_retry(sqlstate_of(exc))
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
