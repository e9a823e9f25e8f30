"""Bearer-token authentication for the GraphQL endpoint, before any GraphQL runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from billing.domain import tokens
from billing.domain.errors import ServiceUnavailable
from billing.middleware import ErrorResponder, json_error


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
    refusals (by default in the GraphQL response shape).
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
        request = Request(scope)
        if is_ide_page(request):
            page = (
                await self.ide_page(request)
                if self.ide_page
                else self.error(404, "NOT_FOUND", "GraphiQL is not offered by this server.")
            )
            await page(scope, receive, send)
            return
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            response = self.error(
                401,
                "UNAUTHENTICATED",
                "Send a token: 'Authorization: Bearer <token>'.",
                **{"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        try:
            state = request.app.state
            actor = await tokens.authenticate(state.db, secret.strip(), state.token_cache)
        except ServiceUnavailable as exc:
            await self.error(503, "SERVICE_UNAVAILABLE", exc.message, **{"Retry-After": "1"})(
                scope, receive, send
            )
            return
        if actor is None:
            response = self.error(
                401,
                "UNAUTHENTICATED",
                "The token is not valid (unknown or revoked).",
                **{"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["actor"] = actor
        await self.app(scope, receive, send)
