"""Webhooks: every event reaches every endpoint that wants it, signed, in order per wallet, at
least once, through failing, hanging and dropping receivers; endpoints that keep failing are
disabled; only public addresses are reached; only operators manage them.

Real PostgreSQL, a real relay, a real HTTP receiver on a free 127.0.0.1 port. The timings
(timeout, retry delays, poll interval) are shrunk by settings.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from starlette.applications import Starlette

from billing.config import Settings
from billing.events.relay import CHANNEL, LOCK, Relay
from billing.events.signing import signature
from billing.events.transport import Sender
from support.api import Api, api_for, custom_api, new_token
from support.receiver import receiving
from support.serve import serving

ROOT = Path(__file__).resolve().parent.parent

FAST = {
    "webhooks_allow_private": True,
    "webhooks_timeout": 0.5,
    "webhooks_retry_delay": 0.05,
    "webhooks_retry_max_delay": 0.2,
    "events_relay_interval": 0.02,
}

CREATE_ENDPOINT = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    __typename
    ... on CreateWebhookEndpointSuccess {
      secret endpoint { id url description events enabled disabledReason }
    }
    ... on Error { code message }
    ... on InvalidInput { field }
  }
}
"""
ENDPOINTS = "{ webhookEndpoints { id url events enabled disabledReason } }"
DELIVERIES = """
query($endpoint: ID!, $status: WebhookDeliveryStatus, $first: Int, $after: String) {
  webhookDeliveries(endpointId: $endpoint, status: $status, first: $first, after: $after) {
    edges {
      cursor
      node {
        id endpointId status attempts lastStatus lastError nextAttemptAt lastAttemptAt
        deliveredAt
        event { id type walletId clientId sequence currency amount heldChange balance available
                transactionNumber reference metadata holdId }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""
RESEND = """
mutation($id: ID!) {
  resendWebhookDelivery(id: $id) {
    __typename
    ... on ResendWebhookDeliverySuccess { delivery { id status attempts } }
    ... on Error { code message }
  }
}
"""
SWITCH = """
mutation($id: ID!) {
  %s(id: $id) {
    __typename
    ... on %sSuccess { endpoint { id enabled disabledReason } }
    ... on Error { code message }
  }
}
"""
DELETE = """
mutation($id: ID!) {
  deleteWebhookEndpoint(id: $id) {
    __typename ... on DeleteWebhookEndpointSuccess { id } ... on Error { code message }
  }
}
"""
HOLD = """
mutation($from: ID!, $to: ID!) {
  holdTransfer(input: {walletFromId: $from, walletToId: $to, amount: "5.00"}) {
    ... on HoldTransferSuccess { hold { id } }
  }
}
"""
CAPTURE = """
mutation($hold: ID!) {
  captureHold(input: {holdId: $hold, amount: "2.00"}) { __typename }
}
"""


def signed(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's check, written independently of the service's code."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    digest = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return headers["webhook-signature"] == f"v1,{digest}"


async def create_endpoint(api: Api, url: str, events: list[str] | None = None) -> dict[str, Any]:
    data = await api.run(
        CREATE_ENDPOINT, {"input": {"url": url, "events": events or [], "description": "tests"}}
    )
    result: dict[str, Any] = data["createWebhookEndpoint"]
    assert result["__typename"] == "CreateWebhookEndpointSuccess", result
    return result


async def deliveries(api: Api, endpoint: str, **args: Any) -> list[dict[str, Any]]:
    """Every delivery of ``endpoint``, newest first, read page by page."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        data = await api.run(DELIVERIES, {"endpoint": endpoint, "first": 3, "after": after, **args})
        page = data["webhookDeliveries"]
        found += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


async def attempted(api: Api, endpoint: str) -> dict[str, Any]:
    """The endpoint's one delivery, once it was attempted."""
    for _ in range(250):
        found = await deliveries(api, endpoint)
        if found and found[0]["attempts"]:
            (delivery,) = found
            return delivery
        await asyncio.sleep(0.02)
    raise AssertionError(f"no attempt in 5 s: {found}")


