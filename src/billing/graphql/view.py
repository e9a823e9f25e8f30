"""The HTTP view: JSON decoding that keeps numbers exact, and the typed context."""

from __future__ import annotations

import json

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from billing.graphql.context import Context
from billing.graphql.scalars import JsonNumber
from billing.graphql.schema import schema


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


class BillingGraphQL(GraphQL[Context, None]):
    def __init__(self) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)

    def decode_json(self, data: str | bytes) -> object:
        # A JSON number with a fraction or exponent keeps its source text (see JsonNumber), so
        # 500.5 reaches the Money scalar exactly and 5e-1 can be refused as written.
        try:
            return json.loads(data, parse_float=JsonNumber, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd numbers
            raise HTTPException(400, "Unable to parse request body as JSON") from exc

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
        )
