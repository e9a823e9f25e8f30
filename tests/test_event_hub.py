"""The event hub and a subscriber's stream, in-process, against the real database: events that
commit out of their wallet's order, a subscriber that ends, a hub that was idle."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from starlette.applications import Starlette

from billing.domain.records import EventRecord
from billing.events import hub as hub_module
from billing.events.hub import End, EventHub, Subscriber
from billing.events.stream import Ended, Item, follow
from support.api import Api
from support.postgres import PgServer

# One change of a wallet as the posting statement makes it: numbered under the wallet's row lock.
POSTING = """
WITH numbered AS (
  UPDATE wallets SET event_seq = event_seq + 1 WHERE id = $1 RETURNING id, event_seq, balance
)
INSERT INTO wallet_events (wallet_id, seq, kind, amount, held_change, balance, available,
                           reference, created_at)
SELECT id, event_seq, 'RESUPPLY', 0, 0, balance, balance, $2, now() FROM numbered
RETURNING seq, tx
"""


async def always() -> bool:
    return True


@contextlib.asynccontextmanager
async def running(hub: EventHub) -> AsyncIterator[EventHub]:
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


async def until(condition: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def collect(stream: AsyncIterator[Item], into: list[Item]) -> None:
    async for item in stream:
        into.append(item)


async def test_events_committed_out_of_their_wallets_order_arrive_once_in_order(
    app: Starlette,
    api: Api,
    pg_server: PgServer,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: a hub reading one event per query, so that the two events below come in two reads
    monkeypatch.setattr(hub_module, "BATCH", 1)
    _, wallet = await api.create_client("ordered")
    await api.resupply(wallet, "1.00")  # event 1
    hub = EventHub(app.state.db, poll_interval=0.05)
    subscriber = Subscriber(int(wallet), token_id=1, capacity=10)
    got: list[Item] = []
    first = await asyncpg.connect(pg_server.dsn(database))
    second = await asyncpg.connect(pg_server.dsn(database))
    async with running(hub):
        consumer = asyncio.create_task(
            collect(follow(app.state.db, hub, subscriber, 1, still_valid=always), got)
        )
        try:
            await until(lambda: hub.subscribers == 1 and not subscriber.catching_up)
            # when: transaction A starts first (the smaller id) but changes the wallet second
            a = first.transaction()
            await a.start()
            await first.fetchval("SELECT pg_current_xact_id()")
            b_seq, b_tx = await second.fetchrow(POSTING, int(wallet), "B")
            a_seq, a_tx = await first.fetchrow(POSTING, int(wallet), "A")  # waits for nothing
            await a.commit()
            # (A: the smaller transaction id, the larger number: read first in (tx, id) order)
            assert (a_tx < b_tx, a_seq, b_seq) == (True, 3, 2)
            await until(lambda: len(got) == 2)
            await asyncio.sleep(0.3)  # the hub's later reads bring nothing more
        finally:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
            await first.close()
            await second.close()
    # then: each event once, in the wallet's order
    assert all(isinstance(item, EventRecord) for item in got)
    assert [(item.seq, item.reference) for item in got if isinstance(item, EventRecord)] == [
        (2, "B"),
        (3, "A"),
    ]
    # and the subscriber left the hub with its stream
    assert hub.subscribers == 0


async def test_an_open_transaction_holds_later_events_back_until_it_ends(
    app: Starlette, api: Api, sql: asyncpg.Connection, pg_server: PgServer, database: str
) -> None:
    _, wallet = await api.create_client("held-back")
    _, other = await api.create_client("held-back-other")
    hub = EventHub(app.state.db, poll_interval=0.05)
    subscriber = Subscriber(int(wallet), token_id=1, capacity=10)
    got: list[Item] = []
    opened = await asyncpg.connect(pg_server.dsn(database))
    async with running(hub):
        consumer = asyncio.create_task(
            collect(follow(app.state.db, hub, subscriber, 0, still_valid=always), got)
        )
        try:
            await until(lambda: hub.subscribers == 1 and not subscriber.catching_up)
            # given: a transaction still open (it changed another wallet)
            held = opened.transaction()
            await held.start()
            await opened.fetchrow(POSTING, int(other), "open")
            # when: the subscribed wallet changes meanwhile
            await sql.fetchrow(POSTING, int(wallet), "later")
            await asyncio.sleep(0.4)
            # then: not delivered while the older transaction may still commit before it
            assert got == []
            await held.commit()
            await until(lambda: len(got) == 1)
        finally:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
            await opened.close()
    assert [item.reference for item in got if isinstance(item, EventRecord)] == ["later"]


async def test_a_full_queue_ends_the_subscriber_and_its_stream_says_where_to_resume(
    app: Starlette, api: Api, sql: asyncpg.Connection
) -> None:
    _, wallet = await api.create_client("full")
    hub = EventHub(app.state.db)  # not started: it reads only when told to, below
    subscriber = Subscriber(int(wallet), token_id=1, capacity=2)
    stream = follow(app.state.db, hub, subscriber, 0, still_valid=always)
    first = asyncio.create_task(anext(stream))
    await until(lambda: hub.subscribers == 1 and not subscriber.catching_up)
    for n in range(4):
        await sql.fetchrow(POSTING, int(wallet), f"e{n}")
    # when: four events arrive in one read for a queue of two, while the stream waits
    await hub.read()
    # then: it ends at once, dropping what was queued, with the cursor of its last event
    assert subscriber.ended is End.SLOW_CONSUMER
    assert hub.subscribers == 0
    ended = await first
    assert ended == Ended(End.SLOW_CONSUMER, 0)
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_a_hub_that_was_idle_starts_at_the_horizon(
    app: Starlette, api: Api, sql: asyncpg.Connection
) -> None:
    _, wallet = await api.create_client("idle")
    for _ in range(3):
        await sql.fetchrow(POSTING, int(wallet), "before")
    hub = EventHub(app.state.db)  # not started: it reads only when told to, below
    assert hub.position == (0, 0)
    # when: the first subscriber arrives
    subscriber = Subscriber(int(wallet), token_id=1, capacity=10)
    await hub.add(subscriber)
    try:
        # then: the hub skips what had committed already (the subscriber reads that from the
        # table) and reads nothing of it
        assert hub.position[0] > max(
            r["tx"] for r in await sql.fetch("SELECT tx FROM wallet_events")
        )
        await hub.read()
        assert subscriber.catching_up is False
        assert await asyncio.wait_for(asyncio.shield(_empty(subscriber)), 0.2) is True
    finally:
        hub.remove(subscriber)


async def _empty(subscriber: Subscriber) -> bool:
    """Whether nothing is waiting for ``subscriber`` right now."""
    waiter = asyncio.ensure_future(subscriber.next())
    await asyncio.sleep(0.05)
    waiting = not waiter.done()
    waiter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiter
    return waiting
