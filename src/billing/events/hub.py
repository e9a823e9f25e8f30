"""The event hub: one per process, reading new events for every subscriber of the process.

Subscribers (``Subscriber``, one per running subscription) register the wallet they follow.
The hub reads, with one query, the new events of all the wallets that have subscribers here
(``billing.domain.events.events_after``: every transaction below the horizon of those still
running, in (tx, id) order, so nothing that commits late is passed over) and puts each in the
bounded queue of every subscriber of its wallet. It reads:

* when woken by a notification on ``billing_events`` (the relay sends one whenever it sees
  new events; its payload is not needed: the hub asks the table);
* right after the process's listening connection (re)connects (notifications may have been
  lost while it was down);
* and at the latest ``poll_interval`` seconds after its last read, whatever happens. So a lost
  listener, or no relay at all, means events arrive up to ``poll_interval`` late, never that
  they stop arriving.

A subscriber whose queue is full when an event arrives is ended (``SLOW_CONSUMER``): its
queue is dropped, and it resumes from the last event it delivered.

The hub also ends the subscriptions of revoked tokens: whenever a revocation may have
happened (a notification on ``billing_tokens``, a reconnection) and on every read while the
listener is down, it asks which of its subscribers' tokens are still valid.

Its position only moves forward. When no wallet has subscribers it does not read at all, and
the first subscriber to arrive moves the position to the current horizon: events of earlier
transactions are already committed, so that subscriber's backlog read (by sequence number,
after registering) finds them.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.background import Background
from billing.db.database import Database
from billing.db.listener import Channel, Hooks
from billing.domain import tokens
from billing.domain.events import Position, events_after, horizon
from billing.domain.records import EventRecord

log = logging.getLogger(__name__)

CHANNEL = "billing_events"
# Where notifications cannot be heard, this changes with each (billing.db.listener.Poller).
PROBE = "SELECT max(horizon) FROM event_relay"
BATCH = 1000  # events per query


class End(enum.Enum):
    """Why a subscription ended before its client completed it."""

    SLOW_CONSUMER = "SLOW_CONSUMER"
    TOKEN_REVOKED = "TOKEN_REVOKED"  # noqa: S105 - a reason, not a secret
    TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"
    SHUTTING_DOWN = "SHUTTING_DOWN"
    UNAVAILABLE = "UNAVAILABLE"


@dataclass(eq=False)
class Subscriber:
    """One subscription's mailbox: events of one wallet, at most ``capacity`` waiting."""

    wallet_id: int
    token_id: int
    capacity: int
    ended: End | None = None
    # While it reads its backlog from the table, deliveries are not queued, only noted.
    catching_up: bool = False
    missed: bool = False
    _events: deque[EventRecord] = field(default_factory=deque)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, event: EventRecord) -> None:
        if self.ended is not None:
            return
        if self.catching_up:
            self.missed = True
            return
        if len(self._events) >= self.capacity:
            self.end(End.SLOW_CONSUMER)
            return
        self._events.append(event)
        self._ready.set()

    def end(self, reason: End) -> None:
        """End it: what is still queued is dropped (the subscriber resumes from its cursor)."""
        if self.ended is None:
            self.ended = reason
            self._events.clear()
            self._ready.set()

    async def next(self) -> EventRecord | End:
        """The next event, or why the subscriber was ended."""
        while True:
            if self.ended is not None:
                return self.ended
            if self._events:
                return self._events.popleft()
            self._ready.clear()
            await self._ready.wait()


class TooManySubscriptions(Exception):
    pass


