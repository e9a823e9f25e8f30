"""Exact money: Decimal in Python, numeric(20, 2) in PostgreSQL, text on the wire. Never float."""

from __future__ import annotations

import re
from decimal import Decimal

from billing.errors import InvalidInput

PLACES = 2
CENT = Decimal(1).scaleb(-PLACES)
MAX_AMOUNT = Decimal(10) ** 15
# The amounts parse_amount accepts, as a pattern (the OpenAPI document publishes it); MAX_AMOUNT
# itself bounds the value.
AMOUNT_PATTERN = f"(0|[1-9][0-9]{{0,{len(str(int(MAX_AMOUNT))) - 1}}})([.][0-9]{{1,{PLACES}}})?"
# numeric(20, 2) holds at most 18 integer digits.
MAX_BALANCE = Decimal("999999999999999999.99")

# Plain notation, no sign, no leading zeros ("0.50" and "500" yes; "00.5", "1e3", "+1" no).
_PLAIN_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,39})(?:\.([0-9]{1,40}))?")


def parse_amount(text: str, field: str = "amount") -> Decimal:
    """Parse an amount given as exact decimal text: "500", "500.5", "500.50".

    Rejects signs, exponents, NaN/Infinity, more than two decimal places, zero and amounts above
    MAX_AMOUNT, each with its own message.
    """
    match = _PLAIN_DECIMAL.fullmatch(text)
    if match is None:
        raise InvalidInput(
            field,
            f'{field} must be a plain decimal number such as "500.50": digits, at most one'
            " point, no sign, exponent or leading zeros.",
        )
    if match.group(1) is not None and len(match.group(1)) > PLACES:
        raise InvalidInput(field, f"{field} must have at most {PLACES} decimal places.")
    value = Decimal(text)
    if value <= 0:
        raise InvalidInput(field, f"{field} must be greater than 0.")
    if value > MAX_AMOUNT:
        raise InvalidInput(field, f"{field} must not exceed {MAX_AMOUNT:.2f}.")
    return value.quantize(CENT)


def format_money(value: Decimal) -> str:
    """Two decimals, plain notation: Decimal("1001.5") -> "1001.50"."""
    return f"{value.quantize(CENT):f}"
