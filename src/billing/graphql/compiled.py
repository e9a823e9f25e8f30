"""A compiled path for the documents clients send again and again.

Clients send a fixed set of documents, and many are one root field (a mutation, or a read of
one object) whose answer is plain data: each field of the answer is an attribute of the object
the resolver returned (the typed clients' Transfer, Resupply and CreateClient, say; those that
ask for a wallet's ``held`` or ``available`` are not: these fields may read the database).
For such a document the general executor re-derives, on every request, what is the same every
time: which fields to collect for which type, where each one's value comes from, how to
serialize it. ``compile_`` works that out once per document, and ``Compiled.run`` then answers
a request with it:

* the variables are coerced by graphql-core, as the executor does, with its errors;
* the root field's arguments are read by graphql-core, and its resolver is the one the
  executor calls (Strawberry's, with the caller's context): authentication, limits,
  idempotency and the typed results are the same code;
* the answer is built from the plan: ``__typename``, attributes read by Strawberry's own
  getter, scalars and enums serialized by their GraphQL type, unions resolved by Strawberry's
  resolver, and errors located and propagated to the nearest nullable field as the
  specification says.

A document compiles only when it has one operation field at the root, no directives and no
field arguments below the root, and every field below the root is such a plain attribute. Any
other document (a wallet with its history, say, whose fields read the database) returns
None and takes the general executor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any, NamedTuple

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfoHelpers,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    get_argument_values,
    is_abstract_type,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
    located_error,
)
from graphql.execution.values import get_variable_values
from graphql.pyutils import Path

# Strawberry keeps each GraphQL field's definition under this key of its extensions.
STRAWBERRY_FIELD = "strawberry-definition"
# As the executor's default (graphql.execute).
MAX_COERCION_ERRORS = 50


class ResolveInfo(NamedTuple):
    """What a resolver is given, as Strawberry's executor gives it (the variables as the
    coerced dict, and the operation's extensions)."""

    field_name: str
    field_nodes: list[FieldNode]
    return_type: GraphQLOutputType
    parent_type: GraphQLObjectType
    path: Path
    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    root_value: Any
    operation: OperationDefinitionNode
    variable_values: dict[str, Any]
    context: Any
    is_awaitable: Callable[[Any], bool]
    abort_signal: Any
    async_helpers: GraphQLResolveInfoHelpers
    operation_extensions: dict[str, Any] | None


class _Null(Exception):
    """A non-null field had to be null: its parent becomes null (its error is recorded)."""


# A step of the plan: it completes one value at ``path`` into JSON-ready data.
Complete = Callable[[Any, list[str | int], "Run"], Any]


@dataclass(slots=True)
class Run:
    """One request's state while an answer is built."""

    info: Any  # a ResolveInfo, as type resolvers take it (in place of GraphQLResolveInfo)
    errors: list[GraphQLError]
    tracked: list[Awaitable[Any]]

    def fail(self, error: Exception, nodes: Sequence[FieldNode], path: list[str | int]) -> None:
        self.errors.append(located_error(error, nodes, list(path)))


@dataclass(frozen=True, slots=True)
class Compiled:
    """One document's operation, planned."""

    schema: GraphQLSchema
    operation: OperationDefinitionNode
    root_type: GraphQLObjectType
    field: GraphQLField
    node: FieldNode
    key: str
    complete: Complete

    async def run(
        self, root_value: Any, context: Any, variables: Mapping[str, Any] | None
    ) -> ExecutionResult:
        coerced = get_variable_values(
            self.schema,
            self.operation.variable_definitions or (),
            dict(variables or {}),
            max_errors=MAX_COERCION_ERRORS,
        )
        if isinstance(coerced, list):
            return ExecutionResult(data=None, errors=coerced)
        tracked: list[Awaitable[Any]] = []
        info = ResolveInfo(
            self.node.name.value,
            [self.node],
            self.field.type,
            self.root_type,
            Path(None, self.key, self.root_type.name),
            self.schema,
            {},
            root_value,
            self.operation,
            coerced.coerced,
            context,
            isawaitable,
            None,
            GraphQLResolveInfoHelpers(gather=_gather, track=tracked.extend),
            None,
        )
        run = Run(info, [], tracked)
        path: list[str | int] = [self.key]
        try:
            arguments = get_argument_values(self.field, self.node, coerced)
            resolve = self.field.resolve
            assert resolve is not None
            value = resolve(root_value, info, **arguments)
            if isawaitable(value):
                value = await value
            data: dict[str, Any] | None = {self.key: self.complete(value, path, run)}
        except _Null:
            data = None
        except Exception as exc:
            run.fail(exc, [self.node], path)
            data = None if is_non_null_type(self.field.type) else {self.key: None}
        if pending := [value for value in tracked if isawaitable(value)]:
            await asyncio.gather(*pending, return_exceptions=True)  # settled, as the executor
        return ExecutionResult(data=data, errors=run.errors or None)


