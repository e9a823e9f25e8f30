"""Recently seen tokens, so that most requests need no database round trip to authenticate.

The cache keeps whatever the caller resolved a token to (the domain's ``Actor``) under the
token's hash; it knows nothing of what that is.

A cached token is trusted only while this process hears about every revocation: revoking a
token notifies the ``billing_tokens`` channel in the same transaction, and the process's one
listening connection (``billing.db.listener``) hears it (or, where nothing can listen, its
poller notices within a second). A notification empties the cache; so
does losing that connection, and while it is down nothing is cached (every request asks the
database, as without a cache). Entries also expire after ``ttl`` seconds. Only valid tokens are
cached: an unknown or revoked secret is looked up every time.

A lookup that started before a revocation must not put its stale answer back after the cache
was emptied: every emptying starts a new generation, and an answer is kept only if the
generation did not change while it was looked up.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from billing.db.listener import Channel, Hooks, Notifications

CHANNEL = "billing_tokens"
# Where revocations cannot be heard, this changes with each (billing.db.listener.Poller). The
# count sees a revocation whose transaction committed after a later one's.
PROBE = "SELECT count(*), max(revoked_at) FROM api_tokens WHERE revoked_at IS NOT NULL"

V = TypeVar("V")


class TokenCache(Generic[V]):
    def __init__(self, listener: Notifications, *, ttl: float = 60.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self.generation = 0
        self.listening = False
        self._entries: OrderedDict[str, tuple[V, float]] = OrderedDict()
        # Also told of every revocation heard (the token's id), after the cache was emptied.
        self.revoked: list[Callable[[], None]] = []
        listener.add(
            Hooks(
                channels=[Channel(CHANNEL, self._notified, PROBE)],
                on_connect=self._connected,
                on_lost=self._lost,
            )
        )

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

    def _notified(self, payload: str) -> None:
        self.clear()
        for callback in self.revoked:
            callback()

    def _connected(self) -> None:
        self.clear()  # revocations may have happened while nobody listened
        self.listening = True
        for callback in self.revoked:  # ... so whoever relies on hearing them checks again
            callback()

    def _lost(self) -> None:
        self.listening = False
        self.clear()
