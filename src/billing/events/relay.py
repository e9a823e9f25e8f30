"""The relay: events into webhook deliveries, one wake-up per batch, and the deliveries sent.

Every serving process runs one ``Relay``; one of them in the whole deployment leads at a time.
Leading means holding an advisory lock in a transaction kept open on a connection of the
relay's own (not one of the request pool's): the others try again every ``retry`` seconds,
and when the leader's connection dies, its lock goes with it and another process takes over.

The leader, every ``BILLING_EVENTS_RELAY_INTERVAL`` seconds:

1. records how the attempts that ended went (``billing.domain.deliveries.record``);
2. turns the events that became final into deliveries, moving the relay's horizon in the same
   statement (``advance``), and after each batch that had events sends one
   ``NOTIFY billing_events, '<horizon>'``: every event of a transaction below that number is
   final, and subscribers' hubs wake up to read them. Money transactions never notify (a
   notifying commit takes a cluster-wide lock);
3. starts the attempts that are due, at most ``BILLING_WEBHOOKS_CONCURRENCY`` at once, each
   bounded by ``BILLING_WEBHOOKS_TIMEOUT``.

It also expires lapsed holds every second (``sweep``), so that their events come on time.

A delivery stays PENDING until the answer to an attempt is recorded: a leader killed while an
attempt is in flight leaves it pending, and the next leader sends it again (at least once;
receivers dedupe on ``webhook-id``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import NullPool

from billing.config import Settings
from billing.db.engine import create_engine, transaction_settings
from billing.db.migrate import MIGRATION_LOCK
from billing.db.statements import driver_of
from billing.domain import deliveries
from billing.errors import OutcomeUnknown, ServiceUnavailable, TryAgain
from billing.events import signing
from billing.events.transport import Sender

log = logging.getLogger(__name__)

CHANNEL = "billing_events"
APPLICATION_NAME = "billing-relay"
# The advisory lock of the leader, in the two-key space (the wallets' and idempotency keys'
# locks use the one-key space, which never meets it): "bill", then 2 (1 is the migrations').
LOCK = (MIGRATION_LOCK[0], MIGRATION_LOCK[1] + 1)
PAGE = 1000  # events per statement
BATCHES = 10  # statements per round, so that deliveries are started in between
RESCAN = 1.0  # seconds: due deliveries are looked for at least this often
SWEEP = 1.0  # seconds between two sweeps for lapsed holds
STOP_TIMEOUT = 5.0  # seconds
LOCK_CHECK = 2.0  # seconds between two looks at the leader's lock connection
AFTER_LOSS = 5  # a leader that lost its connection waits this many retries: others go first


def span(seconds: float) -> str:
    """``259200`` -> ``72 hours``: a duration for people."""
    for unit, size in (("hours", 3600), ("minutes", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} seconds"


class Relay:
    def __init__(
        self,
        url: str,
        settings: Settings,
        *,
        ready: asyncio.Event | None = None,
        retry: float = 3.0,
        sweep: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self.url = url
        self.settings = settings
        self.ready = ready
        self.retry = retry
        self.sweep = sweep  # expires lapsed holds (holds.expire_lapsed), run by the leader
        self.leading = False
        self._took = False  # the current term took the lead
        self._engine: AsyncEngine | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._engine = create_engine(
            self.settings,
            self.url,
            session={
                "application_name": APPLICATION_NAME,
                "default_transaction_isolation": "read committed",
            },
            poolclass=NullPool,  # closing a connection ends its session
            isolation_level="AUTOCOMMIT",  # every statement is a transaction of its own
        )
        self._task = asyncio.create_task(self._run(), name="events-relay")

    async def stop(self) -> None:
        """Stop leading (attempts in flight are abandoned: they stay pending) and disconnect."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=STOP_TIMEOUT)
            if not self._task.done():  # never keep a shutdown waiting
                log.warning("events relay: not stopped within %g s", STOP_TIMEOUT)
            elif not self._task.cancelled() and (error := self._task.exception()) is not None:
                log.error("events relay had failed: %r", error)
            self._task = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def _run(self) -> None:
        if self.ready is not None:
            await self.ready.wait()
        while True:
            self._took = False
            try:
                await self._term()
            except (OSError, TimeoutError) as exc:
                log.info("events relay: no database connection (%r); trying again", exc)
            except Exception as exc:
                if _database_failure(exc):
                    log.info("events relay: connection lost (%r); trying again", exc)
                else:
                    log.exception("events relay failed; trying again")
            # A process that just lost the lead (its connection died) lets the others go first.
            await asyncio.sleep(self.retry * (AFTER_LOSS if self._took else 1))

    async def _term(self) -> None:
        """Lead while this process holds the lock; return at once if another one does.

        The lock is a transaction's, held by a transaction kept open on a connection of its
        own for the whole term (through a pooler in transaction mode, that keeps one server
        session for it; a session lock would stay on a session others then use). The leader
        works on a second connection. The term ends as soon as the first is seen lost (the
        lock with it): the driver tells when the server ends it or its socket closes, and a
        look at it every ``LOCK_CHECK`` seconds finds a silent loss. The open transaction has
        taken no snapshot and written nothing, so it holds back no vacuum."""
        assert self._engine is not None
        async with self._engine.connect() as lock:
            holder = driver_of(lock)
            await holder.execute(
                f"BEGIN ISOLATION LEVEL READ COMMITTED{transaction_settings(self.settings)}"
            )
            if not await holder.fetchval("SELECT pg_try_advisory_xact_lock($1, $2)", *LOCK):
                await holder.execute("ROLLBACK")
                return
            lost = asyncio.Event()
            holder.add_termination_listener(lambda _: lost.set())
            log.info("events relay: leading")
            self._took = self.leading = True
            try:
                async with self._engine.connect() as conn:
                    await self._lead(conn, holder, lost)
            finally:
                self.leading = False

    async def _lead(self, conn: AsyncConnection, holder: Any, lost: asyncio.Event) -> None:
        settings = self.settings
        loop = asyncio.get_running_loop()
        sender = Sender(
            timeout=settings.webhooks_timeout,
            concurrency=settings.webhooks_concurrency,
            allow_private=settings.webhooks_allow_private,
        )
        sending: dict[int, asyncio.Task[None]] = {}
        ended: list[deliveries.Attempt] = []
        wake = asyncio.Event()
        next_scan = 0.0
        next_check = loop.time() + LOCK_CHECK
        sweeping = None if self.sweep is None else asyncio.create_task(self._sweeping(self.sweep))
        try:
            while True:
                wake.clear()
                if lost.is_set():
                    raise ConnectionError("the leader's lock connection was lost")
                if loop.time() >= next_check:  # still holding the lock (raises if not)
                    await holder.execute("SELECT 1")
                    next_check = loop.time() + LOCK_CHECK
                look = False
                while ended:
                    attempt = ended.pop(0)
                    await self._record(conn, attempt)
                    sending.pop(attempt.delivery_id, None)
                    look = True
                look = await self._advance(conn) or look
                free = settings.webhooks_concurrency - len(sending)
                if free > 0 and (look or loop.time() >= next_scan):
                    found, wait = await deliveries.due(conn, set(sending), free)
                    for due in found:
                        sending[due.id] = asyncio.create_task(
                            self._attempt(sender, due, ended, wake), name=f"webhook-{due.id}"
                        )
                    pause = RESCAN if wait is None else min(max(wait, 0.0), RESCAN)
                    next_scan = loop.time() + pause
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), settings.events_relay_interval)
        finally:
            tasks = [*sending.values(), *([sweeping] if sweeping else [])]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await sender.close()

    @staticmethod
    async def _sweeping(sweep: Callable[[], Awaitable[int]]) -> None:
        """Expire lapsed holds every ``SWEEP`` seconds, while leading: their HOLD_EXPIRED
        events follow the expiry within about that, on wallets nothing else touches."""
        while True:
            await asyncio.sleep(SWEEP)
            try:
                swept = await sweep()
            except (ServiceUnavailable, TryAgain, OutcomeUnknown) as exc:
                log.info("events relay: expiring holds postponed: %r", exc)
                continue
            if swept:
                log.info("events relay: expired the lapsed holds of %d wallet(s)", swept)

    async def _advance(self, conn: AsyncConnection) -> bool:
        """Turn the final events into deliveries; True if any delivery was made."""
        made = False
        for _ in range(BATCHES):
            step = await deliveries.advance(conn, PAGE)
            if step.horizon is None:
                break
            made = made or step.deliveries > 0
            await conn.execute(
                text("SELECT pg_notify(:channel, :horizon)"),
                {"channel": CHANNEL, "horizon": str(step.horizon)},
            )
        return made

    def backoff(self, attempts: int) -> float:
        """Seconds before the next attempt after ``attempts`` failed ones: the retry delay,
        doubling, at most the longest pause, each varied by up to 20 % either way."""
        base = self.settings.webhooks_retry_delay * float(2 ** min(attempts - 1, 60))
        ceiling = self.settings.webhooks_retry_max_delay
        return min(ceiling, base) * random.uniform(0.8, 1.2)  # noqa: S311 - jitter

    async def _attempt(
        self,
        sender: Sender,
        due: deliveries.Due,
        ended: list[deliveries.Attempt],
        wake: asyncio.Event,
    ) -> None:
        status: int | None = None
        error: str | None
        try:
            content = signing.body(due.event)
            headers = signing.headers(due.secret, due.event, content)
            status, error = await sender.post(due.url, headers, content)
        except Exception:
            log.exception("webhook delivery %d: could not be sent", due.id)
            error = "could not be sent"
        ok = status is not None and 200 <= status < 300
        if status is not None and not ok:
            error = f"HTTP {status}"
        ended.append(
            deliveries.Attempt(
                delivery_id=due.id,
                attempts=due.attempts,
                ok=ok,
                status=status,
                error=None if ok else error,
                retry_in=self.backoff(due.attempts + 1),
            )
        )
        wake.set()

    async def _record(self, conn: AsyncConnection, attempt: deliveries.Attempt) -> None:
        retry_for = self.settings.webhooks_retry_for
        reason = f"deliveries failed for {span(retry_for)}; last: {attempt.error}"
        done = await deliveries.record(conn, attempt, retry_for=retry_for, given_up=reason)
        if done.disabled:
            log.warning(
                "webhook delivery %d given up; endpoint disabled: %s", attempt.delivery_id, reason
            )


def _database_failure(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is the database or its connection failing."""
    return isinstance(exc, DBAPIError | OSError | TimeoutError) or (
        exc.__cause__ is not None and _database_failure(exc.__cause__)
    )