async def settled(sql: asyncpg.Connection) -> None:
    """Wait until no delivery is pending (the last answers are recorded)."""
    for _ in range(250):
        if not await sql.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE status = 'PENDING'"
        ):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("deliveries still pending after 5 s")


async def delivered(api: Api, endpoint: str) -> dict[str, Any]:
    """The endpoint's one delivery, once it is recorded as delivered."""
    for _ in range(250):
        found = await deliveries(api, endpoint)
        if found and found[0]["status"] == "DELIVERED":
            (delivery,) = found
            return delivery
        await asyncio.sleep(0.02)
    raise AssertionError(f"not delivered in 5 s: {found}")


async def make_events(api: Api) -> tuple[str, str]:
    """Resupplies, transfers both ways, a hold and its capture; the two wallets."""
    _, a = await api.create_client("hook-a")
    _, b = await api.create_client("hook-b")
    await api.resupply(a, "100.00")
    await api.resupply(b, "1.50")
    for _ in range(3):
        await api.transfer(a, b, "10.00")
    await api.transfer(b, a, "0.25")
    hold = (await api.run(HOLD, {"from": a, "to": b}))["holdTransfer"]["hold"]["id"]
    assert (await api.run(CAPTURE, {"hold": hold}))["captureHold"]["__typename"] == (
        "CaptureHoldSuccess"
    )
    return a, b


