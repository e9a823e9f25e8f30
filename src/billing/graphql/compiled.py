"""A compiled path for the documents clients send again and again.

Clients send a fixed set of documents (the typed clients' are in clients/operations). For each,
graphql-core's executor re-derives on every request what is the same every time: which fields
to collect for which type, how each is resolved, how its value is serialized. ``compile_``
works that out once per document, and ``Compiled.run`` then answers a request with it:

* the variables are coerced by a plan of their types (billing.graphql.variables) when they are
  valid, else by graphql-core, as the executor does, with its errors; each field's arguments
  by graphql-core;
* every field that has a resolver (the root field, a wallet's ``held``, a page of history) is
  resolved by the function the executor calls (Strawberry's, with the request's context and a
  resolve info like the executor's): authentication, limits, idempotency, the loaders and the
  typed results are the same code. Where Strawberry's wrapper around the resolver adds
  nothing, it is called as the wrapper would call it, without it (``direct_resolver``);
* every other field is an attribute, read with Strawberry's own getter; scalars and enums are
  serialized by their GraphQL type, unions resolved by Strawberry's resolver;
* fields whose resolvers wait (on the database, say) are awaited in rounds, all of a round at
  once as the executor would, so loaders still batch what a round asks for;
* errors are located at their field, and a null where none may be makes the nearest nullable
  field null, as the specification says.

A document compiles when its operation is a query or a mutation of one root field, and there
are no directives in it. Anything else returns None and takes the general executor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
from graphql.execution.values import VariableValues, get_variable_values
from graphql.pyutils import Path as InfoPath
from strawberry.types.arguments import convert_argument
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import StrawberryResolver

from billing.graphql.conversion import conversion_of
from billing.graphql.variables import CoerceVariables, plan_variables

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
    path: InfoPath
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


Path = list[str | int]
# Where a value of the answer lives: its container and its key there. The answer's own data
# is ``{"data": ...}``.
Slot = tuple[Any, str | int]
# A step of the plan: it completes the value that goes to ``slot`` (at ``path``) into
# JSON-ready data. ``guard``: the slot of the nearest nullable value around it, the one a null
# where none may be turns null once the step that met it has returned (see ``Run.settle``).
Complete = Callable[[Any, Path, "Run", Slot, Slot], Any]
# A field's resolver as ``direct_resolver`` plans it: (source, resolve info, arguments) -> value.
Direct = Callable[[Any, Any, dict[str, Any]], Any]


@dataclass(slots=True)
class _Waiting:
    """A field whose resolver returned an awaitable: its value is completed in a later round."""

    awaitable: Awaitable[Any]
    field: _Field
    path: Path
    slot: Slot
    guard: Slot


@dataclass(slots=True)
class Run:
    """One request's state while its answer is built."""

    info: Any  # a ResolveInfo, as type resolvers take it (in place of GraphQLResolveInfo)
    variables: VariableValues
    errors: list[GraphQLError] = field(default_factory=list)
    waiting: list[_Waiting] = field(default_factory=list)
    tracked: list[Any] = field(default_factory=list)

    def fail(self, error: Exception, nodes: Sequence[FieldNode], path: Path) -> None:
        self.errors.append(located_error(error, nodes, list(path)))

    def resolve(self, field: _Field, source: Any, path: Path) -> Any:
        """The field's value as its resolver gives it (an awaitable, maybe)."""
        definition = field.definition
        assert definition is not None  # __typename is answered by its object
        assert definition.resolve is not None  # see _Planner.fields
        info = self.info._replace(
            field_name=field.name,
            field_nodes=field.nodes,
            return_type=definition.type,
            parent_type=field.parent,
            path=_info_path(path),
        )
        arguments = get_argument_values(definition, field.nodes[0], self.variables)
        if field.direct is not None:
            return field.direct(source, info, arguments)
        return definition.resolve(source, info, **arguments)

    def value(self, field: _Field, source: Any, path: Path, slot: Slot, guard: Slot) -> Any:
        """The field's completed value for ``slot``; a resolver that has to wait leaves it to
        a later round (see ``settle``) and the slot holds None meanwhile."""
        try:
            got = field.getter(source) if field.getter else self.resolve(field, source, path)
        except Exception as exc:
            self.failed(field, exc, path)
            return None
        if isawaitable(got):
            self.waiting.append(_Waiting(got, field, path, slot, guard))
            return None
        return field.complete(got, path, self, slot, guard)

    def failed(self, field: _Field, error: Exception, path: Path) -> None:
        """The field's resolver failed: its error; and if it may not be null, _Null (its
        parent becomes null). Else it is null."""
        self.fail(error, field.nodes, path)
        if field.non_null:
            raise _Null

    async def settle(self) -> None:
        """Await the fields that wait, a round at a time, and complete their values."""
        while self.waiting:
            round_, self.waiting = self.waiting, []
            if len(round_) == 1:
                outcomes = [await _outcome(round_[0].awaitable)]
            else:
                outcomes = await asyncio.gather(*(_outcome(w.awaitable) for w in round_))
            for waited, outcome in zip(round_, outcomes, strict=True):
                container, key = waited.slot
                try:
                    if isinstance(outcome, _Failure):
                        self.failed(waited.field, outcome.error, waited.path)
                        container[key] = None
                    else:
                        container[key] = waited.field.complete(
                            outcome, waited.path, self, waited.slot, waited.guard
                        )
                except _Null:
                    guarded, at = waited.guard
                    guarded[at] = None
        if pending := [value for value in self.tracked if isawaitable(value)]:
            await asyncio.gather(*pending, return_exceptions=True)  # settled, as the executor


