"""The schema, and the extension that decides what callers see of unexpected errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig

from billing.domain.errors import ServiceUnavailable
from billing.graphql.context import Context
from billing.graphql.resolvers import Mutation, Query
from billing.graphql.scalars import MONEY_SCALAR, Money

log = logging.getLogger("billing.errors")


class ErrorPolicy(SchemaExtension):
    """Keep request errors (syntax, validation) readable; mask everything unexpected.

    * an unreachable database during a query turns the whole response into HTTP 503;
    * any other exception from a resolver is logged with its traceback and the request id,
      and the caller sees only "Internal error" and that request id;
    * the request's read snapshot is closed when the operation ends.
    """

    async def on_operation(self) -> AsyncIterator[None]:
        context: Context = self.execution_context.context
        try:
            yield
        finally:
            await context.reader.close()
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [self._translate(error, context) for error in errors]

    @staticmethod
    def _translate(error: GraphQLError, context: Context) -> GraphQLError:
        original = error.original_error
        if original is None or isinstance(original, GraphQLError):
            return error  # the request itself is at fault: its message helps the caller
        if isinstance(original, ServiceUnavailable):
            context.response.status_code = 503
            context.response.headers["Retry-After"] = "1"
            return GraphQLError(
                original.message,
                nodes=error.nodes,
                path=error.path,
                extensions={"code": "SERVICE_UNAVAILABLE"},
            )
        log.error(
            "unexpected error in %s (request %s)",
            ".".join(map(str, error.path or [])) or "operation",
            context.request_id,
            exc_info=original,
        )
        return GraphQLError(
            f"Internal error. Request id: {context.request_id}",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL_ERROR", "requestId": context.request_id},
        )


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    config=StrawberryConfig(scalar_map={Money: MONEY_SCALAR}),
    extensions=[ErrorPolicy],
)