async def events(sql: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    """Every event written, by its webhook id."""
    rows = await sql.fetch(
        "SELECT e.*, w.currency, t.number FROM wallet_events e JOIN wallets w ON w.id ="
        " e.wallet_id LEFT JOIN transactions t ON t.id = e.transaction_id ORDER BY e.id"
    )
    return {f"evt_{r['id']}": r for r in rows}


@pytest.fixture
async def fast(settings: Settings) -> AsyncIterator[tuple[Starlette, Api]]:
    async with custom_api(settings, **FAST) as made:
        yield made


async def test_every_event_arrives_signed_and_in_order_through_failures(
    fast: tuple[Starlette, Api], sql: asyncpg.Connection
) -> None:
    _, api = fast
    # given: a receiver that answers 500 three times, hangs once, drops a connection, then
    # accepts; and a second endpoint that wants only holds and captures
    script = {0: "500", 1: "500", 2: "500", 3: "hang", 4: "drop"}
    with receiving(lambda n: script.get(n, "ok")) as rx, receiving() as holds_rx:
        endpoint = await create_endpoint(api, rx.url)
        holds_only = await create_endpoint(api, holds_rx.url, ["HOLD", "CAPTURE"])
        # when
        await make_events(api)
        written = await events(sql)
        await rx.wait_for(lambda r: {q.id for q in r.accepted} == set(written))
        wanted = {i for i, e in written.items() if e["kind"] in ("HOLD", "CAPTURE")}
        await holds_rx.wait_for(lambda r: {q.id for q in r.accepted} == wanted)
        await settled(sql)
        seen = rx.seen()
    # then: every attempt was signed, and carried the event as written
    assert {r.behaviour for r in seen} == {"500", "hang", "drop", "ok"}
    for request in seen:
        assert signed(endpoint["secret"], request.headers, request.body), request
        assert request.path == "/hooks"
        event, body = written[request.id], request.json()
        assert body == {
            "id": request.id,
            "type": event["kind"],
            "createdAt": body["createdAt"],
            "data": {
                "walletId": str(event["wallet_id"]),
                "clientId": body["data"]["clientId"],
                "sequence": event["seq"],
                "currency": "USD",
                "amount": f"{event['amount']:f}",
                "heldChange": f"{event['held_change']:f}",
                "balance": f"{event['balance']:f}",
                "available": f"{event['available']:f}",
                "transactionNumber": str(event["number"]),
                "reference": None,
                "metadata": {},
                "holdId": None if event["hold_id"] is None else str(event["hold_id"]),
            },
        }
    assert {q.json()["type"] for q in holds_rx.accepted} == {"HOLD", "CAPTURE"}
    assert all(signed(holds_only["secret"], q.headers, q.body) for q in holds_rx.accepted)
    # and each wallet's events were first sent in their order, none before the last was taken
    first: dict[str, Any] = {}
    for request in seen:
        first.setdefault(request.id, request)
    for wallet in {e["wallet_id"] for e in written.values()}:
        order = [
            r.json()["data"]["sequence"]
            for r in first.values()
            if r.json()["data"]["walletId"] == str(wallet)
        ]
        assert order == sorted(order) == list(range(1, len(order) + 1)), order
    # and the deliveries tell the story: all delivered, the failures counted as attempts
    shown = await deliveries(api, endpoint["endpoint"]["id"])
    assert len(shown) == len(written)
    assert {d["event"]["id"] for d in shown} == set(written)
    assert all(d["status"] == "DELIVERED" and d["lastStatus"] == 200 for d in shown)
    assert all(d["lastError"] is None and d["nextAttemptAt"] is None for d in shown)
    assert sum(d["attempts"] for d in shown) == len(seen)
    assert max(d["attempts"] for d in shown) > 1
    by_id = {d["event"]["id"]: d["event"] for d in shown}
    assert [d["id"] for d in shown] == sorted((d["id"] for d in shown), key=int, reverse=True)
    assert all(by_id[i]["amount"] == f"{e['amount']:f}" for i, e in written.items())


async def test_resend_sends_a_delivered_event_again(
    fast: tuple[Starlette, Api], sql: asyncpg.Connection
) -> None:
    _, api = fast
    with receiving() as rx:
        endpoint = (await create_endpoint(api, rx.url))["endpoint"]["id"]
        _, wallet = await api.create_client("resent")
        await api.resupply(wallet, "3.00")
        await rx.wait_for(lambda r: len(r.accepted) == 1)
        delivery = await delivered(api, endpoint)
        # when
        data = await api.run(RESEND, {"id": delivery["id"]})
        # then: pending again, and sent again with the same id
        assert data["resendWebhookDelivery"] == {
            "__typename": "ResendWebhookDeliverySuccess",
            "delivery": {"id": delivery["id"], "status": "PENDING", "attempts": 0},
        }
        await rx.wait_for(lambda r: len(r.accepted) == 2)
        assert rx.accepted[0].id == rx.accepted[1].id == delivery["event"]["id"]
        assert rx.accepted[0].body == rx.accepted[1].body
    again = await delivered(api, endpoint)
    assert (again["status"], again["attempts"]) == ("DELIVERED", 1)
    # and a delivery that does not exist is a typed error
    missing = await api.run(RESEND, {"id": "999999"})
    assert missing["resendWebhookDelivery"] == {
        "__typename": "WebhookDeliveryNotFound",
        "code": "WEBHOOK_DELIVERY_NOT_FOUND",
        "message": "Webhook delivery 999999 does not exist.",
    }


async def test_an_endpoint_failing_past_the_retry_window_is_disabled_with_a_reason(
    settings: Settings, sql: asyncpg.Connection
) -> None:
    async with custom_api(settings, **FAST, webhooks_retry_for=0.5) as (_, api):
        with receiving(lambda n: "500") as rx:
            endpoint = (await create_endpoint(api, rx.url))["endpoint"]["id"]
            _, wallet = await api.create_client("failing")
            await api.resupply(wallet, "3.00")
            await api.resupply(wallet, "4.00")
            # when: it answers 500 for longer than the retry window
            for _ in range(300):
                (found,) = (await api.run(ENDPOINTS))["webhookEndpoints"]
                if not found["enabled"]:
                    break
                await asyncio.sleep(0.02)
            tries = len(rx.seen())
        # then: disabled, with the reason; the first delivery failed, the second waits
        assert found == {
            "id": endpoint,
            "url": rx.url,
            "events": [],
            "enabled": False,
            "disabledReason": "deliveries failed for 0.5 seconds; last: HTTP 500",
        }
        second, first = await deliveries(api, endpoint)
        assert (first["status"], first["lastStatus"], first["lastError"]) == (
            "FAILED",
            500,
            "HTTP 500",
        )
        assert first["attempts"] == tries > 2
        assert (second["status"], second["attempts"]) == ("PENDING", 0)
        assert {r.id for r in rx.seen()} == {first["event"]["id"]}
        # and an event while it is disabled makes no delivery for it
        await api.resupply(wallet, "5.00")
        await asyncio.sleep(0.2)
        assert len(await deliveries(api, endpoint)) == 2
        # when: an operator enables it, the waiting delivery goes out
        with receiving() as fixed:
            await sql.execute("UPDATE webhook_endpoints SET url = $1", fixed.url)
            enabled = await api.run(
                SWITCH % ("enableWebhookEndpoint", "EnableWebhookEndpoint"), {"id": endpoint}
            )
            assert enabled["enableWebhookEndpoint"]["endpoint"] == {
                "id": endpoint,
                "enabled": True,
                "disabledReason": None,
            }
            await fixed.wait_for(lambda r: [q.id for q in r.accepted] == [second["event"]["id"]])


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        ("500", "HTTP 500"),
        ("hang", "no answer within 0.5 s"),
        ("drop", "connection failed: "),
    ],
)
async def test_a_failed_attempt_says_why(
    fast: tuple[Starlette, Api], behaviour: str, error: str
) -> None:
    _, api = fast
    with receiving(lambda n: behaviour) as rx:
        endpoint = (await create_endpoint(api, rx.url))["endpoint"]["id"]
        _, wallet = await api.create_client("why")
        await api.resupply(wallet, "1.00")
        delivery = await attempted(api, endpoint)
    assert delivery["status"] == "PENDING"
    assert delivery["lastError"].startswith(error)
    assert delivery["lastStatus"] == (500 if behaviour == "500" else None)
    assert delivery["nextAttemptAt"] is not None


