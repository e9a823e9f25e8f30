"""Planned coercion of variables (billing.graphql.variables) against graphql-core's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    OperationDefinitionNode,
    parse,
    type_from_ast,
)
from graphql.execution.values import VariableValues, get_variable_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.graphql.compiled import MAX_COERCION_ERRORS
from billing.graphql.scalars import JsonNumber
from billing.graphql.schema import build_schema
from billing.graphql.variables import plan_variables

SCHEMA = build_schema()._schema
OPERATIONS = {
    path.stem: definition
    for path in sorted((Path(__file__).parents[1] / "clients" / "operations").glob("*.graphql"))
    for definition in parse(path.read_text()).definitions
    if isinstance(definition, OperationDefinitionNode)
    and definition.operation.value != "subscription"
}

# What a client might send in place of any value: JSON of every kind.
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
    st.builds(JsonNumber, st.sampled_from(["1.5", "5e-1", "10.00"])),
    st.just([]),
    st.just({}),
)
# Valid values of each scalar, and values some of them refuse.
SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "ID": st.one_of(st.integers(0, 99), st.text("0123456789", min_size=1, max_size=3)),
    "String": st.text(max_size=6),
    "Boolean": st.booleans(),
    "Int": st.integers(min_value=-(2**31), max_value=2**31 - 1),
    "Money": st.sampled_from(["10.00", "0.01", "1", "250"]),
    "DateTime": st.sampled_from(["2026-01-01T00:00:00Z", "2026-06-30T12:30:00+02:00"]),
    "UUID": st.uuids().map(str),
    "Metadata": st.dictionaries(st.text("abc", min_size=1, max_size=3), st.text(max_size=3)),
}
REFUSED: dict[str, st.SearchStrategy[Any]] = {
    "Int": st.just(2**40),
    "DateTime": st.sampled_from(["2026-01-01", "yesterday"]),
    "UUID": st.just("not-a-uuid"),
    "Metadata": st.just({"": "x"}),
}


def values_for(type_: GraphQLInputType, wild: bool) -> st.SearchStrategy[Any]:
    """Valid values of ``type_``; ``wild``: values that are wrong somewhere (a field missing or
    unknown, a value refused or of another type, at any depth), or not."""
    if isinstance(type_, GraphQLNonNull):
        return values_for(type_.of_type, wild)
    if isinstance(type_, GraphQLList):
        item = values_for(type_.of_type, wild)
        fitting: st.SearchStrategy[Any] = st.lists(item, max_size=3) | item
    elif isinstance(type_, GraphQLInputObjectType):
        fitting = _input_objects(type_, wild=False)
        if wild:
            tame = {name: values_for(field.type, False) for name, field in type_.fields.items()}
            fitting = st.one_of(
                _input_objects(type_, wild=True),
                st.fixed_dictionaries({}, optional=tame),  # required ones missing
                st.fixed_dictionaries({"unknownField": st.integers()}, optional=tame),
            )
    elif isinstance(type_, GraphQLEnumType):
        names = list(type_.values)
        fitting = st.sampled_from([*names, "NOT_A_VALUE"] if wild else names)
    else:
        assert isinstance(type_, GraphQLScalarType)
        fitting = SCALARS[type_.name]
        if wild and type_.name in REFUSED:
            fitting |= REFUSED[type_.name]
    if not wild:
        return fitting
    return st.integers(0, 3).flatmap(lambda k: JUNK if k == 0 else fitting)  # junk: 1 in 4


def _input_objects(type_: GraphQLInputObjectType, wild: bool) -> st.SearchStrategy[Any]:
    """Input objects with their required fields and some of the others (``wild``ly made)."""
    fields = {name: values_for(field.type, wild) for name, field in type_.fields.items()}
    required = {n: s for n, s in fields.items() if isinstance(type_.fields[n].type, GraphQLNonNull)}
    optional = {n: s for n, s in fields.items() if n not in required}
    return st.fixed_dictionaries(required, optional=optional)


def both_ways(name: str, inputs: dict[str, Any]) -> tuple[VariableValues | None, Any]:
    definitions = OPERATIONS[name].variable_definitions or ()
    planned = plan_variables(SCHEMA, definitions)
    assert planned is not None, f"{name}: its variables are planned"
    general = get_variable_values(SCHEMA, definitions, dict(inputs), MAX_COERCION_ERRORS)
    return planned(inputs), general


def sources(values: VariableValues) -> dict[str, tuple[str, Any]]:
    return {name: (str(s.signature.type), s.value) for name, s in values.sources.items()}


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A document's variables, valid (each optional one given or not), except that one of them
    may be wild or left out."""
    name = draw(st.sampled_from(sorted(OPERATIONS)))
    definitions = OPERATIONS[name].variable_definitions or ()
    wild = draw(st.integers(-1, len(definitions) - 1))  # which one (-1: none)
    inputs = {}
    for i, node in enumerate(definitions):
        type_ = type_from_ast(SCHEMA, node.type)
        assert type_ is not None
        needed = isinstance(type_, GraphQLNonNull) and node.default_value is None
        if (needed and i != wild) or draw(st.integers(0, 3)):
            value = values_for(type_, wild=i == wild)  # type: ignore[arg-type]
            inputs[node.variable.name.value] = draw(value)
    return name, inputs


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests())
def test_planned_variables_are_coerced_as_graphql_core_coerces_them(
    request: tuple[str, dict[str, Any]],
) -> None:
    # given: the variables of one of the typed clients' documents, valid or not
    name, inputs = request
    # when: coerced by the plan, and by graphql-core
    planned, general = both_ways(name, inputs)
    # then: the plan gives way to graphql-core for anything invalid, and otherwise coerces
    # exactly as graphql-core does
    if planned is None:
        return
    assert not isinstance(general, list), (name, inputs, general)
    assert planned.coerced == general.coerced
    assert sources(planned) == sources(general)


@pytest.mark.parametrize(
    ("name", "inputs"),
    [
        (
            "Transfer",
            {"walletFromId": "1", "walletToId": 2, "amount": "1.50", "metadata": {"a": "b"}},
        ),
        ("Wallets", {"ids": "7"}),  # a single value for a list
        ("Transactions", {"filter": {"kind": "TRANSFER", "since": None}, "first": 5}),
        ("Transactions", {}),
        ("VoidHold", {"holdId": "3", "dryRun": None}),
    ],
)
def test_valid_variables_are_coerced_by_the_plan(name: str, inputs: dict[str, Any]) -> None:
    planned, general = both_ways(name, inputs)
    assert planned is not None
    assert not isinstance(general, list)
    assert planned.coerced == general.coerced


@pytest.mark.parametrize(
    ("name", "inputs"),
    [
        ("Transfer", {"walletFromId": "1", "walletToId": "2"}),  # amount missing
        ("Transfer", {"walletFromId": "1", "walletToId": True, "amount": "1"}),
        ("Wallets", {"ids": [None]}),
        ("SplitTransfer", {"walletFromId": "1", "legs": [{"amount": "1"}]}),
        ("Transactions", {"filter": {"kind": "NOPE"}}),
        ("Transactions", {"filter": {"unknown": 1}}),
        ("BalanceAt", {"id": "1", "time": None}),
    ],
)
def test_invalid_variables_are_left_to_graphql_core(name: str, inputs: dict[str, Any]) -> None:
    planned, general = both_ways(name, inputs)
    assert planned is None
    assert isinstance(general, list)
