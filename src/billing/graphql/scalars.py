"""The Money scalar: exact decimal text on the wire, never a float.

Input: a string ("500.50", the exact form) or a JSON number. JSON numbers with a fraction or
an exponent are decoded as ``JsonNumber`` (their source text) and literals are read from their
source text, so no float ever takes part. The scalar keeps the text as given; the domain
layer validates it, so that a bad amount becomes a typed ``InvalidInput`` result rather than a
request error.

Output: a string with two decimals, "1001.50".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NewType

import strawberry
from graphql import (
    FloatValueNode,
    IntValueNode,
    StringValueNode,
    ValueNode,
    value_from_ast_untyped,
)

from billing.domain.money import format_money

Money = NewType("Money", str)


class JsonNumber:
    """The source text of a JSON number such as ``500.5`` or ``5e-1``, kept exact.

    Not a ``str``: only the Money scalar accepts it, so a String or ID input given a JSON
    number is refused as the wrong type.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def money(value: Decimal) -> Money:
    return Money(format_money(value))


def _parse_value(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()  # JSON true/false: rejected as an amount by the domain
    if isinstance(value, str | int | Decimal | JsonNumber):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest round-trip text; only reachable if a float slips in
    return ""  # objects, lists: not an amount


def _parse_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> str:
    if isinstance(node, StringValueNode | IntValueNode | FloatValueNode):
        return node.value  # the literal's source text, exact
    return ""


def _serialize(value: object) -> str:
    if isinstance(value, Decimal):
        return format_money(value)
    return str(value)


MONEY_SCALAR = strawberry.scalar(
    name="Money",
    description=(
        'An exact amount of money. Sent as a string ("500.50", the exact form) or as a JSON'
        " number, with at most as many decimals as the wallet's currency has; returned as a"
        ' string with exactly its currency\'s decimals ("1001.50" in USD, "1050" in JPY,'
        ' "1.500" in KWD).'
    ),
    serialize=_serialize,
    parse_value=_parse_value,
    parse_literal=_parse_literal,
)


Metadata = NewType("Metadata", object)


def _metadata_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> object:
    return value_from_ast_untyped(node, variables)


METADATA_SCALAR = strawberry.scalar(
    name="Metadata",
    description=(
        "Your own labels: a JSON object of at most 50 keys (1-40 characters each) with string"
        " values of at most 500 characters."
    ),
    serialize=lambda value: value,
    parse_value=lambda value: value,
    parse_literal=_metadata_literal,
)