async def test_endpoints_are_listed_disabled_enabled_and_deleted(
    fast: tuple[Starlette, Api], sql: asyncpg.Connection
) -> None:
    _, api = fast
    made = await create_endpoint(api, "http://127.0.0.1:9/a", ["TRANSFER", "REFUND", "TRANSFER"])
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", made["secret"])
    assert made["endpoint"]["events"] == ["TRANSFER", "REFUND"]
    ident = made["endpoint"]["id"]
    assert await sql.fetchval("SELECT secret FROM webhook_endpoints") == made["secret"]
    listed = (await api.run(ENDPOINTS))["webhookEndpoints"]
    assert listed == [
        {
            "id": ident,
            "url": "http://127.0.0.1:9/a",
            "events": ["TRANSFER", "REFUND"],
            "enabled": True,
            "disabledReason": None,
        }
    ]
    off = await api.run(
        SWITCH % ("disableWebhookEndpoint", "DisableWebhookEndpoint"), {"id": ident}
    )
    assert off["disableWebhookEndpoint"]["endpoint"] == {
        "id": ident,
        "enabled": False,
        "disabledReason": "disabled by an operator",
    }
    for field in ("disableWebhookEndpoint", "enableWebhookEndpoint", "deleteWebhookEndpoint"):
        document = (
            DELETE if field.startswith("delete") else SWITCH % (field, field[0].upper() + field[1:])
        )
        for missing in ("424242", "x"):
            answer = (await api.run(document, {"id": missing}))[field]
            expected = "WebhookEndpointNotFound" if missing != "x" else "InvalidInput"
            assert answer["__typename"] == expected, answer
    deleted = await api.run(DELETE, {"id": ident})
    assert deleted["deleteWebhookEndpoint"] == {
        "__typename": "DeleteWebhookEndpointSuccess",
        "id": ident,
    }
    assert (await api.run(ENDPOINTS))["webhookEndpoints"] == []
    assert (await api.run(DELIVERIES, {"endpoint": ident}))["webhookDeliveries"] is None


