"""Subscriptions over WebSocket: ``walletEvents`` against a real server (uvicorn on 127.0.0.1),
a real PostgreSQL and the ``websockets`` client speaking graphql-transport-ws.

No relay runs here (nothing sends NOTIFY billing_events unless a test does): events reach
subscribers through the hub's own reads, as they do whenever notifications are not heard.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from billing.config import Settings
from billing.domain import tokens
from billing.events.stream import cursor
from support.live_server import LiveServer, live_server
from support.serve import serving
from support.ws import Http, Socket, http, socket

# Every test starts a server (uvicorn on a thread of this process; one also `billing serve`).
pytestmark = pytest.mark.slow

FAST = {"events_poll_interval": 0.2}


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    with live_server(settings.model_copy(update=FAST)) as live:
        yield live


def sequences(items: list[dict[str, Any]]) -> list[int]:
    return [item["sequence"] for item in items]


async def closed_with(ws: Socket, seconds: float = 10) -> int:
    """The close code the server ends the socket with (every message before it is ignored)."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                await ws.ws.recv()
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd is not None else None
    assert code is not None, "the connection ended without a close frame"
    return code


async def until_closed(ws: Socket, operation: str) -> list[dict[str, Any]]:
    """The items of ``operation`` received until the connection ends."""
    found: list[dict[str, Any]] = []
    try:
        while True:
            found += await ws.items(operation, 1)
    except ConnectionClosed:
        return found


