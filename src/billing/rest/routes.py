"""The adapter's endpoints: POST /clients, /resupplies and /transfers, and GET /openapi.json.

Each endpoint: bearer token (as for /graphql) -> JSON body -> one domain call -> the original
service's answer shape. Expected failures become JSON errors with the GraphQL error codes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from billing.db.database import Database
from billing.domain import clients, payments
from billing.domain.access import Actor
from billing.errors import InvalidInput, OperationError
from billing.http.auth import BearerAuth
from billing.http.observability import observe_call
from billing.http.responses import ErrorResponder, json_error
from billing.rest.body import Fields, json_object
from billing.rest.errors import (
    ExactJSONResponse,
    RequestError,
    error_response,
    operation_error,
)
from billing.rest.openapi import document

log = logging.getLogger("billing.errors")  # with the GraphQL layer's unexpected errors

IDEMPOTENCY_KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


@dataclass(frozen=True, slots=True)
class Call:
    """One request to an endpoint, read: the caller, the database, the body's fields, the key."""

    db: Database
    actor: Actor
    fields: Fields
    idempotency_key: str | None


# An endpoint's work: one domain call, answered with a body and whether it was a replay.
Answer = tuple[dict[str, object], bool]
Handler = Callable[[Call], Awaitable[Answer]]


class Endpoint:
    """POST only; a valid token first; a JSON object with exactly ``fields``; every outcome
    answered as JSON, and counted under ``operation`` like the GraphQL mutation of that name."""

    def __init__(self, operation: str, handler: Handler, *fields: str) -> None:
        self.operation = operation
        self.success = operation[0].upper() + operation[1:] + "Success"  # as in GraphQL
        self.handler = handler
        self.fields = fields
        # Only POST gets past __call__, so BearerAuth never has a GraphiQL page to serve.
        self.authenticated = BearerAuth(self.run, None, error=error_response)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            response = error_response(
                405, "METHOD_NOT_ALLOWED", "Use POST for this endpoint.", Allow="POST"
            )
            await response(scope, receive, send)
            return
        await self.authenticated(scope, receive, send)

    async def run(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        result = self.success
        try:
            fields = Fields(await json_object(request), *self.fields)
            key = idempotency_key(request)
            call = Call(request.app.state.db, request.state.actor, fields, key)
            body, replayed = await self.handler(call)
            response = answer(body, key, replayed)
        except RequestError as exc:
            result = exc.code
            response = error_response(exc.status, exc.code, exc.message, **exc.headers)
        except OperationError as exc:
            result = type(exc).__name__  # the GraphQL type of the same failure
            response = operation_error(exc)
        except Exception:
            result = "INTERNAL_ERROR"
            request_id = request.state.request_id
            log.exception("unexpected error in %s (request %s)", request.url.path, request_id)
            response = error_response(
                500, "INTERNAL_ERROR", f"Internal error. Request id: {request_id}"
            )
        observe_call(self.operation, result)
        await response(scope, receive, send)


def idempotency_key(request: Request) -> str | None:
    keys = request.headers.getlist(IDEMPOTENCY_KEY)
    if len(keys) > 1:
        raise InvalidInput(IDEMPOTENCY_KEY, f"Send at most one {IDEMPOTENCY_KEY} header.")
    return keys[0] if keys else None


def answer(body: dict[str, object], key: str | None, replayed: bool) -> Response:
    """200 with the body; with a key, a header saying whether this is a replay."""
    headers = {} if key is None else {REPLAYED: "true" if replayed else "false"}
    return ExactJSONResponse(body, headers=headers)


async def create_client(call: Call) -> Answer:
    done = await clients.create_client(
        call.db,
        actor=call.actor,
        login=call.fields.text("login"),
        name=call.fields.text("name"),
        idempotency_key=call.idempotency_key,
    )
    client = done.client
    body = {"login": client.login, "name": client.name, "id": client.id, "walletId": done.wallet.id}
    return body, done.replayed


async def resupply(call: Call) -> Answer:
    done = await payments.resupply(
        call.db,
        actor=call.actor,
        wallet_id=call.fields.wallet_id("walletId"),
        amount=call.fields.amount("amount"),
        idempotency_key=call.idempotency_key,
    )
    body = {
        "walletId": done.wallet.id,
        "amount": done.amount,
        "transactionNumber": str(done.transaction_number),
        "walletBalance": done.wallet.balance,
    }
    return body, done.replayed


async def transfer(call: Call) -> Answer:
    done = await payments.transfer(
        call.db,
        actor=call.actor,
        wallet_from_id=call.fields.wallet_id("walletFromId"),
        wallet_to_id=call.fields.wallet_id("walletToId"),
        amount=call.fields.amount("amount"),
        idempotency_key=call.idempotency_key,
    )
    body = {
        "walletFromId": done.wallet_from.id,
        "walletToId": done.wallet_to_id,
        "amount": done.amount,
        "transactionNumber": str(done.transaction_number),
        "walletFromBalance": done.wallet_from.balance,
        # null when the caller may not see the receiving wallet (another client's)
        "walletToBalance": None if done.wallet_to is None else done.wallet_to.balance,
    }
    return body, done.replayed


async def openapi_json(request: Request) -> Response:
    return ExactJSONResponse(document())


ENDPOINTS = {
    "/clients": Endpoint("createClient", create_client, "login", "name"),
    "/resupplies": Endpoint("resupply", resupply, "walletId", "amount"),
    "/transfers": Endpoint("transfer", transfer, "walletFromId", "walletToId", "amount"),
}
OPENAPI_PATH = "/openapi.json"
PATHS = frozenset({*ENDPOINTS, OPENAPI_PATH})


def routes(*, openapi: bool = True) -> list[Route]:
    """The adapter's routes; ``openapi``: also serve its description (public, like the GraphQL
    schema, unless introspection is turned off)."""
    found = [Route(path, endpoint) for path, endpoint in ENDPOINTS.items()]
    if openapi:
        found.append(Route(OPENAPI_PATH, openapi_json, methods=["GET"]))
    return found


def error_for(scope: Scope) -> ErrorResponder:
    """The error shape for a request: the REST one on the adapter's paths, else GraphQL's."""
    path: str = scope.get("path", "")
    return error_response if path.rstrip("/") in PATHS else json_error
