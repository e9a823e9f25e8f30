"""One wallet's events for one subscriber: first those after its cursor, then live, each once.

``follow`` yields a wallet's events in sequence order, from the table and from the hub:

1. it registers with the hub *before* reading anything, so every event committed from then on
   reaches it through the hub;
2. it reads the backlog after the cursor from the table, by sequence number, in pages. While it
   does, the hub's deliveries are not queued (they would only repeat the table); if one came,
   the table is read once more at the end;
3. then it takes the hub's deliveries: an event at or below the last one yielded is dropped (it
   was read from the table), the next one is yielded, and after a gap (an event that the hub
   delivered before an earlier one) the table is read up to it.

So each event is yielded once and in order, and a consumer that keeps the cursor of the last
event it processed and resumes from it (after a disconnect, a restart of the server, a
``SLOW_CONSUMER`` end) sees every event exactly once.

A cursor is opaque to clients: the wallet's id and the event's sequence number, encoded.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.database import Database
from billing.domain.access import Actor
from billing.domain.events import wallet_events, wallet_head
from billing.domain.records import EventRecord
from billing.errors import InvalidInput, ServiceUnavailable, WalletNotFound
from billing.events.hub import End, EventHub, Subscriber, TooManySubscriptions

PAGE = 500  # events per read of the table
_CURSOR = re.compile(r"we1:([1-9][0-9]{0,18}):(0|[1-9][0-9]{0,18})")


def cursor(wallet_id: int, seq: int) -> str:
    """The opaque cursor of a wallet's event (seq 0: before its first event)."""
    return base64.urlsafe_b64encode(f"we1:{wallet_id}:{seq}".encode()).decode().rstrip("=")


def parse_cursor(text: str, wallet_id: int) -> int:
    """The sequence number a cursor of ``wallet_id`` stands for; InvalidInput otherwise."""
    decoded = ""
    if len(text) <= 100:
        try:
            padded = text + "=" * (-len(text) % 4)
            decoded = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        except (ValueError, binascii.Error, UnicodeError):
            decoded = ""
    found = _CURSOR.fullmatch(decoded)
    if found is None:
        raise InvalidInput("after", "after is not a cursor of this API.")
    if int(found.group(1)) != wallet_id:
        raise InvalidInput("after", "after is the cursor of another wallet's event.")
    return int(found.group(2))


@dataclass(frozen=True, slots=True)
class Ended:
    """The subscription ended for ``reason``; ``last_seq``: the last event it yielded (or the
    cursor it started from): resume after it."""

    reason: End
    last_seq: int


Item = EventRecord | Ended


async def open_stream(
    db: Database,
    hub: EventHub,
    actor: Actor,
    wallet_id: int,
    after: str | None,
    *,
    capacity: int,
    still_valid: Callable[[], Awaitable[bool]],
) -> AsyncGenerator[Item, None]:
    """Check the wallet and the cursor (WalletNotFound, InvalidInput), then ``follow``."""
    head = await db.read_one(lambda conn: wallet_head(conn, wallet_id))
    if head is None or not actor.may_see_client(head[0]):
        raise WalletNotFound(wallet_id)  # another client's wallet looks missing
    start = 0 if after is None else parse_cursor(after, wallet_id)
    if start > head[1]:
        raise InvalidInput("after", "after is not the cursor of an event of this wallet.")
    return follow(
        db, hub, Subscriber(wallet_id, actor.token_id, capacity), start, still_valid=still_valid
    )


async def follow(
    db: Database,
    hub: EventHub,
    subscriber: Subscriber,
    after: int,
    *,
    still_valid: Callable[[], Awaitable[bool]],
) -> AsyncGenerator[Item, None]:
    last = after
    subscriber.catching_up = True
    try:
        await hub.add(subscriber)
    except TooManySubscriptions:
        yield Ended(End.TOO_MANY_SUBSCRIPTIONS, last)
        return
    try:
        # A revocation heard before the hub knew of this subscriber did not end it.
        if not await still_valid():
            yield Ended(End.TOKEN_REVOKED, last)
            return
        while True:  # the backlog, until a read of the table finds everything the hub offered
            subscriber.missed = False
            async for event in _table(db, subscriber.wallet_id, last, None):
                yield event
                last = event.seq
            if not subscriber.missed:
                subscriber.catching_up = False  # no await since the check: nothing is lost
                break
        while True:
            item = await subscriber.next()
            if isinstance(item, End):
                yield Ended(item, last)
                return
            if item.seq <= last:
                continue
            if item.seq == last + 1:
                yield item
                last = item.seq
                continue
            async for event in _table(db, subscriber.wallet_id, last, item.seq):
                yield event
                last = event.seq
    except ServiceUnavailable:
        yield Ended(End.UNAVAILABLE, last)
    finally:
        hub.remove(subscriber)


async def _table(
    db: Database, wallet_id: int, after: int, until: int | None
) -> AsyncIterator[EventRecord]:
    """The wallet's events after ``after`` from the table, in pages: all of them, or (with
    ``until``) at least those up to that number."""
    while until is None or after < until:
        page = await db.read_one(partial(_page, wallet_id=wallet_id, after=after))
        for event in page:
            yield event
            after = event.seq
        if len(page) < PAGE:
            return


async def _page(conn: AsyncConnection, *, wallet_id: int, after: int) -> list[EventRecord]:
    return await wallet_events(conn, wallet_id, after, PAGE)
