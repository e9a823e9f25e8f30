"""Input values converted by a plan made once per input type.

Strawberry converts each argument by walking its type anew on every request (resolving every
field's type, its GraphQL name, what kind of type it is): for a transfer's input, some 60
microseconds. ``plan_inputs`` gives each of the schema's input types a ``from_input`` (the
hook Strawberry offers for types that build their own values) that does the same from a plan
made on first use: which GraphQL name feeds which attribute, which fields default to None,
and which need converting at all. Scalars and enums arrive from graphql-core as they are kept;
only nested inputs and lists go through Strawberry's own conversion (``InputContext.convert``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from strawberry import Schema
from strawberry.relay import GlobalID
from strawberry.types.arguments import InputContext
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryObjectDefinition,
    StrawberryOptional,
    StrawberryType,
    has_object_definition,
)
from strawberry.types.lazy_type import LazyType


@dataclass(frozen=True, slots=True)
class _Field:
    graphql_name: str
    python_name: str
    convert: StrawberryType | type | None  # None: taken as it comes


@dataclass(frozen=True, slots=True)
class _Plan:
    nones: dict[str, None]  # fields without a default: None unless given
    fields: tuple[_Field, ...]


_PLANS: dict[type, _Plan] = {}


def plan_inputs(schema: Schema) -> None:
    """Give every input type of ``schema`` the planned conversion."""
    for concrete in schema.schema_converter.type_map.values():
        definition = concrete.definition
        if isinstance(definition, StrawberryObjectDefinition) and definition.is_input:
            definition.from_input = _from_input


def conversion_of(type_: StrawberryType | type) -> StrawberryType | type | None:
    """``type_`` if its values need Strawberry's conversion (``convert_argument``); None if the
    value graphql-core gives is the value: a scalar, an enum, or null."""
    optional = isinstance(type_, StrawberryOptional) and not isinstance(type_, StrawberryMaybe)
    inner = type_.of_type if optional else type_  # type: ignore[union-attr]
    plain = not (
        isinstance(inner, StrawberryList | LazyType | StrawberryOptional)
        or has_object_definition(inner)
        or inner is GlobalID
    )
    return None if plain else type_


def _from_input(cls: type, value: Mapping[str, Any], context: InputContext) -> Any:
    plan = _PLANS.get(cls) or _plan(cls, context)
    kwargs: dict[str, Any] = dict(plan.nones)
    for field in plan.fields:
        if field.graphql_name in value:
            given = value[field.graphql_name]
            if field.convert is not None:
                given = context.convert(given, field.convert, field.graphql_name)
            kwargs[field.python_name] = given
    return cls(**kwargs)


def _plan(cls: type, context: InputContext) -> _Plan:
    definition: StrawberryObjectDefinition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    fields = []
    for field in definition.fields:
        fields.append(
            _Field(
                graphql_name=context.config.name_converter.from_field(field),
                python_name=field.python_name,
                convert=conversion_of(field.resolve_type(type_definition=definition)),
            )
        )
    nones = {
        f.python_name: None
        for f in definition.fields
        if f.default_value is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    plan = _PLANS[cls] = _Plan(nones, tuple(fields))
    return plan
