"""The view: exact JSON decoding and the typed context (GraphiQL: billing.ide), over HTTP and
over WebSocket.

WebSockets speak graphql-transport-ws only (the legacy graphql-ws protocol is refused: 4406)
and carry subscriptions only: queries and mutations go over HTTP, where each request gets its
own snapshot and loaders. The token comes in ``connection_init``, as GraphiQL sends its
Headers tab (``{"Authorization": "Bearer <token>"}``), or else from the upgrade request's
``Authorization`` header; without a valid one the socket is closed with 4403.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncGenerator
from datetime import timedelta
from typing import Any, cast

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError, OperationType, parse
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message as AsgiMessage
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData, process_result
from strawberry.http.exceptions import NonJsonMessageReceived
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from billing.config import Settings
from billing.db.database import Database
from billing.domain import tokens
from billing.domain.access import NOBODY, Actor
from billing.errors import ServiceUnavailable
from billing.graphql.context import READ_HEADER, Context, ResponseHead, Socket
from billing.graphql.documents import selected
from billing.graphql.scalars import JsonNumber
from billing.graphql.schema import BillingSchema, request_error
from billing.http.auth import authenticate_secret, bearer_secret, secret_of
from billing.http.responses import json_error

log = logging.getLogger("billing.requests")

MAX_TOKENS = 10_000  # only to tell a subscription from other operations; limits apply later

# A \uD800-\uDFFF escape may encode a lone surrogate, which cannot be encoded as UTF-8 later.
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


class _Socket(ASGIWebSocketAdapter):
    """Messages that are not JSON close the socket with 4400, as the protocol says."""

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        messages = super().iter_json(ignore_parsing_errors=ignore_parsing_errors)
        try:
            async for message in messages:
                yield message
        except HTTPException as exc:  # what decode_json raises
            raise NonJsonMessageReceived from exc
        finally:
            await messages.aclose()


class _SubscriptionsOnly(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, serving subscriptions only; malformed messages close with 4400."""

    async def handle_message(self, message: Message) -> None:
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.handle_invalid_message("Failed to parse message")
            return
        if message["type"] == "complete" and not isinstance(message.get("id"), str):
            await self.handle_invalid_message("Failed to parse message")
            return
        if message["type"] == "subscribe":
            payload = message.get("payload")
            if (
                not isinstance(message.get("id"), str)
                or not isinstance(payload, dict)
                or not isinstance(payload.get("query"), str)
                or not isinstance(payload.get("variables") or {}, dict)
                or not isinstance(payload.get("operationName") or "", str)
            ):
                await self.handle_invalid_message("Failed to parse message")
                return
            if self.connection_acknowledged and _operation_type(
                payload["query"], payload.get("operationName")
            ) not in {None, OperationType.SUBSCRIPTION}:
                await self.send_message(
                    {
                        "id": message["id"],
                        "type": "error",
                        "payload": [
                            {
                                "message": "Only subscriptions are served over WebSocket;"
                                " send queries and mutations over HTTP.",
                                "extensions": {"code": "WEBSOCKET_SUBSCRIPTIONS_ONLY"},
                            }
                        ],
                    }
                )
                return
        await super().handle_message(message)

    async def send_message(self, message: Message) -> None:
        # A document refused before it ran (syntax, validation, limits) gets its code, as over
        # HTTP (where the error policy adds it).
        if message["type"] == "error":
            hide = not cast("BillingGraphQL", self.view).introspection
            for error in message["payload"]:
                if "code" not in error.get("extensions", {}):
                    text, code = request_error(error["message"], hide_suggestions=hide)
                    error["message"] = text
                    error["extensions"] = {**error.get("extensions", {}), "code": code}
        await super().send_message(message)


def encode_json(data: object) -> bytes:
    """An answer as JSON (orjson; the standard library for what orjson refuses, such as
    integers beyond 64 bits)."""
    try:
        return orjson.dumps(data)
    except TypeError:
        return json.dumps(data, separators=(",", ":")).encode()


def _loads(data: str | bytes) -> object:
    """A request body's JSON, by orjson; by the standard library when it holds a number with a
    fraction or an exponent (kept as written: JsonNumber) or anything orjson refuses (integers
    beyond 64 bits, NaN, bad JSON: the standard library's verdict and errors stand)."""
    try:
        decoded = orjson.loads(data)
    except ValueError:
        pass
    else:
        if not _has_float(decoded):
            return decoded
    return json.loads(data, parse_float=JsonNumber, parse_constant=_reject_constant)