REFUSED_URLS = {
    "http://127.0.0.1:8080/hooks": "127.0.0.1 is loopback",
    "http://localhost/hooks": "localhost is loopback",
    "http://api.localhost/hooks": "api.localhost is loopback",
    "http://10.1.2.3/": "10.1.2.3 is private",
    "http://192.168.0.10/": "192.168.0.10 is private",
    "http://172.16.5.4/": "172.16.5.4 is private",
    "http://169.254.169.254/latest/meta-data": "169.254.169.254 is link-local",
    "http://[::1]/": "::1 is loopback",
    "http://[fd00::1]/": "fd00::1 is unique-local",
    "http://[fe80::1]/": "fe80::1 is link-local",
    "http://[::ffff:10.0.0.1]/": "::ffff:10.0.0.1 is private",
    "http://0.0.0.0/": "0.0.0.0 is unspecified",
    "http://224.0.0.1/": "224.0.0.1 is multicast",
    "http://100.64.0.1/": "100.64.0.1 is not public",
    "http://240.0.0.1/": "240.0.0.1 is reserved",
    "ftp://example.com/": "http:// or https://",
    "file:///etc/passwd": "http:// or https://",
    "gopher://127.0.0.1:25/": "http:// or https://",
    "https://user:pw@example.com/": "user name or password",
    "https://example.com/a b": "spaces",
    "https://example.com:99999/": "not a valid URL",
    "https:///nohost": "must name a host",
    "https://example.com/#x": "fragment",
}


@pytest.mark.parametrize("url", sorted(REFUSED_URLS))
async def test_webhook_urls_must_lead_to_public_addresses(
    api: Api, sql: asyncpg.Connection, url: str
) -> None:
    answer = (await api.run(CREATE_ENDPOINT, {"input": {"url": url}}))["createWebhookEndpoint"]
    assert answer["__typename"] == "InvalidInput", answer
    assert (answer["code"], answer["field"]) == ("INVALID_INPUT", "url")
    assert REFUSED_URLS[url] in answer["message"]
    assert await sql.fetchval("SELECT count(*) FROM webhook_endpoints") == 0


async def test_unknown_event_kinds_and_long_descriptions_are_invalid(
    api: Api, sql: asyncpg.Connection
) -> None:
    for given, field in (
        ({"events": ["TRANSFER", "PAYOUT"]}, "events"),
        ({"description": "x" * 501}, "description"),
        ({"description": "bell\x07"}, "description"),
    ):
        document = {"input": {"url": "https://example.com/hooks", **given}}
        answer = (await api.run(CREATE_ENDPOINT, document))["createWebhookEndpoint"]
        assert (answer["__typename"], answer["field"]) == ("InvalidInput", field), answer
    assert await sql.fetchval("SELECT count(*) FROM webhook_endpoints") == 0
    # while a public name is accepted (it is checked again on every connection)
    made = await create_endpoint(api, "https://example.com/hooks")
    assert made["endpoint"]["url"] == "https://example.com/hooks"


async def test_a_name_that_resolves_to_a_private_address_gets_no_connection(
    settings: Settings, sql: asyncpg.Connection
) -> None:
    # given: an endpoint whose name now resolves to loopback (as after DNS rebinding), and a
    # relay that refuses private addresses
    with receiving() as rx:
        rebound = rx.url.replace("127.0.0.1", "localhost")
        async with custom_api(settings, **{**FAST, "webhooks_allow_private": False}) as (_, api):
            await sql.execute(
                "INSERT INTO webhook_endpoints (url, events, secret) VALUES ($1, '{}', $2)",
                rebound,
                "whsec_" + base64.b64encode(b"k" * 32).decode(),
            )
            _, wallet = await api.create_client("rebound")
            await api.resupply(wallet, "1.00")
            delivery = await attempted(api, "1")
        # then: no request reached it
        assert rx.seen() == []
    assert delivery["status"] == "PENDING"
    assert re.fullmatch(
        r"refused to connect: (127\.0\.0\.1|::1) is loopback", delivery["lastError"]
    )
    # and the sender alone refuses it too, whatever the name
    sender = Sender(timeout=1, concurrency=1, allow_private=False)
    try:
        assert await sender.post(rebound, {}, b"{}") == (
            None,
            delivery["lastError"],
        )
        status, error = await sender.post("http://10.255.255.1:9/", {}, b"{}")
        assert (status, error) == (None, "refused to connect: 10.255.255.1 is private")
    finally:
        await sender.close()


