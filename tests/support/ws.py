"""A graphql-transport-ws client for tests, on the ``websockets`` asyncio client, and an async
HTTP client for the mutations that make events; both against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from support.documents import CREATE_CLIENT, RESUPPLY, TRANSFER

PROTOCOL = "graphql-transport-ws"

WALLET_EVENTS = """
subscription WalletEvents($walletId: ID!, $after: String) {
  walletEvents(walletId: $walletId, after: $after) {
    __typename
    ... on WalletEvent {
      cursor id walletId sequence kind amount heldChange balance available currency
      transactionNumber reference metadata holdId createdAt
    }
    ... on SubscriptionEnded { reason message resumeAfter }
    ... on WalletNotFound { walletId }
    ... on InvalidInput { field }
    ... on Error { code message }
  }
}
"""


def ws_url(http_url: str) -> str:
    return "ws://" + http_url.removeprefix("http://")


class Socket:
    """One WebSocket speaking graphql-transport-ws."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = 0
        self.pending: dict[str, list[dict[str, Any]]] = {}  # received for other operations

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, seconds: float = 10) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), seconds))
        return message

    async def init(self, payload: dict[str, Any] | None) -> dict[str, Any]:
        await self.send({"type": "connection_init", "payload": payload or {}})
        return await self.receive()

    async def subscribe(
        self,
        variables: dict[str, Any],
        query: str = WALLET_EVENTS,
    ) -> str:
        self.ids += 1
        operation = str(self.ids)
        await self.send(
            {
                "id": operation,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables},
            }
        )
        return operation

    async def complete(self, operation: str) -> None:
        await self.send({"id": operation, "type": "complete"})

    async def of(self, operation: str, seconds: float = 10) -> dict[str, Any]:
        """The next message of ``operation`` (others are kept for later)."""
        waiting = self.pending.get(operation)
        if waiting:
            return waiting.pop(0)
        while True:
            message = await self.receive(seconds)
            if message.get("id") == operation:
                return message
            assert "id" in message, message
            self.pending.setdefault(message["id"], []).append(message)

    async def items(self, operation: str, count: int, seconds: float = 10) -> list[dict[str, Any]]:
        """The next ``count`` items of ``operation``."""
        found: list[dict[str, Any]] = []
        while len(found) < count:
            message = await self.of(operation, seconds)
            assert message["type"] == "next", message
            assert "errors" not in message["payload"], message
            found.append(message["payload"]["data"]["walletEvents"])
        return found

    async def completed(self, operation: str, seconds: float = 10) -> None:
        message = await self.of(operation, seconds)
        assert message == {"id": operation, "type": "complete"}, message


@asynccontextmanager
async def socket(
    url: str,
    token: str | None = None,
    *,
    subprotocols: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> AsyncIterator[Socket]:
    """A WebSocket to the server at ``url`` (its http://.../graphql); with ``token``, initialised
    with it (``connection_ack`` received)."""
    async with connect(
        ws_url(url),
        subprotocols=[Subprotocol(p) for p in subprotocols or [PROTOCOL]],
        additional_headers=headers,
        open_timeout=10,
    ) as ws:
        opened = Socket(ws)
        if token is not None:
            ack = await opened.init({"Authorization": f"Bearer {token}"})
            assert ack == {"type": "connection_ack"}, ack
        yield opened


class Http:
    """The mutations that make events, over HTTP, with an operator token."""

    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10)
        self.url = url

    async def run(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(self.url, json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def wallet(self, login: str) -> tuple[str, str]:
        """A new client; (its id, its wallet's id)."""
        done = (await self.run(CREATE_CLIENT, {"input": {"login": login, "name": login}}))[
            "createClient"
        ]
        assert done["__typename"] == "CreateClientSuccess", done
        return done["client"]["id"], done["wallet"]["id"]

    async def resupply(self, wallet: str, amount: str) -> None:
        done = await self.run(RESUPPLY, {"input": {"walletId": wallet, "amount": amount}})
        assert done["resupply"]["__typename"] == "ResupplySuccess", done

    async def transfer(self, source: str, target: str, amount: str) -> None:
        done = await self.run(
            TRANSFER, {"input": {"walletFromId": source, "walletToId": target, "amount": amount}}
        )
        assert done["transfer"]["__typename"] == "TransferSuccess", done

    async def close(self) -> None:
        await self.client.aclose()


@asynccontextmanager
async def http(url: str, token: str) -> AsyncIterator[Http]:
    client = Http(url, token)
    try:
        yield client
    finally:
        await client.close()
