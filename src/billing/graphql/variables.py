"""An operation's variables, coerced by a plan made once per document.

For every request graphql-core finds each variable's type anew, checks how deeply the value
nests, then walks the type to coerce it. For a document that compiles
(billing.graphql.compiled), ``plan_variables`` makes, once, a function for each variable that
walks a plan of its type instead. The plan only coerces values it is sure of: whenever a value
is not valid (a field missing or unknown, a scalar refused, a null where none may be), or not
plainly JSON, it gives up, and graphql-core coerces the variables itself and reports the errors
in its own words.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from types import NoneType
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    VariableDefinitionNode,
)
from graphql.execution.get_variable_signature import (
    GraphQLVariableSignature,
    get_variable_signature,
)
from graphql.execution.values import VariableValues, VariableValueSource
from graphql.pyutils import Undefined, is_iterable
from graphql.type.definition import is_required_input_field
from graphql.utilities.coerce_input_value import coerce_default_value

# A value to its coerced value, or Undefined: not sure (graphql-core decides).
Coerce = Callable[[Any], Any]
# A request's variables to their coerced values, or None: not sure (graphql-core decides).
CoerceVariables = Callable[[Mapping[str, Any]], VariableValues | None]


def plan_variables(
    schema: GraphQLSchema, definitions: Collection[VariableDefinitionNode]
) -> CoerceVariables | None:
    """The planned coercion of an operation's variables; None if there is none to make (a
    variable of a type that is not an input type, or whose default is not a plain scalar; an
    input type that contains itself or is @oneOf): graphql-core then coerces every request's
    variables."""
    planned = []
    for node in definitions:
        signature = get_variable_signature(schema, node)
        if isinstance(signature, GraphQLError):
            return None
        default = _default(signature)
        coerce = _coercer(signature.type, set())
        if default is None or coerce is None:
            return None
        planned.append((signature, coerce, default[0]))

    def coerce_variables(inputs: Mapping[str, Any]) -> VariableValues | None:
        sources: dict[str, VariableValueSource] = {}
        coerced: dict[str, Any] = {}
        for signature, coerce, default in planned:
            name = signature.name
            value = inputs.get(name, Undefined)
            if value is Undefined:
                if default is _REQUIRED:
                    return None
                sources[name] = VariableValueSource(signature)
                if default is not Undefined:
                    coerced[name] = default
                continue
            sources[name] = VariableValueSource(signature, value)
            result = coerce(value)
            if result is Undefined:
                return None
            coerced[name] = result
        return VariableValues(sources, coerced)

    return coerce_variables


# A variable without a default whose value may not be left out.
_REQUIRED = object()


def _default(signature: GraphQLVariableSignature) -> tuple[Any] | None:
    """What an omitted variable's value is: its default (Undefined: left out), or _REQUIRED;
    None for a default that is not an immutable scalar (graphql-core coerces it afresh for
    each request: a list, an input object) or is not valid."""
    if signature.default is None:
        return (_REQUIRED if isinstance(signature.type, GraphQLNonNull) else Undefined,)
    try:
        default = coerce_default_value(signature)
    except TypeError:
        return None
    if default is Undefined or not isinstance(default, bool | int | float | str | NoneType):
        return None
    return (default,)


def _coercer(type_: GraphQLInputType, enclosing: set[GraphQLInputObjectType]) -> Coerce | None:
    """What coerces a value of ``type_``, as graphql-core's ``coerce_input_value`` does
    (``enclosing``: the input types being planned around it)."""
    if isinstance(type_, GraphQLNonNull):
        inner = _coercer(type_.of_type, enclosing)
        if inner is None:
            return None

        def non_null(value: Any) -> Any:
            return Undefined if value is None else inner(value)

        return non_null
    if isinstance(type_, GraphQLList):
        return _list_coercer(type_, enclosing)
    if isinstance(type_, GraphQLInputObjectType):
        return _object_coercer(type_, enclosing)
    coerce_leaf: Coerce = type_.coerce_input_value  # a scalar or an enum

    def leaf(value: Any) -> Any:
        if value is None:
            return None
        try:
            return coerce_leaf(value)
        except Exception:  # refused: graphql-core says why
            return Undefined

    return leaf


def _list_coercer(type_: GraphQLList[Any], enclosing: set[GraphQLInputObjectType]) -> Coerce | None:
    item = _coercer(type_.of_type, enclosing)
    if item is None:
        return None

    def listed(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            items = []
            for one in value:
                coerced = item(one)
                if coerced is Undefined:
                    return Undefined
                items.append(coerced)
            return items
        if is_iterable(value):
            return Undefined  # a tuple, say (not from JSON): graphql-core decides
        coerced = item(value)  # a single value (an object too) is a list of one
        return Undefined if coerced is Undefined else [coerced]

    return listed


def _object_coercer(
    type_: GraphQLInputObjectType, enclosing: set[GraphQLInputObjectType]
) -> Coerce | None:
    if type_ in enclosing or type_.is_one_of:
        return None
    enclosing.add(type_)
    fields = []
    for name, field in type_.fields.items():
        coerce = _coercer(field.type, enclosing)
        if coerce is None:
            return None
        fields.append((name, field.out_name or name, coerce, is_required_input_field(field), field))
    enclosing.discard(type_)
    names = frozenset(type_.fields)
    out_type = type_.out_type

    def input_object(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is not dict or not names.issuperset(value):
            return Undefined
        coerced: dict[str, Any] = {}
        for name, out_name, coerce, required, field in fields:
            if name in value:
                given = coerce(value[name])
                if given is Undefined:
                    return Undefined
                coerced[out_name] = given
            elif required:
                return Undefined
            elif (default := coerce_default_value(field)) is not Undefined:
                coerced[out_name] = default
        return out_type(coerced)

    return input_object