class EventHub(Background):
    task_name = "event-hub"

    def __init__(self, db: Database, *, poll_interval: float = 1.0, per_token: int = 100) -> None:
        super().__init__()
        self.db = db
        self.poll_interval = poll_interval
        self.per_token = per_token
        self.listening = False
        self.position: Position = (0, 0)
        self.reads = 0  # reads of the events table so far
        self._by_wallet: dict[int, set[Subscriber]] = {}
        self._by_token: dict[int, set[Subscriber]] = {}
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._check_tokens = False
        self._stopping = False

    # -- the listener's hooks --------------------------------------------------------------

    def hooks(self) -> Hooks:
        return Hooks(
            channels=[Channel(CHANNEL, lambda _payload: self.wake(), PROBE)],
            on_connect=self._connected,
            on_lost=self._lost,
        )

    def _connected(self) -> None:
        self.listening = True
        self.tokens_changed()  # revocations and events may have been missed: catch up now

    def _lost(self) -> None:
        self.listening = False
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    def tokens_changed(self) -> None:
        """A token may have been revoked: check the subscribers' tokens on the next read."""
        self._check_tokens = True
        self.wake()

    # -- subscribers ----------------------------------------------------------------------

    @property
    def subscribers(self) -> int:
        return sum(len(s) for s in self._by_wallet.values())

    async def add(self, subscriber: Subscriber) -> None:
        """Register ``subscriber``; every event committed from now on reaches its queue (or
        ends it). Raises TooManySubscriptions past the per-token limit."""
        if self._stopping:
            subscriber.end(End.SHUTTING_DOWN)
            return
        if len(self._by_token.get(subscriber.token_id, ())) >= self.per_token:
            raise TooManySubscriptions()
        async with self._lock:
            if not self._by_wallet:
                # Idle until now, the position may lie far behind: move it to the horizon.
                # (If the database cannot tell now, the old position is as correct, if slower.)
                with contextlib.suppress(Exception):
                    below = await self.db.read_one(horizon)
                    self.position = max(self.position, (below, 0))
            if len(self._by_token.get(subscriber.token_id, ())) >= self.per_token:
                raise TooManySubscriptions()
            self._by_wallet.setdefault(subscriber.wallet_id, set()).add(subscriber)
            self._by_token.setdefault(subscriber.token_id, set()).add(subscriber)
        self.wake()  # read soon: the hub may have been idle

    def remove(self, subscriber: Subscriber) -> None:
        for index, key in (
            (self._by_wallet, subscriber.wallet_id),
            (self._by_token, subscriber.token_id),
        ):
            found = index.get(key)
            if found is not None:
                found.discard(subscriber)
                if not found:
                    del index[key]

    def _end_all(self, subscribers: Iterable[Subscriber], reason: End) -> None:
        for subscriber in list(subscribers):
            subscriber.end(reason)
            self.remove(subscriber)

    # -- running ----------------------------------------------------------------------------

    async def stop(self) -> None:
        """End every subscription (SHUTTING_DOWN) and stop reading."""
        self._stopping = True
        self._end_all([s for group in self._by_wallet.values() for s in group], End.SHUTTING_DOWN)
        await super().stop()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            # (asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that arrives as the event is set, and stop() would wait for ever)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.read()
                failures = 0
            except Exception as exc:  # the database is down: keep trying, more slowly
                failures += 1
                if failures == 1:
                    log.warning("reading events for subscribers failed: %r", exc)
                await asyncio.sleep(min(0.25 * 2**failures, 5.0))

    async def read(self) -> None:
        """Check tokens if needed, then deliver every new event of the subscribed wallets."""
        if self._by_token and (self._check_tokens or not self.listening):
            self._check_tokens = False
            try:
                await self._check()
            except Exception:
                self._check_tokens = True  # again on the next read
                raise
        async with self._lock:
            while self._by_wallet:
                wallets = sorted(self._by_wallet)

                async def query(
                    conn: AsyncConnection, wallets: list[int] = wallets
                ) -> tuple[int, list[tuple[Position, EventRecord]]]:
                    below = await horizon(conn)
                    found = await events_after(
                        conn, self.position, below, wallets=wallets, limit=BATCH
                    )
                    return below, found

                below, found = await self.db.read_one(query)
                self.reads += 1
                self._deliver(event for _, event in found)
                if len(found) < BATCH:
                    self.position = max(self.position, (below, 0))
                    return
                self.position = found[-1][0]

    def _deliver(self, events: Iterable[EventRecord]) -> None:
        # Within one read, each wallet's events in their own order (transactions that waited
        # for the wallet's lock may have the smaller ids).
        for event in sorted(events, key=lambda e: (e.wallet_id, e.seq)):
            for subscriber in list(self._by_wallet.get(event.wallet_id, ())):
                subscriber.offer(event)
                if subscriber.ended is not None:
                    self.remove(subscriber)

    async def _check(self) -> None:
        ids = list(self._by_token)
        if not ids:
            return
        active = await self.db.read_one(lambda conn: tokens.active_tokens(conn, ids))
        for token_id in ids:
            if token_id not in active:
                self._end_all(self._by_token.get(token_id, ()), End.TOKEN_REVOKED)
