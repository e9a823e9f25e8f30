"""Typed errors: every expected failure is a result type implementing the Error interface.

The types are made from ``billing.errors``, one per error class there, with the class's code,
description and fields; nothing about an error is written here.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Annotated, Any, Union

import strawberry

from billing.errors import CATALOG, OperationError
from billing.graphql.scalars import Money, money

# mypy cannot know members made at runtime; the schema lists them (schema.graphql).
_codes: Any = enum.Enum("ErrorCode", [(e.code, e.code) for e in CATALOG])  # type: ignore[misc]
ErrorCode: type[enum.Enum] = strawberry.enum(
    _codes, description="Stable, machine-readable error codes."
)


@strawberry.interface(description="Implemented by every error result.")
class Error:
    code: enum.Enum = strawberry.field(graphql_type=ErrorCode)
    message: str = strawberry.field(description="A human-readable explanation.")


# The GraphQL type of each kind of detail, and how a value of that kind is shown.
_KINDS: dict[type, tuple[object, Callable[[Any], object]]] = {
    int: (strawberry.ID, lambda value: strawberry.ID(str(value))),
    Decimal: (Money, money),
    str: (str, str),
    uuid.UUID: (uuid.UUID, lambda value: value),
}


def _error_type(error: type[OperationError]) -> type[Error]:
    annotations: dict[str, object] = {}
    namespace: dict[str, object] = {"__module__": __name__, "__annotations__": annotations}
    for item in error.details():
        annotations[item.name] = _KINDS[item.kind][0]
        if item.description:
            namespace[item.name] = strawberry.field(description=item.description)
    made = type(error.__name__, (Error,), namespace)
    return strawberry.type(made, description=error.description())


TYPES: dict[type[OperationError], type[Error]] = {error: _error_type(error) for error in CATALOG}


def to_error(exc: OperationError) -> Error:
    """Translate a domain failure into its GraphQL type."""
    shown = {item.name: _KINDS[item.kind][1](getattr(exc, item.name)) for item in exc.details()}
    return TYPES[type(exc)](code=ErrorCode[exc.code], message=exc.message, **shown)


def result_union(name: str, success: type, failures: Sequence[type[OperationError]]) -> Any:
    """The result type of a mutation: its success type or any of its failures' types."""
    members = (success, *(TYPES[failure] for failure in failures))
    return Annotated[Union[members], strawberry.union(name)]  # noqa: UP007 - built at runtime
