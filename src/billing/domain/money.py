"""Exact money: Decimal in Python, numeric(20, 2) in PostgreSQL, text on the wire. Never float."""

from __future__ import annotations

import re
from decimal import Decimal

from billing.domain.errors import InvalidInput

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal(10) ** 15
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
    if match.group(1) is not None and len(match.group(1)) > 2:
        raise InvalidInput(field, f"{field} must have at most 2 decimal places.")
    value = Decimal(text)
    if value <= 0:
        raise InvalidInput(field, f"{field} must be greater than 0.")
    if value > MAX_AMOUNT:
        raise InvalidInput(field, f"{field} must not exceed {MAX_AMOUNT:.2f}.")
    return value.quantize(CENT)


def format_money(value: Decimal) -> str:
    """Two decimals, plain notation: Decimal("1001.5") -> "1001.50"."""
    return f"{value.quantize(CENT):f}"