async def until(condition: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def funded_pair(api: Http, amount: str = "100.00") -> tuple[str, str]:
    _, payer = await api.wallet(f"payer-{time.monotonic_ns()}")
    _, payee = await api.wallet(f"payee-{time.monotonic_ns()}")
    await api.resupply(payer, amount)
    return payer, payee


# ---------------------------------------------------------------- events, in order, once


async def test_the_backlog_then_live_events_with_every_field(server: LiveServer) -> None:
    token = server.token()
    async with http(server.url, token) as api:
        payer, payee = await funded_pair(api, "10.00")
        await api.transfer(payer, payee, "2.50")
        async with socket(server.url, token) as ws:
            # when: subscribed without a cursor
            op = await ws.subscribe({"walletId": payer})
            backlog = await ws.items(op, 2)
            # and a transfer commits while it is open
            await api.transfer(payer, payee, "1.25")
            (live,) = await ws.items(op, 1)
            # and the subscription is completed by the client
            await ws.complete(op)
            await asyncio.sleep(0.3)
            assert server.app.state.event_hub.subscribers == 0
    # then: the wallet's history first, then the new event, numbered 1, 2, 3
    assert sequences(backlog) == [1, 2]
    assert [(i["kind"], i["amount"], i["balance"], i["available"]) for i in backlog] == [
        ("RESUPPLY", "10.00", "10.00", "10.00"),
        ("TRANSFER", "-2.50", "7.50", "7.50"),
    ]
    assert live["__typename"] == "WalletEvent"
    assert {k: live[k] for k in ("walletId", "sequence", "kind", "amount", "heldChange")} == {
        "walletId": payer,
        "sequence": 3,
        "kind": "TRANSFER",
        "amount": "-1.25",
        "heldChange": "0.00",
    }
    assert (live["balance"], live["available"], live["currency"]) == ("6.25", "6.25", "USD")
    assert live["transactionNumber"]
    assert live["createdAt"]
    assert live["metadata"] == {}
    assert live["holdId"] is None
    # each cursor is opaque and names its wallet and place
    assert [i["cursor"] for i in [*backlog, live]] == [cursor(int(payer), n) for n in (1, 2, 3)]
    assert len({i["id"] for i in [*backlog, live]}) == 3


async def test_holds_and_their_release_are_events_with_the_held_change(
    server: LiveServer,
) -> None:
    token = server.token()
    async with http(server.url, token) as api:
        payer, payee = await funded_pair(api, "10.00")
        async with socket(server.url, token) as ws:
            op = await ws.subscribe({"walletId": payer})
            await ws.items(op, 1)
            held = await api.run(
                "mutation($i: HoldTransferInput!) { holdTransfer(input: $i) {"
                " ... on HoldTransferSuccess { hold { id } } } }",
                {"i": {"walletFromId": payer, "walletToId": payee, "amount": "4.00"}},
            )
            hold_id = held["holdTransfer"]["hold"]["id"]
            await api.run(
                "mutation($i: VoidHoldInput!) { voidHold(input: $i) { __typename } }",
                {"i": {"holdId": hold_id}},
            )
            hold, void = await ws.items(op, 2)
    assert (hold["kind"], hold["amount"], hold["heldChange"], hold["available"]) == (
        "HOLD",
        "0.00",
        "4.00",
        "6.00",
    )
    assert (void["kind"], void["heldChange"], void["available"], void["holdId"]) == (
        "VOID",
        "-4.00",
        "10.00",
        hold_id,
    )


async def test_resuming_from_a_cursor_after_a_disconnect_misses_nothing(
    server: LiveServer,
) -> None:
    token = server.token()
    async with http(server.url, token) as api:
        payer, payee = await funded_pair(api)
        async with socket(server.url, token) as ws:
            op = await ws.subscribe({"walletId": payer})
            first = await ws.items(op, 1)
            await api.transfer(payer, payee, "1.00")
            first += await ws.items(op, 1)
        # when: events commit while the client is away, and it comes back with its cursor
        for _ in range(3):
            await api.transfer(payer, payee, "1.00")
        async with socket(server.url, token) as ws:
            op = await ws.subscribe({"walletId": payer, "after": first[-1]["cursor"]})
            rest = await ws.items(op, 3)
            await api.transfer(payer, payee, "1.00")
            rest += await ws.items(op, 1)
    # then: every event once, in order
    assert sequences(first + rest) == [1, 2, 3, 4, 5, 6]
    # and resuming from the very first cursor (before any event) replays them all
    assert cursor(int(payer), 0) != first[0]["cursor"]


async def test_resuming_after_the_server_is_killed_misses_nothing(
    server: LiveServer, settings: Settings, tmp_path: Path
) -> None:
    # given: a separate `billing serve` process for the subscription, on the same database;
    # the money moves through another server, all the time
    token = server.token()
    env = {
        "BILLING_DATABASE_URL": settings.database_url or "",
        "BILLING_EVENTS_POLL_INTERVAL": "0.2",
    }
    received: list[dict[str, Any]] = []
    async with http(server.url, token) as api:
        payer, payee = await funded_pair(api)
        moving = asyncio.Event()

        async def keep_moving() -> None:
            for _ in range(30):
                await api.transfer(payer, payee, "0.01")
                moving.set()
                await asyncio.sleep(0.02)

        mover = asyncio.create_task(keep_moving())
        with serving(tmp_path / "a", **env) as first:
            async with socket(first.url, token) as ws:
                op = await ws.subscribe({"walletId": payer})
                await moving.wait()
                received += await ws.items(op, 5)
                # when: the server is killed outright, in the middle of the stream
                assert not mover.done()
                first.proc.kill()
                first.proc.wait()
                received += await until_closed(ws, op)
        # then: another server resumes from the last event the client got
        with serving(tmp_path / "b", **env) as second:
            await mover
            async with socket(second.url, token) as ws:
                op = await ws.subscribe({"walletId": payer, "after": received[-1]["cursor"]})
                received += await ws.items(op, 31 - len(received))
    # and: all 31 events (the resupply and 30 transfers), each once, in order
    assert sequences(received) == list(range(1, 32))
    assert received[-1]["balance"] == "99.70"


# ---------------------------------------------------------------- who may see what


async def test_a_client_token_sees_only_its_own_wallets(server: LiveServer) -> None:
    operator = server.token()
    async with http(server.url, operator) as api:
        mine_client, mine = await api.wallet("mine")
        _, theirs = await api.wallet("theirs")
        await api.resupply(mine, "1.00")
        await api.resupply(theirs, "1.00")
    client_token = server.token(int(mine_client))
    async with socket(server.url, client_token) as ws:
        own = await ws.subscribe({"walletId": mine})
        (event,) = await ws.items(own, 1)
        # when: another client's wallet, and one that does not exist
        other = await ws.subscribe({"walletId": theirs})
        (refused,) = await ws.items(other, 1)
        await ws.completed(other)
        missing = await ws.subscribe({"walletId": "987654"})
        (absent,) = await ws.items(missing, 1)
        await ws.completed(missing)
    # then: its own wallet's events; another's wallet looks exactly like a missing one
    assert event["walletId"] == mine
    assert refused == {
        "__typename": "WalletNotFound",
        "walletId": theirs,
        "code": "WALLET_NOT_FOUND",
        "message": f"Wallet {theirs} does not exist.",
    }
    assert {**absent, "walletId": theirs, "message": refused["message"]} == refused
    # and an operator token sees every wallet
    async with socket(server.url, operator) as ws:
        op = await ws.subscribe({"walletId": theirs})
        assert (await ws.items(op, 1))[0]["walletId"] == theirs


async def test_bad_wallet_ids_and_cursors_are_typed_invalid_input(server: LiveServer) -> None:
    token = server.token()
    async with http(server.url, token) as api:
        payer, payee = await funded_pair(api)
    garbage = [
        ("x", None),
        (payer, "garbage"),
        (payer, "%%%"),
        (payer, cursor(int(payee), 1)),  # another wallet's
        (payer, cursor(int(payer), 5)),  # beyond its last event
        (payer, "A" * 5000),
    ]
    async with socket(server.url, token) as ws:
        answers = []
        for wallet, after in garbage:
            op = await ws.subscribe({"walletId": wallet, "after": after})
            answers += await ws.items(op, 1)
            await ws.completed(op)
    assert [(a["__typename"], a["field"]) for a in answers] == [("InvalidInput", "walletId")] + [
        ("InvalidInput", "after")
    ] * 5
    assert all(a["code"] == "INVALID_INPUT" for a in answers)
    assert "another wallet" in answers[3]["message"]


# ---------------------------------------------------------------- the connection


async def test_connection_init_needs_a_valid_token(server: LiveServer) -> None:
    token = server.token()
    for payload in [{}, {"Authorization": "Bearer bk_nonsense"}, {"Authorization": token}]:
        async with socket(server.url) as ws:
            await ws.send({"type": "connection_init", "payload": payload})
            assert await closed_with(ws) == 4403, payload
    # the header as GraphiQL's Headers tab sends it, in any case
    async with socket(server.url) as ws:
        ack = await ws.init({"authorization": f"bearer {token}"})
        assert ack == {"type": "connection_ack"}
    # or the upgrade request's own Authorization header
    async with socket(server.url, headers={"Authorization": f"Bearer {token}"}) as ws:
        assert await ws.init(None) == {"type": "connection_ack"}
    # a subscription before connection_init closes the socket (4401)
    async with socket(server.url) as ws:
        await ws.subscribe({"walletId": "1"})
        assert await closed_with(ws) == 4401


async def test_a_socket_that_never_initialises_is_closed(settings: Settings) -> None:
    with live_server(settings.model_copy(update={"ws_init_timeout": 0.3})) as live:
        async with socket(live.url) as ws:
            assert await closed_with(ws) == 4408


async def test_the_legacy_protocol_and_bad_messages_are_refused(server: LiveServer) -> None:
    token = server.token()
    # the legacy graphql-ws protocol (and none at all) is not spoken
    for protocols in (["graphql-ws"], ["chat"]):
        async with socket(server.url, subprotocols=protocols) as ws:
            assert ws.ws.subprotocol is None
            assert await closed_with(ws) == 4406
    # malformed messages close the socket with 4400, never a server error
    for bad in [
        '"not an object"',
        "{not json",
        '{"type": "subscribe", "id": "1", "payload": 7}',
        '{"type": "complete", "id": []}',
        '{"type": 5}',
    ]:
        async with socket(server.url, token) as ws:
            await ws.ws.send(bad)
            assert await closed_with(ws) == 4400, bad


async def test_queries_and_mutations_go_over_http(server: LiveServer) -> None:
    token = server.token()
    async with socket(server.url, token) as ws:
        await ws.send(
            {"id": "q", "type": "subscribe", "payload": {"query": "{ currencies { code } }"}}
        )
        answer = await ws.of("q")
        # and the socket stays usable
        op = await ws.subscribe({"walletId": "987654"})
        (missing,) = await ws.items(op, 1)
    assert answer["type"] == "error"
    assert answer["payload"][0]["extensions"]["code"] == "WEBSOCKET_SUBSCRIPTIONS_ONLY"
    assert missing["__typename"] == "WalletNotFound"
    # and a subscription sent over HTTP is refused without a server error
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as client:
        response = await client.post(
            server.url,
            json={"query": 'subscription { walletEvents(walletId: "1") { __typename } }'},
        )
    assert 400 <= response.status_code < 500, response.text
    assert "Traceback" not in response.text


# ---------------------------------------------------------------- limits and endings


async def test_subscriptions_per_connection_and_per_token_are_limited(settings: Settings) -> None:
    limited = settings.model_copy(
        update={**FAST, "subscriptions_per_connection": 2, "subscriptions_per_token": 3}
    )
    with live_server(limited) as live:
        token = live.token()
        async with http(live.url, token) as api:
            payer, _ = await funded_pair(api)
        async with socket(live.url, token) as one, socket(live.url, token) as two:
            # per connection: the third operation on one socket is refused
            a = await one.subscribe({"walletId": payer})
            b = await one.subscribe({"walletId": payer})
            await one.items(a, 1)
            await one.items(b, 1)
            third = await one.subscribe({"walletId": payer})
            refused = await one.of(third)
            assert refused["type"] == "error"
            assert refused["payload"][0]["message"] == "Subscription limit reached"
            assert refused["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
            # per token (over its sockets, in this process): the fourth ends at once
            c = await two.subscribe({"walletId": payer})
            await two.items(c, 1)
            d = await two.subscribe({"walletId": payer})
            (ended,) = await two.items(d, 1)
            await two.completed(d)
            assert ended["__typename"] == "SubscriptionEnded"
            assert ended["reason"] == "TOO_MANY_SUBSCRIPTIONS"
            assert ended["resumeAfter"] == cursor(int(payer), 0)
            # and once one is completed there is room again
            await one.complete(a)
            await asyncio.sleep(0.2)
            e = await two.subscribe({"walletId": payer})
            assert (await two.items(e, 1))[0]["sequence"] == 1


async def test_a_slow_consumer_is_ended_with_the_cursor_to_resume_from(
    settings: Settings,
) -> None:
    # given: room for one waiting event per subscriber, and reads once a second
    tiny = settings.model_copy(update={"subscription_queue_size": 1, "events_poll_interval": 1.0})
    with live_server(tiny) as live:
        token = live.token()
        async with http(live.url, token) as api:
            payer, payee = await funded_pair(api)
            async with socket(live.url, token) as ws:
                op = await ws.subscribe({"walletId": payer})
                got = await ws.items(op, 1)
                # when: ten events arrive at once (well within one read)
                for _ in range(10):
                    await api.transfer(payer, payee, "1.00")
                items: list[dict[str, Any]] = []
                while not items or items[-1]["__typename"] == "WalletEvent":
                    items += await ws.items(op, 1)
                await ws.completed(op)
                *events, ended = items
                got += events
                # then: it ends, saying why and where to resume
                assert ended["reason"] == "SLOW_CONSUMER"
                assert ended["resumeAfter"] == got[-1]["cursor"]
                # and resuming from there gives the rest, once each
                again = await ws.subscribe({"walletId": payer, "after": ended["resumeAfter"]})
                got += await ws.items(again, 11 - len(got))
    assert sequences(got) == list(range(1, 12))


async def test_a_revoked_tokens_subscriptions_end_within_seconds(server: LiveServer) -> None:
    operator = server.token()
    async with http(server.url, operator) as api:
        client_id, wallet = await api.wallet("revoked")
        await api.resupply(wallet, "1.00")
    secret = server.token(int(client_id))
    token_id = max(t.id for t in server.run(tokens.list_tokens(server.app.state.db)))
    async with socket(server.url, secret) as ws:
        op = await ws.subscribe({"walletId": wallet})
        await ws.items(op, 1)
        # when: the token is revoked (through the database: as another process would)
        started = time.monotonic()
        server.run(tokens.revoke_token(server.app.state.db, token_id))
        # then: the subscription ends, saying why, within seconds
        (ended,) = await ws.items(op, 1, seconds=5)
        took = time.monotonic() - started
        await ws.completed(op)
        assert (ended["reason"], ended["resumeAfter"]) == ("TOKEN_REVOKED", cursor(int(wallet), 1))
        assert took < 3, took
        # and the socket starts no new one with that token
        again = await ws.subscribe({"walletId": wallet})
        (refused,) = await ws.items(again, 1)
        assert refused["reason"] == "TOKEN_REVOKED"


# ---------------------------------------------------------------- notifications and their loss


async def test_a_notification_wakes_the_hub_at_once(
    settings: Settings, sql: asyncpg.Connection
) -> None:
    # given: a hub that would read only every 30 s on its own
    with live_server(settings.model_copy(update={"events_poll_interval": 30.0})) as live:
        token = live.token()
        async with http(live.url, token) as api:
            payer, payee = await funded_pair(api)
            async with socket(live.url, token) as ws:
                op = await ws.subscribe({"walletId": payer})
                await ws.items(op, 1)
                await asyncio.sleep(0.3)  # the read that follows a new subscriber is done
                await api.transfer(payer, payee, "1.00")
                # when: the relay's wake-up arrives (payload: the horizon)
                started = time.monotonic()
                await sql.execute(
                    "SELECT pg_notify('billing_events',"
                    " pg_snapshot_xmin(pg_current_snapshot())::text)"
                )
                (event,) = await ws.items(op, 1, seconds=5)
    # then: the event arrives at once, not after 30 s
    assert event["sequence"] == 2
    assert time.monotonic() - started < 2


async def test_without_the_listener_events_still_arrive_by_polling(
    server: LiveServer, sql: asyncpg.Connection
) -> None:
    token = server.token()
    hub = server.app.state.event_hub
    async with http(server.url, token) as api:
        payer, payee = await funded_pair(api)
        async with socket(server.url, token) as ws:
            op = await ws.subscribe({"walletId": payer})
            await ws.items(op, 1)
            assert hub.listening
            sessions = server.app.state.listener.sessions
            # when: the process's listening connection is cut
            killed = await sql.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE query LIKE 'LISTEN%' AND application_name = 'billing-api'"
            )
            assert killed == 1
            await until(lambda: not hub.listening)
            # then: events keep coming, by polling and after the listener is back
            await api.transfer(payer, payee, "1.00")
            (during,) = await ws.items(op, 1, seconds=5)
            await until(lambda: server.app.state.listener.sessions > sessions)
            await api.transfer(payer, payee, "1.00")
            (after,) = await ws.items(op, 1, seconds=5)
    assert (during["sequence"], after["sequence"]) == (2, 3)


async def test_stopping_the_server_ends_open_subscriptions_promptly(settings: Settings) -> None:
    with live_server(settings.model_copy(update=FAST)) as live:
        token = live.token()
        async with http(live.url, token) as api:
            payer, _ = await funded_pair(api)
        ws_context = socket(live.url, token)
        ws = await ws_context.__aenter__()
        op = await ws.subscribe({"walletId": payer})
        await ws.items(op, 1)
        started = time.monotonic()
    # the block ended: the server stopped, with a subscription open
    stopping = time.monotonic() - started
    try:
        assert await closed_with(ws) == 1012  # "service restart": come back later
    finally:
        await ws_context.__aexit__(None, None, None)
    assert stopping < 5, stopping


async def test_subscription_documents_have_the_usual_limits(server: LiveServer) -> None:
    token = server.token()
    aliases = " ".join(f"a{n}: __typename" for n in range(20))
    async with socket(server.url, token) as ws:
        await ws.send(
            {
                "id": "wide",
                "type": "subscribe",
                "payload": {
                    "query": f'subscription {{ walletEvents(walletId: "1") {{ {aliases} }} }}'
                },
            }
        )
        refused = await ws.of("wide")
    assert refused["type"] == "error", refused
    assert refused["payload"][0]["extensions"]["code"] == "TOO_MANY_ALIASES"