@dataclass(frozen=True, slots=True)
class _Failure:
    error: Exception


async def _outcome(awaitable: Awaitable[Any]) -> Any:
    try:
        return await awaitable
    except Exception as exc:
        return _Failure(exc)


def _info_path(path: Path) -> InfoPath:
    built: InfoPath | None = None
    for key in path:
        built = InfoPath(built, key, None)
    assert built is not None
    return built


@dataclass(frozen=True, slots=True)
class _Field:
    key: str  # in the answer
    name: str
    parent: GraphQLObjectType
    definition: GraphQLField | None  # None: ``__typename``, answered by the object itself
    nodes: list[FieldNode]
    getter: Callable[[Any], Any] | None  # None: the field has a resolver
    complete: Complete
    non_null: bool
    direct: Direct | None = None  # its resolver called without Strawberry's wrapper


@dataclass(frozen=True, slots=True)
class Compiled:
    """One document's operation, planned: its root field, a field of the root type."""

    schema: GraphQLSchema
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    root: _Field
    variables: CoerceVariables | None  # None: graphql-core coerces them every time

    async def run(
        self, root_value: Any, context: Any, variables: Mapping[str, Any] | None
    ) -> ExecutionResult:
        inputs = variables or {}
        planned = None if self.variables is None else self.variables(inputs)
        coerced = (
            planned
            if planned is not None
            else get_variable_values(
                self.schema,
                self.operation.variable_definitions or (),
                dict(inputs),
                max_errors=MAX_COERCION_ERRORS,
            )
        )
        if isinstance(coerced, list):
            return ExecutionResult(data=None, errors=coerced)
        tracked: list[Any] = []
        root = self.root
        assert root.definition is not None
        info = ResolveInfo(
            root.name,
            root.nodes,
            root.definition.type,
            root.parent,
            InfoPath(None, root.key, root.parent.name),
            self.schema,
            self.fragments,
            root_value,
            self.operation,
            coerced.coerced,
            context,
            isawaitable,
            None,
            GraphQLResolveInfoHelpers(gather=_gather, track=tracked.extend),
            None,
        )
        run = Run(info, coerced, tracked=tracked)
        data: dict[str, Any] = {}
        answer: dict[str, Any] = {"data": data}
        top: Slot = (answer, "data")
        try:
            data[root.key] = run.value(root, root_value, [root.key], (data, root.key), top)
        except _Null:
            answer["data"] = None
        await run.settle()
        return ExecutionResult(data=answer["data"], errors=run.errors or None)


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
        or node.name.value.startswith("__")
    ):
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    fields = _Planner(schema, fragments).fields(root_type, [operation.selection_set])
    if not fields or fields[0].getter is not None:
        return None
    variables = plan_variables(schema, operation.variable_definitions or ())
    return Compiled(schema, operation, fragments, fields[0], variables)