async def test_only_operators_manage_webhooks(
    fast: tuple[Starlette, Api], sql: asyncpg.Connection
) -> None:
    app, api = fast
    endpoint = (await create_endpoint(api, "http://127.0.0.1:9/x"))["endpoint"]["id"]
    client, _ = await api.create_client("not-an-operator")
    before = await sql.fetch("SELECT * FROM webhook_endpoints ORDER BY id")
    async with api_for(app, await new_token(app, int(client))) as alice:
        # queries: null, as for anything it may not see
        assert await alice.run(ENDPOINTS) == {"webhookEndpoints": None}
        assert await alice.run(DELIVERIES, {"endpoint": endpoint}) == {"webhookDeliveries": None}
        # mutations: PermissionDenied, as for every operator-only mutation
        create = await alice.run(CREATE_ENDPOINT, {"input": {"url": "https://example.com/x"}})
        assert create["createWebhookEndpoint"]["code"] == "PERMISSION_DENIED"
        for field, document in (
            (
                "disableWebhookEndpoint",
                SWITCH % ("disableWebhookEndpoint", "DisableWebhookEndpoint"),
            ),
            ("enableWebhookEndpoint", SWITCH % ("enableWebhookEndpoint", "EnableWebhookEndpoint")),
            ("deleteWebhookEndpoint", DELETE),
            ("resendWebhookDelivery", RESEND),
        ):
            answer = (await alice.run(document, {"id": endpoint}))[field]
            assert (answer["__typename"], answer["code"]) == (
                "PermissionDenied",
                "PERMISSION_DENIED",
            ), field
    assert await sql.fetch("SELECT * FROM webhook_endpoints ORDER BY id") == before


async def test_the_relay_notifies_once_per_batch_with_its_horizon(
    fast: tuple[Starlette, Api], sql: asyncpg.Connection
) -> None:
    _, api = fast
    heard: asyncio.Queue[str] = asyncio.Queue()

    def hear(*args: Any) -> None:
        heard.put_nowait(args[3])

    await sql.add_listener(CHANNEL, hear)
    try:
        _, wallet = await api.create_client("notified")
        await api.resupply(wallet, "1.00")
        horizon = int(await asyncio.wait_for(heard.get(), 5))
    finally:
        await sql.remove_listener(CHANNEL, hear)
    tx = await sql.fetchval("SELECT tx FROM wallet_events")
    assert tx < horizon == await sql.fetchval("SELECT horizon FROM event_relay")


async def leader(sql: asyncpg.Connection) -> int | None:
    """The pid of the backend that holds the relay's lock."""
    pid: int | None = await sql.fetchval(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2"
        " AND objsubid = 2 AND granted",
        LOCK[0],
        LOCK[1],
    )
    return pid


async def test_one_relay_leads_and_another_takes_over_when_its_connection_dies(
    settings: Settings, sql: asyncpg.Connection
) -> None:
    relay_settings = settings.model_copy(update=FAST)
    async with custom_api(settings, events_relay=False, webhooks_allow_private=True) as (_, api):
        relays = [Relay(settings.database_url or "", relay_settings, retry=0.1) for _ in range(2)]
        with receiving() as rx:
            endpoint = (await create_endpoint(api, rx.url))["endpoint"]["id"]
            for relay in relays:
                await relay.start()
            try:
                for _ in range(200):
                    if any(r.leading for r in relays):
                        break
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.3)  # both had their chance to take the lock
                assert [r.leading for r in relays].count(True) == 1
                first = next(r for r in relays if r.leading)
                a, b = await make_events(api)
                count = len(await events(sql))
                await rx.wait_for(lambda r: len(r.accepted) == count)
                await settled(sql)  # (an answer not yet recorded would be sent again)
                # when: the leader's connection dies
                await sql.execute("SELECT pg_terminate_backend($1)", await leader(sql))
                for _ in range(200):
                    if any(r.leading for r in relays if r is not first):
                        break
                    await asyncio.sleep(0.02)
                # then: the other leads, and delivers what follows
                assert [r.leading for r in relays if r is not first] == [True]
                assert not first.leading
                await api.transfer(a, b, "1.00")
                await rx.wait_for(lambda r: len(r.accepted) == count + 2)
                await settled(sql)
                await asyncio.sleep(0.2)  # time for a (wrong) second send
            finally:
                for relay in relays:
                    await relay.stop()
        # and nothing was delivered twice
        ids = [r.id for r in rx.seen()]
        assert len(ids) == len(set(ids)) == count + 2
        shown = await deliveries(api, endpoint)
        assert {d["status"] for d in shown} == {"DELIVERED"}


