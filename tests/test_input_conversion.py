"""Planned input conversion (billing.graphql.conversion) builds what Strawberry's own would."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import strawberry
from strawberry.types.arguments import convert_arguments
from strawberry.types.base import StrawberryObjectDefinition

from billing.graphql.conversion import plan_inputs
from billing.graphql.history import TransactionKind
from billing.graphql.schema import build_schema

# Arguments as graphql-core hands them to resolvers: scalars parsed, enums as their members,
# defaults filled in, omitted fields without a published default absent.
CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "Mutation",
        "transfer",
        {
            "input": {
                "walletFromId": "1",
                "walletToId": "2",
                "amount": Decimal("10.25"),
                "reference": "order 7",
                "metadata": {"order": 7, "tags": ["a", "b"]},
                "idempotencyKey": "key-1",
                "dryRun": True,
            }
        },
    ),
    ("Mutation", "resupply", {"input": {"walletId": "3", "amount": Decimal(1), "dryRun": False}}),
    (
        "Mutation",
        "splitTransfer",
        {
            "input": {
                "walletFromId": "1",
                "legs": [
                    {"walletToId": "2", "amount": Decimal("1.50"), "reference": None},
                    {"walletToId": "3", "amount": Decimal("2"), "reference": "b"},
                ],
                "reference": None,
                "metadata": None,
                "idempotencyKey": None,
                "dryRun": False,
            }
        },
    ),
    (
        "Query",
        "transactions",
        {
            "filter": {
                "reference": "r",
                "metadata": {"k": "v"},
                "kind": TransactionKind.TRANSFER,
                "since": datetime(2026, 1, 1, tzinfo=UTC),
            },
            "first": 5,
            "after": None,
        },
    ),
    ("Query", "transactions", {"filter": None, "first": None, "after": None}),
]


@pytest.mark.parametrize(("parent", "field", "arguments"), CASES)
def test_planned_conversion_builds_what_strawberry_builds(
    parent: str, field: str, arguments: dict[str, Any]
) -> None:
    # given: the service's schema (planned conversion) and Strawberry's own conversion
    # when / then
    assert_converted_alike(build_schema(), parent, field, arguments)


@strawberry.input
class Patch:
    note: strawberry.Maybe[str | None]
    count: strawberry.Maybe[int]
    tags: list[str] | None = None


@strawberry.type
class PatchQuery:
    @strawberry.field
    def patch(self, change: Patch) -> str:
        return repr(change)


@pytest.mark.parametrize(
    "change",
    [{"note": None, "count": 2}, {"note": "x", "tags": None}, {"tags": ["a"]}, {}],
    ids=["null", "value", "list", "absent"],
)
def test_maybe_fields_keep_null_apart_from_absent(change: dict[str, Any]) -> None:
    # given: a schema of input fields that may be absent, null or a value, planned as ours are
    schema = strawberry.Schema(query=PatchQuery)
    plan_inputs(schema)
    # when / then: an explicit null stays Some(None), as Strawberry makes it
    assert_converted_alike(schema, "PatchQuery", "patch", {"change": change})


def assert_converted_alike(
    schema: strawberry.Schema, parent: str, field: str, arguments: dict[str, Any]
) -> None:
    """The arguments of ``parent.field`` converted by the planned hooks and by Strawberry's
    own conversion (the hooks taken off) are the same values."""
    definition = schema.get_field_for_type(field, parent)
    assert definition is not None

    def convert() -> dict[str, Any]:
        return convert_arguments(
            arguments,
            definition.arguments,
            scalar_registry=schema.schema_converter.scalar_registry,
            config=schema.config,
        )

    planned = convert()
    inputs = [
        c.definition
        for c in schema.schema_converter.type_map.values()
        if isinstance(c.definition, StrawberryObjectDefinition) and c.definition.is_input
    ]
    hooks = {d: d.from_input for d in inputs}
    assert all(hooks.values())  # every input type is planned
    try:
        for d in inputs:
            d.from_input = None
        strawberrys = convert()
    finally:
        for d, hook in hooks.items():
            d.from_input = hook
    assert planned == strawberrys
    assert repr(planned) == repr(strawberrys)  # the same classes, fields and values
