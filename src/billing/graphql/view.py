"""The HTTP view: exact JSON decoding and the typed context (GraphiQL: billing.ide)."""

from __future__ import annotations

import json
import re

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from billing.graphql.context import Context
from billing.graphql.scalars import JsonNumber
from billing.graphql.schema import BillingSchema
from billing.http.middleware import json_error

# A \uD800-\uDFFF escape may encode a lone surrogate, which cannot be encoded as UTF-8 later.
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


class BillingGraphQL(GraphQL[Context, None]):
    def __init__(
        self, schema: BillingSchema, *, ide: bool, webhooks_allow_private: bool = False
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql" if ide else None)
        self.webhooks_allow_private = webhooks_allow_private

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As the base view, but request errors are JSON like every other answer."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive=receive))
        except HTTPException as exc:
            response = json_error(exc.status_code, "BAD_REQUEST", exc.reason)
        await response(scope, receive, send)

    def decode_json(self, data: str | bytes) -> object:
        # A JSON number with a fraction or exponent keeps its source text (see JsonNumber), so
        # 500.5 reaches the Money scalar exactly and 5e-1 can be refused as written.
        try:
            decoded = json.loads(data, parse_float=JsonNumber, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd numbers
            raise HTTPException(400, "Unable to parse request body as JSON") from exc
        if not isinstance(decoded, dict | list):  # a list is refused as a batch (batching off)
            raise HTTPException(400, "The request body must be a JSON object")
        if _ESCAPED_SURROGATE.search(data if isinstance(data, bytes) else data.encode()):
            try:
                json.dumps(decoded, ensure_ascii=False, default=str).encode()
            except UnicodeEncodeError as exc:
                raise HTTPException(400, "The request body contains invalid Unicode") from exc
        return decoded

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        assert isinstance(request, Request), "GraphQL over websockets is not offered"
        assert isinstance(response, Response)
        return Context(
            request=request,
            response=response,
            db=request.app.state.db,
            request_id=request.state.request_id,
            actor=request.state.actor,
            default_currency=request.app.state.default_currency,
            webhooks_allow_private=self.webhooks_allow_private,
        )