def documented_verify() -> Any:
    """The ``verify`` function of the Python snippet under "Verifying a signature"."""
    page = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    section = page.split("### Verifying a signature\n", 1)[1]
    code = section.split("```python\n", 1)[1].split("\n```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/events.md", "exec"), namespace)
    return namespace["verify"]


async def test_the_documented_verification_accepts_a_real_delivery_and_nothing_else(
    fast: tuple[Starlette, Api],
) -> None:
    _, api = fast
    with receiving() as rx:
        secret = (await create_endpoint(api, rx.url))["secret"]
        _, wallet = await api.create_client("verified")
        await api.resupply(wallet, "12.34")
        await rx.wait_for(lambda r: len(r.accepted) == 1)
    (request,) = rx.accepted
    verify = documented_verify()
    headers, body = request.headers, request.body
    # a real delivery passes
    assert verify(secret, headers, body) is True
    # a changed body, id or secret does not
    assert verify(secret, headers, body.replace(b"12.34", b"99.99")) is False
    assert verify(secret, {**headers, "webhook-id": "evt_999999"}, body) is False
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    assert verify(other, headers, body) is False

    # nor a correctly signed request more than five minutes old (or ahead), unlike one within
    def at(shift: int) -> dict[str, str]:
        moved = int(time.time()) + shift
        resigned = signature(secret, headers["webhook-id"], moved, body)
        return {**headers, "webhook-timestamp": str(moved), "webhook-signature": resigned}

    assert [verify(secret, at(shift), body) for shift in (-310, -290, 290, 310)] == [
        False,
        True,
        True,
        False,
    ]
    # nor a request without its headers
    assert verify(secret, {"webhook-id": headers["webhook-id"]}, body) is False


@pytest.mark.slow
async def test_deliveries_in_flight_when_the_server_is_killed_arrive_after_a_restart(
    settings: Settings, sql: asyncpg.Connection, tmp_path: Path
) -> None:
    # given: a receiver that holds every request during the first run, and events
    phase = {"now": "hold"}
    with receiving(lambda n: phase["now"]) as rx:
        async with custom_api(settings, events_relay=False, webhooks_allow_private=True) as (
            _,
            api,
        ):
            await create_endpoint(api, rx.url)
            await make_events(api)
        written = await events(sql)
        env = {
            "BILLING_DATABASE_URL": settings.database_url or "",
            "BILLING_WEBHOOKS_ALLOW_PRIVATE": "true",
            "BILLING_WEBHOOKS_TIMEOUT": "60",
        }
        with serving(tmp_path, **env) as first:
            # when: the server is killed while its first deliveries are in flight
            rx.block_until(lambda r: len(r.seen()) == 2)  # the head of each wallet
            first.proc.kill()
            first.proc.wait()
        in_flight = {r.id for r in rx.seen()}
        phase["now"] = "ok"
        rx.release()
        assert await sql.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE status = 'PENDING'"
        ) == len(written)
        # then: after a restart, every event arrives, those in flight again
        with serving(tmp_path, **env):
            rx.block_until(lambda r: {q.id for q in r.accepted} == set(written))
            for _ in range(100):
                statuses = await sql.fetch("SELECT DISTINCT status FROM webhook_deliveries")
                if [s["status"] for s in statuses] == ["DELIVERED"]:
                    break
                await asyncio.sleep(0.05)
    assert in_flight <= {r.id for r in rx.accepted}
    assert [s["status"] for s in statuses] == ["DELIVERED"]
