"""One connection per process that LISTENs to the service's notification channels.

PostgreSQL delivers a notification only to sessions listening when it is sent, and only over
the connection that ran LISTEN. A pooled connection would lose its LISTEN when the pool resets
it, so the listener keeps a dedicated connection of its own, one per process, whatever the
number of channels and of those interested in them: the token cache (``billing_tokens``,
revocations) and the event hub (``billing_events``, wake-ups for subscriptions).

Through a pooler in transaction mode no connection can listen; there ``Poller`` stands in,
asking the database every second whether anything changed (each channel says how: its
``probe``).

Notifications are not durable: any sent while nobody listens are lost. So every user of the
listener is told when listening starts (``on_connect``: catch up on what may have been missed)
and when it stops (``on_lost``: stop trusting anything that depends on hearing them). A lost
connection is replaced, with a growing pause while the database stays unreachable. A connection
can also die without a word (a partition): a ``SELECT 1`` every ``health_interval`` seconds
finds out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.config import Settings
from billing.db.background import Background
from billing.db.engine import drop_dead_peers, server_settings
from billing.db.statements import Statement, fetch

if TYPE_CHECKING:
    from billing.db.database import Database

log = logging.getLogger(__name__)


@dataclass
class Channel:
    """What to do on a notification of one channel (``payload``: its text).

    ``probe``: a query whose answer changes whenever a notification is sent on the channel;
    where notifications cannot be heard, ``Poller`` runs it instead of listening."""

    name: str
    notified: Callable[[str], None]
    probe: str | None = None


@dataclass
class Hooks:
    """Callbacks of one user of the listener; none of them may block or raise."""

    channels: list[Channel] = field(default_factory=list)
    on_connect: Callable[[], None] | None = None  # listening (again): catch up
    on_lost: Callable[[], None] | None = None  # not listening (any more)


class Notifications(Background):
    """What the listener and the poller share: their users' hooks, registered before
    ``start``, and whether notifications are heard now (``listening``)."""

    def __init__(self) -> None:
        super().__init__()
        self.listening = False
        self.sessions = 0  # times listening (or polling) started so far
        self._hooks: list[Hooks] = []

    def add(self, hooks: Hooks) -> None:
        """Register a user; before ``start`` (channels are listened to on connecting)."""
        if self.started:
            raise RuntimeError("register every user of the notifications before starting")
        self._hooks.append(hooks)

    def _each(self, hook: str) -> None:
        """Call every user's ``hook``; one user's bug must not stop the others from hearing."""
        for hooks in self._hooks:
            callback: Callable[[], None] | None = getattr(hooks, hook)
            if callback is not None:
                try:
                    callback()
                except Exception:
                    log.exception("listener callback %s failed", hook)


class Listener(Notifications):
    """The process's LISTEN connection; ``listening`` while it is up."""

    task_name = "notification-listener"

    def __init__(self, dsn: str, settings: Settings, *, health_interval: float = 5.0) -> None:
        super().__init__()
        self.dsn = dsn
        self.settings = settings
        self.health_interval = health_interval

    async def _run(self) -> None:
        pause = 0.5
        while True:
            try:
                await self._session()
                pause = 0.5
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.info("not listening for notifications until the database is back: %r", exc)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 10.0)

    async def _session(self) -> None:
        """Listen on one connection until it is lost."""
        lost = asyncio.Event()
        conn = await asyncpg.connect(
            self.dsn,
            timeout=self.settings.connect_timeout,
            server_settings=server_settings(self.settings, direct=True),
        )
        try:
            drop_dead_peers(conn, self.settings.tcp_timeout)
            conn.add_termination_listener(lambda _: lost.set())
            for hooks in self._hooks:
                for channel in hooks.channels:
                    await conn.add_listener(channel.name, _callback(channel))
            self.listening = True
            self.sessions += 1
            self._each("on_connect")  # notifications may have been missed meanwhile
            while not lost.is_set():
                # (asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                # cancellation that arrives as the connection is lost, and stop() would hang)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.health_interval):
                        await lost.wait()
                if not lost.is_set():  # a connection can also die without a word
                    async with asyncio.timeout(self.settings.connect_timeout):
                        await conn.execute("SELECT 1")
        finally:
            was_listening, self.listening = self.listening, False
            if was_listening:
                self._each("on_lost")
            with contextlib.suppress(Exception):
                await conn.close(timeout=1)


class Poller(Notifications):
    """Listening's stand-in where no connection can LISTEN (through a pooler in transaction
    mode, notifications never reach a client): every ``interval`` seconds, each channel's
    ``probe`` runs, and a changed answer counts as a notification. So whatever another process
    announces is heard here within ``interval`` (and the time of one read).

    Its users see the same hooks as the listener's: ``on_connect`` after the first answer
    (and again after the database is back), ``on_lost`` when a probe fails."""

    task_name = "notification-poller"

    def __init__(self, db: Database, *, interval: float = 1.0) -> None:
        super().__init__()
        self.db = db
        self.interval = interval

    async def _run(self) -> None:
        channels = [c for hooks in self._hooks for c in hooks.channels if c.probe]
        seen: dict[str, tuple[object, ...]] = {}
        while True:
            try:
                answers = await self.db.read_one(partial(_probe, channels))
            except Exception as exc:
                if self.listening:
                    log.info("not polling for notifications until the database is back: %r", exc)
                    self.listening = False
                    self._each("on_lost")
            else:
                if not self.listening:
                    self.listening = True
                    self.sessions += 1
                    seen = answers
                    self._each("on_connect")  # whatever was missed meanwhile
                for channel in channels:
                    if answers[channel.name] != seen.get(channel.name):
                        _callback(channel)(None, 0, channel.name, str(answers[channel.name]))
                seen = answers
            await asyncio.sleep(self.interval)


async def _probe(channels: list[Channel], conn: AsyncConnection) -> dict[str, tuple[object, ...]]:
    answers = {}
    for channel in channels:
        assert channel.probe is not None
        rows = await fetch(conn, Statement(channel.probe), {})
        answers[channel.name] = tuple(rows[0]) if rows else ()
    return answers


def _callback(channel: Channel) -> Callable[[object, int, str, str], None]:
    def notified(connection: object, pid: int, name: str, payload: str) -> None:
        try:
            channel.notified(payload)
        except Exception:
            log.exception("handling a notification on %s failed", name)

    return notified
