"""The schema, and the extension that decides what callers see of unexpected errors."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from inspect import isawaitable
from typing import Any

import strawberry
from graphql import (
    ASTValidationRule,
    GraphQLError,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    execute,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from billing.errors import ServiceUnavailable
from billing.graphql.compiled import Compiled, compile_
from billing.graphql.context import Context
from billing.graphql.conversion import plan_inputs
from billing.graphql.documents import (
    DocumentLimits,
    Prepared,
    PreparedDocuments,
    one_statement,
    operation_type,
    selected,
)
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


class ErrorPolicy:
    """Keep request errors (syntax, validation) readable; mask everything unexpected.

    * request errors keep their message and get ``extensions.code``;
    * an unreachable database during a query turns the whole response into HTTP 503;
    * any other exception from a resolver is logged with its traceback and the request id,
      and the caller sees only "Internal error" and that request id.
    """

    def __init__(self, *, hide_suggestions: bool) -> None:
        self.hide_suggestions = hide_suggestions  # no "Did you mean ...?" about the schema

    def translate(
        self, errors: list[GraphQLError], context: Context, operation: OperationType | None
    ) -> list[GraphQLError]:
        return [self._translate(error, context, operation) for error in errors]

    def _translate(
        self, error: GraphQLError, context: Context, operation: OperationType | None
    ) -> GraphQLError:
        original = error.original_error
        if original is None or isinstance(original, GraphQLError):
            return self._request_error(error)
        if isinstance(original, ServiceUnavailable):
            # An error below a mutation's own field: the mutation had returned, so it is done.
            if operation is OperationType.MUTATION and len(error.path or ()) > 1:
                return GraphQLError(
                    "The operation took effect, but this part of the answer could not be read"
                    " (the database is unavailable). Read it again later; do not repeat the"
                    " operation.",
                    nodes=error.nodes,
                    path=error.path,
                    extensions={"code": ServiceUnavailable.code},
                )
            if not isinstance(context.response, WebSocket):
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

    def _request_error(self, error: GraphQLError) -> GraphQLError:
        message, code = request_error(error.message, hide_suggestions=self.hide_suggestions)
        return GraphQLError(
            message,
            nodes=error.nodes,
            path=error.path,
            original_error=error.original_error,
            extensions={**(error.extensions or {}), "code": code},
        )


class OperationEnd(SchemaExtension):
    """When an operation runs, whether it reads with one statement (see ``one_statement``);
    when it ends, the request's read snapshot is closed, errors go through the error policy,
    and the request's record learns what ran (see billing.http.observability)."""

    def __init__(self, policy: ErrorPolicy) -> None:
        super().__init__()
        self.policy = policy

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        context = execution.context
        document = execution.graphql_document
        chosen = selected(document, execution.operation_name) if document else None
        if chosen is not None and isinstance(context, Context):
            if operation_type(chosen) is OperationType.QUERY:
                context.query()
            context.reader.one_statement = one_statement(chosen)
        yield

    async def on_operation(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context: Context = execution.context
        try:
            yield
        finally:
            await context.reader.close()
        result = execution.result
        # Executed documents have graphql-core's result; refused ones (parse or validation
        # errors) have Strawberry's own.
        executed = isinstance(result, GraphQLExecutionResult)
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            operation = execution.operation_type if executed else None
            result.errors = self.policy.translate(errors, context, operation)
        observe_operation(
            execution.graphql_document if executed else None,
            execution.operation_name,
            getattr(result, "errors", None),
        )


class BillingSchema(strawberry.Schema):
    """The schema; a document it has validated before runs without Strawberry's per-request
    machinery (see ``execute``)."""

    documents: PreparedDocuments
    policy: ErrorPolicy
    # Whether documents that compile run on their compiled plan (billing.graphql.compiled)
    # rather than on graphql-core's executor; the tests compare both.
    compile_documents: bool = True

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Unexpected errors are logged by ErrorPolicy (with the request id); request errors are
        the caller's business, not the operator's."""

    async def execute(  # noqa: PLR0917 - as the base class
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """A valid document seen before (the cache holds it) runs on its compiled plan (see
        billing.graphql.compiled), or straight on graphql-core's executor when it has none,
        with what the extensions would do done here: the document as parsed and validated
        once, the error policy, the snapshot closed, the operation observed. Anything else
        (a new or invalid document, an operation that is not there or not allowed) takes
        Strawberry's full path, which gives the same answers and its own refusals."""
        prepared = self.documents.get(query) if query else None
        chosen = selected(prepared.document, operation_name) if prepared else None
        operation = operation_type(chosen) if chosen else None
        if (
            prepared is None
            or chosen is None
            or prepared.errors
            or operation is None
            or operation is OperationType.SUBSCRIPTION
            or (allowed_operation_types is not None and operation not in allowed_operation_types)
            or operation_extensions
            or not isinstance(context_value, Context)
        ):
            return await super().execute(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                allowed_operation_types,
                operation_extensions,
            )
        if operation is OperationType.QUERY:
            context_value.query()
        context_value.reader.one_statement = one_statement(chosen)
        plan = self._plan(prepared, chosen, operation_name)
        try:
            if plan is not None:
                result = await plan.run(root_value, context_value, variable_values)
            else:
                done = execute(
                    self._schema,
                    prepared.document,
                    root_value=root_value,
                    context_value=context_value,
                    variable_values=variable_values,
                    operation_name=operation_name,
                    executor_class=self.execution_context_class,
                )
                result = await done if isawaitable(done) else done
        finally:
            await context_value.reader.close()
        errors = result.errors
        if errors:
            errors = self.policy.translate(errors, context_value, operation)
        observe_operation(prepared.document, operation_name, errors)
        return ExecutionResult(data=result.data, errors=errors, extensions=result.extensions)

    def _plan(
        self, prepared: Prepared, chosen: OperationDefinitionNode, name: str | None
    ) -> Compiled | None:
        """The compiled plan of the operation ``chosen`` (see billing.graphql.compiled), made
        on its first run; None when it does not compile or ``compile_documents`` is off."""
        if not self.compile_documents:
            return None
        if name not in prepared.plans:
            prepared.plans[name] = compile_(self._schema, prepared.document, chosen)
        return prepared.plans[name]


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
    policy = ErrorPolicy(hide_suggestions=not limits.introspection)
    # Factories, not instances: each request gets its own extension objects.
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(DocumentLimits, documents),
        partial(OperationEnd, policy),
    ]
    schema = BillingSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map={Money: MONEY_SCALAR, Metadata: METADATA_SCALAR}),
        extensions=extensions,
    )
    schema.documents = documents
    schema.policy = policy
    plan_inputs(schema)
    return schema


schema = build_schema()