def _has_float(value: object) -> bool:
    if isinstance(value, float):
        return True
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in items:  # noqa: SIM110 - a loop: any() over a generator costs more per body
        if _has_float(item):
            return True
    return False


def _refuse_subscription(query: str, operation_name: str | None) -> None:
    """Over HTTP a subscription would resolve to nothing: refuse it. (Parsed here only when the
    document may hold one; all others are parsed once, by the cached path.)"""
    if "subscription" in query and (
        _operation_type(query, operation_name) is OperationType.SUBSCRIPTION
    ):
        raise HTTPException(
            400, "Subscriptions are served over WebSocket only (graphql-transport-ws)."
        )


async def _no_receive() -> AsgiMessage:
    raise RuntimeError("the request body was read already")


def _operation_type(query: str, operation_name: str | None) -> OperationType | None:
    """The type of the operation a request runs; None for a document that does not parse or
    names no such operation (Strawberry answers those as usual)."""
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return None
    chosen = selected(document, operation_name)
    return None if chosen is None else chosen.operation


class BillingGraphQL(GraphQL[Context, None]):
    websocket_adapter_class = _Socket
    graphql_transport_ws_handler_class = _SubscriptionsOnly

    def __init__(self, schema: BillingSchema, *, ide: bool, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if ide else None,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout),
            max_subscriptions_per_connection=settings.subscriptions_per_connection,
        )
        self.queue_size = settings.subscription_queue_size
        self.webhooks_allow_private = settings.webhooks_allow_private
        self.introspection = ide  # off: no "Did you mean ...?" in refusals either

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As the base view, but request errors are JSON like every other answer."""
        if scope["type"] != "http":
            started = time.perf_counter()
            try:
                await super().__call__(scope, receive, send)
            finally:
                seconds = round(time.perf_counter() - started, 3)
                request_id = scope.get("state", {}).get("request_id")
                log.info(
                    "WEBSOCKET %s closed after %.3f s request_id=%s",
                    scope["path"],
                    seconds,
                    request_id,
                    extra={
                        "fields": {
                            "request_id": request_id,
                            "method": "WEBSOCKET",
                            "path": scope["path"],
                            "duration_ms": round(seconds * 1000, 2),
                        }
                    },
                )
            return
        try:
            response = await self.run(Request(scope, receive=receive))
        except HTTPException as exc:
            response = json_error(exc.status_code, "BAD_REQUEST", exc.reason)
        await response(scope, receive, send)

    async def execute_single(  # noqa: PLR0917 - as the base class
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        _refuse_subscription(request_data.query or "", request_data.operation_name)
        return await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )

    async def direct(self, scope: Scope, body: bytes, send: Send) -> bool:
        """Answer a POST with a JSON body, as the base view would, but without its per-request
        machinery (the route's layers, request and response objects, its body parsing); False
        for any other request (GET, GraphiQL, other content types, batches, malformed bodies),
        which the base view then answers."""
        found = self._direct_request(scope, body)
        if found is None:
            return False
        query, variables, operation_name, authorization, read = found
        state = scope["app"].state
        actor = await authenticate_secret(
            state, secret_of(authorization.decode("latin-1")), json_error
        )
        if isinstance(actor, Response):
            await actor(scope, _no_receive, send)
            return True
        head = ResponseHead()
        try:
            context = Context(
                request=None,
                response=head,
                db=state.db,
                request_id=scope["state"]["request_id"],
                actor=actor,
                default_currency=state.default_currency,
                webhooks_allow_private=self.webhooks_allow_private,
                reads=reads_for(state, read.decode("latin-1")),
            )
            _refuse_subscription(query, operation_name)
            result = await self.schema.execute(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=operation_name,
            )
        except CannotGetOperationTypeError as exc:
            refusal = json_error(400, "BAD_REQUEST", exc.as_http_error_reason())
        except HTTPException as exc:
            refusal = json_error(exc.status_code, "BAD_REQUEST", exc.reason)
        else:
            answer = encode_json(process_result(result))
            headers = [
                (b"content-length", str(len(answer)).encode()),
                (b"content-type", b"application/json"),
                *((k.lower().encode(), v.encode()) for k, v in head.headers.items()),
            ]
            status = head.status_code or 200
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": answer})
            return True
        await refusal(scope, _no_receive, send)
        return True

    def _direct_request(
        self, scope: Scope, body: bytes
    ) -> tuple[str, dict[str, object] | None, str | None, bytes, bytes] | None:
        """A POST's query, variables, operation name, Authorization and Billing-Read headers,
        if ``direct`` serves it."""
        if scope["method"] != "POST":
            return None
        content_type = accept = authorization = read = b""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"accept":
                accept = value
            elif name == b"authorization":
                authorization = value
            elif name == b"billing-read":
                read = value
        if (
            content_type.partition(b";")[0].strip().lower() != b"application/json"
            or b"multipart/mixed" in accept
            or b"text/event-stream" in accept
        ):
            return None
        try:
            data = self.decode_json(body)
        except HTTPException:
            return None
        if not isinstance(data, dict):
            return None
        query = data.get("query")
        variables = data.get("variables")
        operation_name = data.get("operationName")
        if (
            not isinstance(query, str)
            or not query
            or not isinstance(variables, dict | None)
            or not isinstance(operation_name, str | None)
            or data.get("extensions") is not None
        ):
            return None
        return query, variables, operation_name, authorization, read

    def encode_json(self, data: object) -> str:
        # Text: WebSocket messages are sent as text frames (bytes would go as binary ones).
        return encode_json(data).decode()

    def decode_json(self, data: str | bytes) -> object:
        # A JSON number with a fraction or exponent keeps its source text (see JsonNumber), so
        # 500.5 reaches the Money scalar exactly and 5e-1 can be refused as written.
        try:
            decoded = _loads(data)
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
        state = request.app.state
        if isinstance(request, WebSocket):
            db = state.db
            cache = state.token_cache

            async def authenticate(secret: str) -> Actor | None:
                return await tokens.authenticate(db, secret, cache)

            return Context(
                request=request,
                response=request,
                db=db,
                request_id=request.state.request_id,
                actor=NOBODY,  # until connection_init is accepted
                default_currency=state.default_currency,
                webhooks_allow_private=self.webhooks_allow_private,
                socket=Socket(state.event_hub, self.queue_size, authenticate),
            )
        return Context(
            request=request,
            response=response,
            db=state.db,
            request_id=request.state.request_id,
            actor=request.state.actor,
            default_currency=state.default_currency,
            webhooks_allow_private=self.webhooks_allow_private,
            reads=reads_for(state, request.headers.get(READ_HEADER, "")),
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Accept ``connection_init`` with a valid token, else close the socket with 4403."""
        socket, request = context.socket, context.request
        assert socket is not None  # a WebSocket's context
        assert request is not None
        secret = _init_secret(context.connection_params) or bearer_secret(request)
        if secret is None or not request.app.state.schema_ready.is_set():
            raise ConnectionRejectionError()
        try:
            actor = await socket.authenticate(secret)
        except ServiceUnavailable:
            actor = None  # the client retries (graphql-ws clients retry 4403)
        if actor is None:
            raise ConnectionRejectionError()
        context.actor = actor
        socket.secret = secret
        accepted: UnsetType = UNSET  # a bare connection_ack
        return accepted


def _init_secret(params: dict[str, object] | None) -> str | None:
    """The secret of an ``Authorization: Bearer <secret>`` entry of the init payload."""
    for key, value in (params or {}).items():
        if key.lower() == "authorization" and isinstance(value, str):
            scheme, _, secret = value.partition(" ")
            secret = secret.strip()
            if scheme.lower() == "bearer" and secret:
                return secret
    return None


def reads_for(state: Any, asked: str) -> Database | None:
    """Where a query of this request reads (see ``Context.reads``): the primary if the caller
    asks for it with ``Billing-Read: primary``, else where the read replica says."""
    replica = getattr(state, "replica", None)
    asked = asked.strip().lower()
    if asked not in {"", "any", "primary"}:
        raise HTTPException(400, f"{READ_HEADER} must be 'primary' or 'any'")
    if replica is None:
        return None
    chosen: Database = state.db if asked == "primary" else replica.for_queries()
    return chosen