@dataclass(frozen=True, slots=True)
class _Planner:
    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]

    def plan(  # noqa: PLR0911 - one case per kind of type
        self,
        type_: GraphQLOutputType,
        nodes: list[FieldNode],
        parent: str,
        name: str,
        *,
        nullable: bool = True,
    ) -> Complete | None:
        """How to complete a value of ``type_`` for the field ``parent.name`` asked for by
        ``nodes`` (None: it does not compile); ``nullable``: False inside a non-null type."""
        if isinstance(type_, GraphQLNonNull):
            inner = self.plan(type_.of_type, nodes, parent, name, nullable=False)
            return None if inner is None else _non_null(inner, nodes, parent, name)
        if isinstance(type_, GraphQLList):
            item = self.plan(type_.of_type, nodes, parent, name)
            return None if item is None else _nullable(_list(item, parent, name), nodes, nullable)
        if is_leaf_type(type_):
            return _nullable(_leaf(type_), nodes, nullable)
        selections = [n.selection_set for n in nodes if n.selection_set is not None]
        if is_object_type(type_):
            fields = self.fields(type_, selections)
            if fields is None:
                return None
            return _nullable(_object_value(type_, fields), nodes, nullable)
        if is_abstract_type(type_):
            by_type = {}
            for possible in self.schema.get_possible_types(type_):
                fields = self.fields(possible, selections)
                if fields is None:
                    return None
                by_type[possible.name] = _object_value(possible, fields)
            return _nullable(_abstract(type_, by_type, nodes), nodes, nullable)
        return None

    def fields(
        self, type_: GraphQLObjectType, selections: list[SelectionSetNode]
    ) -> list[_Field] | None:
        """The fields asked of an object of ``type_``, each with how its value is had."""
        asked: dict[str, list[FieldNode]] = {}
        if not self.collect(type_, selections, asked):
            return None
        planned = []
        for key, nodes in asked.items():
            name = nodes[0].name.value
            if name == "__typename":
                planned.append(_Field(key, name, type_, None, nodes, None, _no, non_null=True))
                continue
            definition = type_.fields.get(name)
            if definition is None or definition.resolve is None:
                return None
            complete = self.plan(definition.type, nodes, type_.name, name)
            if complete is None:
                return None
            getter = _plain_getter(definition)
            planned.append(
                _Field(
                    key,
                    name,
                    type_,
                    definition,
                    nodes,
                    getter,
                    complete,
                    is_non_null_type(definition.type),
                    None if getter else direct_resolver(self.schema, definition),
                )
            )
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


def _plain_getter(definition: GraphQLField) -> Callable[[Any], Any] | None:
    """How to read a field off its object, if it is a plain attribute: a Strawberry field
    without a resolver, arguments, permissions or extensions (Strawberry answers it with its
    getter, without any resolve info). None: it is resolved (see ``Run.resolve``)."""
    strawberry_field = (definition.extensions or {}).get(STRAWBERRY_FIELD)
    resolve = definition.resolve
    if (
        resolve is None
        or definition.args
        or strawberry_field is None
        or not strawberry_field.is_basic_field
        or strawberry_field.extensions
        or not getattr(resolve, "_is_default", False)
        or asyncio.iscoroutinefunction(resolve)
    ):
        return None
    return lambda source: resolve(source, None)


def direct_resolver(schema: GraphQLSchema, definition: GraphQLField) -> Direct | None:
    """The field's resolver as Strawberry's wrapper would call it, planned once: its arguments
    converted (their Python names looked up once, a scalar's or an enum's value passed as it
    is, anything else through Strawberry's ``convert_argument``), its Strawberry ``Info``, the
    source as ``self``, ``root`` or ``parent``. None: the wrapper is needed (the field has
    extensions, or the schema exception handlers), or it is not Strawberry's own field and
    resolver (a subclass may resolve otherwise)."""
    strawberry_schema = (schema.extensions or {}).get(STRAWBERRY_FIELD)
    field = (definition.extensions or {}).get(STRAWBERRY_FIELD)
    if strawberry_schema is None or field is None or field.base_resolver is None:
        return None
    converter = strawberry_schema.schema_converter
    resolver = field.base_resolver
    if (
        field.extensions
        or getattr(converter, "exception_handlers", True)
        or type(field).get_result is not StrawberryField.get_result
        or type(resolver).__call__ is not StrawberryResolver.__call__
        or not callable(resolver.wrapped_func)
    ):
        return None
    config, registry = strawberry_schema.config, converter.scalar_registry
    arguments = [
        (config.name_converter.from_argument(a), a.python_name, conversion_of(a.type))
        for a in field.arguments
    ]
    function = resolver.wrapped_func
    as_self = resolver.self_parameter is not None
    sources = [p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p]
    info_name = resolver.info_parameter.name if resolver.info_parameter else None
    make_info = config.info_class

    def direct(source: Any, raw_info: Any, given: dict[str, Any]) -> Any:
        info = make_info(_raw_info=raw_info, _field=field)
        kwargs: dict[str, Any] = {}
        for name, python_name, convert in arguments:
            if name in given:
                value = given[name]
                if convert is not None:
                    value = convert_argument(value, convert, registry, config, info, path=(name,))
                kwargs[python_name] = value
        for name in sources:
            kwargs[name] = source
        if info_name is not None:
            kwargs[info_name] = info
        return function(source, **kwargs) if as_self else function(**kwargs)

    return direct


