"""The schema, and the extension that decides what callers see of unexpected errors."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial

import strawberry
from graphql import ASTValidationRule, GraphQLError, NoSchemaIntrospectionCustomRule
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from billing.errors import ServiceUnavailable
from billing.graphql.context import Context
from billing.graphql.documents import DocumentLimits, PreparedDocuments
from billing.graphql.resolvers import Mutation, Query
from billing.graphql.scalars import METADATA_SCALAR, MONEY_SCALAR, Metadata, Money
from billing.graphql.subscriptions import Subscription
from billing.http.observability import observe_operation

log = logging.getLogger("billing.errors")


# Request errors (the caller's document or variables are at fault) get a stable code.
REQUEST_ERROR_CODES = [
    (re.compile(r"exceeds maximum operation depth"), "QUERY_TOO_DEEP"),
    (re.compile(r"aliases found\. Allowed"), "TOO_MANY_ALIASES"),
    (re.compile(r"Document contains more than \d+ tokens"), "QUERY_TOO_LARGE"),
    (re.compile(r"introspection has been disabled"), "INTROSPECTION_DISABLED"),
    (re.compile(r"^Syntax Error"), "GRAPHQL_PARSE_FAILED"),
    # A WebSocket's operations over BILLING_SUBSCRIPTIONS_PER_CONNECTION.
    (re.compile(r"^Subscription limit reached$"), "TOO_MANY_SUBSCRIPTIONS"),
]
SUGGESTION = re.compile(r" ?Did you mean .*\?$")


def request_error(message: str, *, hide_suggestions: bool) -> tuple[str, str]:
    """A request error's message as callers see it, and its code."""
    if hide_suggestions:
        message = SUGGESTION.sub("", message)
    code = next(
        (code for pattern, code in REQUEST_ERROR_CODES if pattern.search(message)),
        "GRAPHQL_VALIDATION_FAILED",
    )
    return message, code


class ErrorPolicy(SchemaExtension):
    """Keep request errors (syntax, validation) readable; mask everything unexpected.

    * request errors keep their message and get ``extensions.code``;
    * an unreachable database during a query turns the whole response into HTTP 503;
    * any other exception from a resolver is logged with its traceback and the request id,
      and the caller sees only "Internal error" and that request id;
    * the request's read snapshot is closed when the operation ends.
    """

    hide_suggestions = False

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
        observe_operation(self.execution_context)

    def _translate(self, error: GraphQLError, context: Context) -> GraphQLError:
        original = error.original_error
        if original is None or isinstance(original, GraphQLError):
            return self._request_error(error)
        if isinstance(original, ServiceUnavailable):
            if self._after_commit(error):
                return GraphQLError(
                    "The operation took effect, but this part of the answer could not be read"
                    " (the database is unavailable). Read it again later; do not repeat the"
                    " operation.",
                    nodes=error.nodes,
                    path=error.path,
                    extensions={"code": ServiceUnavailable.code},
                )
            if isinstance(context.response, Response):  # not a WebSocket
                context.response.status_code = 503
                context.response.headers["Retry-After"] = "1"
            return GraphQLError(
                original.message,
                nodes=error.nodes,
                path=error.path,
                extensions={"code": ServiceUnavailable.code},
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

    def _after_commit(self, error: GraphQLError) -> bool:
        """An error below a mutation's own field: the mutation had returned, so it is done."""
        is_mutation = self.execution_context.operation_type is OperationType.MUTATION
        return is_mutation and len(error.path or ()) > 1

    def _request_error(self, error: GraphQLError) -> GraphQLError:
        message, code = request_error(error.message, hide_suggestions=self.hide_suggestions)
        return GraphQLError(
            message,
            nodes=error.nodes,
            path=error.path,
            original_error=error.original_error,
            extensions={**(error.extensions or {}), "code": code},
        )


class ErrorPolicyWithoutSuggestions(ErrorPolicy):
    """For a server with introspection off: no "Did you mean ...?" hints about the schema."""

    hide_suggestions = True


class BillingSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Unexpected errors are logged by ErrorPolicy (with the request id); request errors are
        the caller's business, not the operator's."""


DOCUMENT_CACHE_SIZE = 512


@dataclass(frozen=True)
class Limits:
    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 1000
    introspection: bool = True


def build_schema(limits: Limits = Limits()) -> BillingSchema:
    rules: tuple[type[ASTValidationRule], ...] = (
        max_depth_rule(limits.max_depth, None),
        max_aliases_rule(limits.max_aliases),
    )
    if not limits.introspection:
        rules += (NoSchemaIntrospectionCustomRule,)
    documents = PreparedDocuments(
        rules=rules, max_tokens=limits.max_tokens, size=DOCUMENT_CACHE_SIZE
    )
    # Factories, not instances: each request gets its own extension objects.
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(DocumentLimits, documents),
        ErrorPolicy if limits.introspection else ErrorPolicyWithoutSuggestions,
    ]
    return BillingSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map={Money: MONEY_SCALAR, Metadata: METADATA_SCALAR}),
        extensions=extensions,
    )


schema = build_schema()
