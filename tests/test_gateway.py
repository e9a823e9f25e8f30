"""The gateway in front of the routes: direct handlers, the routes behind it, masked faults."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from billing.http.gateway import Gateway


async def routes(scope: Scope, receive: Receive, send: Send) -> None:
    """Echoes the body it receives, as the routes behind the gateway would see it."""
    message = await receive()
    body = b"routes:" + message["body"]
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def client(gateway: Gateway) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://test")


async def test_a_direct_handler_answers_or_declines_and_the_routes_get_the_body() -> None:
    # given: a direct handler for /direct that answers only bodies starting with "mine"
    seen: list[bytes] = []

    async def direct(scope: Scope, body: bytes, send: Send) -> bool:
        seen.append(body)
        if not body.startswith(b"mine"):
            return False
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"direct"})
        return True

    gateway = Gateway(routes, max_bytes=100, direct={"/direct": direct})
    async with client(gateway) as http:
        # when
        answered = await http.post("/direct", content=b"mine, please")
        declined = await http.post("/direct", content=b"yours")
        elsewhere = await http.post("/other", content=b"mine too")
    # then
    assert (answered.status_code, answered.text) == (201, "direct")
    assert (declined.status_code, declined.text) == (200, "routes:yours")
    assert elsewhere.text == "routes:mine too"  # other paths never reach the direct handler
    assert seen == [b"mine, please", b"yours"]
    for response in (answered, declined, elsewhere):
        assert len(response.headers["x-request-id"]) == 32


async def test_a_failing_direct_handler_is_masked_with_the_request_id_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given: a direct handler with a fault nobody expected
    async def direct(scope: Scope, body: bytes, send: Send) -> bool:
        raise RuntimeError("secret detail")

    gateway = Gateway(routes, max_bytes=100, direct={"/direct": direct})
    async with client(gateway) as http:
        # when
        with caplog.at_level(logging.ERROR, logger="billing.errors"):
            response = await http.post("/direct", content=b"{}", headers={"X-Request-ID": "req-1"})
    # then: a 500 in the GraphQL error shape naming the request, nothing of the fault
    assert response.status_code == 500
    body: dict[str, Any] = response.json()
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_ERROR"
    assert body["errors"][0]["message"] == "Internal error. Request id: req-1"
    assert "secret" not in response.text
    assert response.headers["x-request-id"] == "req-1"
    [record] = [r for r in caplog.records if r.name == "billing.errors"]
    assert "req-1" in record.getMessage()
    assert record.exc_info is not None