async def _gather(values: Sequence[Awaitable[Any]]) -> list[Any]:
    return list(await asyncio.gather(*values))


def compile_(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode
) -> Compiled | None:
    """The plan of ``operation`` (of a valid ``document``), or None if it does not compile."""
    root_type = schema.get_root_type(operation.operation)
    roots = operation.selection_set.selections
    if (
        root_type is None
        or operation.operation is OperationType.SUBSCRIPTION
        or operation.directives
        or len(roots) != 1
        or not isinstance(node := roots[0], FieldNode)
        or node.directives
        or node.name.value.startswith("__")
    ):
        return None
    field = root_type.fields.get(node.name.value)
    if field is None or field.resolve is None:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    planner = _Planner(schema, fragments)
    complete = planner.plan(field.type, [node], root_type.name, node.name.value)
    if complete is None:
        return None
    key = node.alias.value if node.alias else node.name.value
    return Compiled(schema, operation, root_type, field, node, key, complete)


@dataclass(frozen=True, slots=True)
class _Planner:
    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]

    def plan(  # noqa: PLR0911 - one case per kind of type
        self, type_: GraphQLOutputType, nodes: list[FieldNode], parent: str, name: str
    ) -> Complete | None:
        """How to complete a value of ``type_`` for the field ``parent.name`` asked for by
        ``nodes`` (None: it does not compile)."""
        if isinstance(type_, GraphQLNonNull):
            inner = self.plan(type_.of_type, nodes, parent, name)
            return None if inner is None else _non_null(inner, nodes, parent, name)
        if isinstance(type_, GraphQLList):
            item = self.plan(type_.of_type, nodes, parent, name)
            return None if item is None else _nullable(_list(item, parent, name), nodes)
        if is_leaf_type(type_):
            return _nullable(_leaf(type_), nodes)
        selections = [n.selection_set for n in nodes if n.selection_set is not None]
        if is_object_type(type_):
            fields = self.fields(type_, selections)
            return None if fields is None else _nullable(_object_value(type_, fields), nodes)
        if is_abstract_type(type_):
            by_type = {}
            for possible in self.schema.get_possible_types(type_):
                fields = self.fields(possible, selections)
                if fields is None:
                    return None
                by_type[possible.name] = _object_value(possible, fields)
            return _nullable(_abstract(type_, by_type, nodes), nodes)
        return None

    def fields(
        self, type_: GraphQLObjectType, selections: list[SelectionSetNode]
    ) -> list[_Field] | None:
        """The fields asked of an object of ``type_``, each with where its value comes from."""
        asked: dict[str, list[FieldNode]] = {}
        if not self.collect(type_, selections, asked):
            return None
        planned = []
        for key, nodes in asked.items():
            name = nodes[0].name.value
            if name == "__typename":
                planned.append(_Field(key, nodes, None, _typename, non_null=True))
                continue
            field = type_.fields.get(name)
            getter = _plain_getter(field)
            if field is None or getter is None or any(n.arguments for n in nodes):
                return None
            complete = self.plan(field.type, nodes, type_.name, name)
            if complete is None:
                return None
            planned.append(_Field(key, nodes, getter, complete, is_non_null_type(field.type)))
        return planned

    def collect(
        self,
        type_: GraphQLObjectType,
        selections: Iterable[SelectionSetNode],
        into: dict[str, list[FieldNode]],
    ) -> bool:
        """Gather the fields of ``selections`` that apply to ``type_`` by response key; False
        if something does not compile (a directive, say)."""
        for selection_set in selections:
            for selection in selection_set.selections:
                if selection.directives:
                    return False
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    into.setdefault(key, []).append(selection)
                    continue
                if isinstance(selection, FragmentSpreadNode):
                    fragment = self.fragments.get(selection.name.value)
                    if fragment is None or fragment.variable_definitions:
                        return False
                    condition: NamedTypeNode | None = fragment.type_condition
                    inner = fragment.selection_set
                elif isinstance(selection, InlineFragmentNode):
                    condition, inner = selection.type_condition, selection.selection_set
                else:
                    return False
                if condition is not None and not self.applies(condition.name.value, type_):
                    continue
                if not self.collect(type_, [inner], into):
                    return False
        return True

    def applies(self, condition: str, type_: GraphQLObjectType) -> bool:
        """Whether a fragment on ``condition`` applies to an object of ``type_``."""
        named = self.schema.get_type(condition)
        return named is type_ or (
            named is not None and is_abstract_type(named) and self.schema.is_sub_type(named, type_)
        )