def _no(value: Any, path: Path, run: Run, slot: Slot, guard: Slot) -> Any:
    raise AssertionError("not a step of any plan")  # pragma: no cover


def _nullable(complete: Complete, nodes: list[FieldNode], nullable: bool) -> Complete:
    """``complete`` with null and failures handled: null stays null, and a failure is
    recorded and answered with null (inside a non-null type, ``_non_null`` then takes the null
    further). A value that may be null guards what it completes."""

    def guarded(value: Any, path: Path, run: Run, slot: Slot, guard: Slot) -> Any:
        if value is None:
            return None
        try:
            return complete(value, path, run, slot, slot if nullable else guard)
        except _Null:
            return None
        except Exception as exc:
            run.fail(exc, nodes, path)
            return None

    return guarded


def _non_null(complete: Complete, nodes: list[FieldNode], parent: str, name: str) -> Complete:
    def non_null(value: Any, path: Path, run: Run, slot: Slot, guard: Slot) -> Any:
        done = complete(value, path, run, slot, guard)
        if done is None:
            # Null where null is not allowed: the error, and the parent becomes null (unless
            # the nullable step below already recorded an error for this value).
            if value is None:
                message = f"Cannot return null for non-nullable field {parent}.{name}."
                run.fail(TypeError(message), nodes, path)
            raise _Null
        return done

    return non_null


def _list(item: Complete, parent: str, name: str) -> Complete:
    def list_(value: Any, path: Path, run: Run, slot: Slot, guard: Slot) -> Any:
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
            message = f"Expected Iterable, but did not find one for field '{parent}.{name}'."
            raise GraphQLError(message)
        elements = list(value)
        done: list[Any] = [None] * len(elements)
        for index, element in enumerate(elements):
            done[index] = item(element, [*path, index], run, (done, index), guard)
        return done

    return list_


def _leaf(type_: Any) -> Complete:
    serialize = type_.coerce_output_value

    def leaf(value: Any, path: Path, run: Run, slot: Slot, guard: Slot) -> Any:
        done = serialize(value)
        if done is None or done is Undefined:
            raise TypeError(f"Expected a value of type '{type_}', got {value!r}.")
        return done

    return leaf


def _object_value(type_: GraphQLObjectType, fields: list[_Field]) -> Complete:
    is_type_of = type_.is_type_of
    name = type_.name

    def object_value(value: Any, path: Path, run: Run, slot: Slot, guard: Slot) -> Any:
        if is_type_of is not None and not is_type_of(value, run.info):
            raise GraphQLError(f"Expected value of type '{name}' but got: {value!r}.")
        done: dict[str, Any] = {}
        for field_ in fields:
            if field_.definition is None:
                done[field_.key] = name
            else:
                at = [*path, field_.key]
                done[field_.key] = run.value(field_, value, at, (done, field_.key), guard)
        return done

    return object_value


def _abstract(
    type_: GraphQLAbstractType,
    by_type: dict[str, Complete],
    nodes: list[FieldNode],
) -> Complete:
    resolve_type = type_.resolve_type

    def abstract(value: Any, path: Path, run: Run, slot: Slot, guard: Slot) -> Any:
        if resolve_type is None:
            raise GraphQLError(f"Abstract type '{type_}' has no type resolver.", nodes)
        name = resolve_type(value, run.info, type_)
        complete = by_type.get(name) if isinstance(name, str) else None
        if complete is None:
            message = f"Runtime Object type '{name}' is not a possible type for '{type_}'."
            raise GraphQLError(message, nodes)
        return complete(value, path, run, slot, guard)

    return abstract
