"""Calling the GraphQL API in-process: over the app's ASGI interface, with a bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import httpx
from starlette.applications import Starlette

from billing.app import create_app
from billing.config import Settings
from billing.domain import tokens
from support.documents import CREATE_CLIENT, RESUPPLY, TRANSFER, WALLET_BALANCE


class Api:
    """Calls the GraphQL endpoint over the app's real HTTP stack."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.post("/graphql", json={"query": query, "variables": variables})

    async def run(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Execute a document that must not produce GraphQL errors; return its data."""
        response = await self.post(query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def create_client(self, login: str, name: str = "Test Client") -> tuple[str, str]:
        """Create a client; return (client id, wallet id)."""
        data = await self.run(CREATE_CLIENT, {"input": {"login": login, "name": name}})
        result = data["createClient"]
        assert result["__typename"] == "CreateClientSuccess", result
        return result["client"]["id"], result["wallet"]["id"]

    async def resupply(self, wallet_id: str, amount: str) -> dict[str, Any]:
        data = await self.run(RESUPPLY, {"input": {"walletId": wallet_id, "amount": amount}})
        result: dict[str, Any] = data["resupply"]
        return result

    async def transfer(self, source: str, target: str, amount: str) -> dict[str, Any]:
        data = await self.run(
            TRANSFER, {"input": {"walletFromId": source, "walletToId": target, "amount": amount}}
        )
        result: dict[str, Any] = data["transfer"]
        return result

    async def balance(self, wallet_id: str) -> str:
        data = await self.run(WALLET_BALANCE, {"id": wallet_id})
        balance: str = data["wallet"]["balance"]
        return balance


async def new_token(app: Starlette, client_id: int | None = None) -> str:
    """A fresh operator token, or a client token when ``client_id`` is given."""
    kind: Literal["OPERATOR", "CLIENT"] = "OPERATOR" if client_id is None else "CLIENT"
    _, secret = await tokens.create_token(
        app.state.db, kind=kind, client_id=client_id, name="tests"
    )
    return secret


@asynccontextmanager
async def api_for(app: Starlette, token: str | None) -> AsyncIterator[Api]:
    """An API client over the app's ASGI interface, sending ``token`` (if any)."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers
    ) as client:
        yield Api(client)


@asynccontextmanager
async def custom_api(settings: Settings, **changes: Any) -> AsyncIterator[tuple[Starlette, Api]]:
    """The service with some settings changed, and an operator client for it."""
    application = create_app(settings.model_copy(update=changes))
    async with (
        application.router.lifespan_context(application),
        api_for(application, await new_token(application)) as client,
    ):
        yield application, client