def _nullable(complete: Complete, nodes: list[FieldNode]) -> Complete:
    """``complete`` for a nullable field: null stays null, and a failure is recorded and
    answered with null."""

    def nullable(value: Any, path: list[str | int], run: Run) -> Any:
        if value is None:
            return None
        try:
            return complete(value, path, run)
        except _Null:
            return None
        except Exception as exc:
            run.fail(exc, nodes, path)
            return None

    return nullable


def _non_null(complete: Complete, nodes: list[FieldNode], parent: str, name: str) -> Complete:
    def non_null(value: Any, path: list[str | int], run: Run) -> Any:
        done = complete(value, path, run)
        if done is None:
            # Null where null is not allowed: the error, and the parent becomes null (unless
            # the nullable step above already recorded an error for this value).
            if value is None:
                message = f"Cannot return null for non-nullable field {parent}.{name}."
                run.fail(TypeError(message), nodes, path)
            raise _Null
        return done

    return non_null


def _list(item: Complete, parent: str, name: str) -> Complete:
    def list_(value: Any, path: list[str | int], run: Run) -> Any:
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
            message = f"Expected Iterable, but did not find one for field '{parent}.{name}'."
            raise GraphQLError(message)
        done = []
        for index, element in enumerate(value):
            done.append(item(element, [*path, index], run))
        return done

    return list_


def _leaf(type_: Any) -> Complete:
    serialize = type_.coerce_output_value

    def leaf(value: Any, path: list[str | int], run: Run) -> Any:
        done = serialize(value)
        if done is None or done is Undefined:
            raise TypeError(f"Expected a value of type '{type_}', got {value!r}.")
        return done

    return leaf


@dataclass(frozen=True, slots=True)
class _Field:
    key: str
    nodes: list[FieldNode]
    getter: Callable[[Any], Any] | None  # None: __typename
    complete: Complete
    non_null: bool


def _plain_getter(field: GraphQLField | None) -> Callable[[Any], Any] | None:
    """How to read ``field`` off its object, if it is a plain attribute: a Strawberry field
    without a resolver, permissions or extensions (Strawberry answers it with its getter,
    without any resolve info)."""
    if field is None or field.resolve is None or field.args:
        return None
    definition = (field.extensions or {}).get(STRAWBERRY_FIELD)
    if (
        definition is None
        or not definition.is_basic_field
        or definition.extensions
        or not getattr(field.resolve, "_is_default", False)
        or asyncio.iscoroutinefunction(field.resolve)
    ):
        return None
    resolve = field.resolve
    return lambda source: resolve(source, None)


def _typename(value: Any, path: list[str | int], run: Run) -> Any:
    raise AssertionError("answered by the object itself")  # pragma: no cover


def _object_value(type_: GraphQLObjectType, fields: list[_Field]) -> Complete:
    is_type_of = type_.is_type_of
    name = type_.name

    def object_value(value: Any, path: list[str | int], run: Run) -> Any:
        if is_type_of is not None and not is_type_of(value, run.info):
            raise GraphQLError(f"Expected value of type '{name}' but got: {value!r}.")
        done: dict[str, Any] = {}
        for field in fields:
            if field.getter is None:
                done[field.key] = name
                continue
            at = [*path, field.key]
            try:
                got = field.getter(value)
            except Exception as exc:
                run.fail(exc, field.nodes, at)
                if field.non_null:
                    raise _Null from None
                done[field.key] = None
                continue
            done[field.key] = field.complete(got, at, run)
        return done

    return object_value


def _abstract(
    type_: GraphQLAbstractType,
    by_type: dict[str, Complete],
    nodes: list[FieldNode],
) -> Complete:
    resolve_type = type_.resolve_type

    def abstract(value: Any, path: list[str | int], run: Run) -> Any:
        if resolve_type is None:
            raise GraphQLError(f"Abstract type '{type_}' has no type resolver.", nodes)
        name = resolve_type(value, run.info, type_)
        complete = by_type.get(name) if isinstance(name, str) else None
        if complete is None:
            message = f"Runtime Object type '{name}' is not a possible type for '{type_}'."
            raise GraphQLError(message, nodes)
        return complete(value, path, run)

    return abstract
