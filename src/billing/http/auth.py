"""Bearer-token authentication, before any GraphQL or REST handling runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.datastructures import State
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from billing.domain import tokens
from billing.domain.access import Actor
from billing.errors import ServiceUnavailable
from billing.http.responses import ErrorResponder, json_error


def bearer_secret(request: HTTPConnection) -> str | None:
    """The secret of an ``Authorization: Bearer <secret>`` header, or None."""
    return secret_of(request.headers.get("authorization", ""))


def secret_of(authorization: str) -> str | None:
    """The secret of an ``Authorization`` header's value ``Bearer <secret>``, or None."""
    scheme, _, secret = authorization.partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == "bearer" and secret else None


async def authenticate(request: HTTPConnection, error: ErrorResponder) -> Actor | Response:
    """The caller's actor, or the answer that refuses the request (401, or 503 when the
    database cannot tell), rendered by ``error``."""
    return await authenticate_secret(request.app.state, bearer_secret(request), error)


async def authenticate_secret(
    state: State, secret: str | None, error: ErrorResponder
) -> Actor | Response:
    """As ``authenticate``, for the secret a request sent (None: it sent none)."""
    if secret is None:
        return error(
            401,
            "UNAUTHENTICATED",
            "Send a token: 'Authorization: Bearer <token>'.",
            **{"WWW-Authenticate": "Bearer"},
        )
    try:
        if not state.schema_ready.is_set():  # the database has not answered since startup
            raise ServiceUnavailable()
        actor = await tokens.authenticate(state.db, secret, state.token_cache)
    except ServiceUnavailable as exc:
        return error(503, exc.code, exc.message, **{"Retry-After": "1"})
    if actor is None:
        return error(
            401,
            "UNAUTHENTICATED",
            "The token is not valid (unknown or revoked).",
            **{"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return actor


def is_ide_page(request: Request) -> bool:
    """A browser asking for the GraphiQL page itself (it sends the token with each query)."""
    accept = request.headers.get("accept", "")
    return (
        request.method == "GET"
        and "query" not in request.query_params
        and ("text/html" in accept or "*/*" in accept)
    )


class BearerAuth:
    """Resolve ``Authorization: Bearer <token>`` to an actor, or answer 401 for the request.

    Only authenticated requests reach ``app``. The GraphiQL page (``ide_page``, None when it is
    not offered) is served here without a token: it carries no data. ``error`` renders the
    refusals (by default in the GraphQL response shape). A WebSocket passes through: its token
    comes later, in the protocol's ``connection_init``, and ``app`` checks it there.
    """

    def __init__(
        self,
        app: ASGIApp,
        ide_page: Callable[[Request], Awaitable[Response]] | None,
        *,
        error: ErrorResponder = json_error,
    ) -> None:
        self.app = app
        self.ide_page = ide_page
        self.error = error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if is_ide_page(request):
            page = (
                await self.ide_page(request)
                if self.ide_page
                else self.error(404, "NOT_FOUND", "GraphiQL is not offered by this server.")
            )
            await page(scope, receive, send)
            return
        found = await authenticate(request, self.error)
        if isinstance(found, Response):
            await found(scope, receive, send)
            return
        scope.setdefault("state", {})["actor"] = found
        await self.app(scope, receive, send)
