"""Exact money: Decimal in Python, numeric in PostgreSQL, text on the wire. Never float.

Each wallet's currency has an exponent (its number of decimals: USD 2, JPY 0, KWD 3). The
database keeps every balance at exactly that many decimals, so an amount read from it carries
its currency's digits and is shown as it is.
"""

from __future__ import annotations

import re
from decimal import Decimal

from billing.errors import InvalidInput

MAX_EXPONENT = 8
MAX_AMOUNT = Decimal(10) ** 15
# Balances stay below this, whatever the currency (18 integer digits).
BALANCE_BOUND = Decimal(10) ** 18
# The amounts parse_amount accepts, as a pattern (the OpenAPI document publishes it); MAX_AMOUNT
# itself bounds the value, and the wallet's currency the decimals.
AMOUNT_PATTERN = (
    f"(0|[1-9][0-9]{{0,{len(str(int(MAX_AMOUNT))) - 1}}})([.][0-9]{{1,{MAX_EXPONENT}}})?"
)

# Plain notation, no sign, no leading zeros ("0.50" and "500" yes; "00.5", "1e3", "+1" no).
_PLAIN_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,39})(?:\.([0-9]{1,40}))?")


def parse_amount(text: str, field: str = "amount") -> Decimal:
    """Parse an amount given as exact decimal text: "500", "500.5", "500.50".

    Rejects signs, exponents, NaN/Infinity, more than MAX_EXPONENT decimal places, zero and
    amounts above MAX_AMOUNT, each with its own message. Whether the decimals fit the wallet's
    currency is checked where the wallet is known (see ``posting``).
    """
    match = _PLAIN_DECIMAL.fullmatch(text)
    if match is None:
        raise InvalidInput(
            field,
            f'{field} must be a plain decimal number such as "500.50": digits, at most one'
            " point, no sign, exponent or leading zeros.",
        )
    value = Decimal(text)
    if match.group(1) is not None and len(match.group(1)) > MAX_EXPONENT:
        value = value.normalize()
        if -value.as_tuple().exponent > MAX_EXPONENT:  # type: ignore[operator]
            raise InvalidInput(field, f"{field} must have at most {MAX_EXPONENT} decimal places.")
    if value <= 0:
        raise InvalidInput(field, f"{field} must be greater than 0.")
    if value > MAX_AMOUNT:
        raise InvalidInput(field, f"{field} must not exceed {MAX_AMOUNT:f}.")
    return value


_CENT = Decimal("0.01")


def fingerprint(value: Decimal) -> str:
    """One spelling per amount, for idempotency fingerprints: "5.5", "5.50" and 5.5 are one
    request. Amounts with at most two decimals read as they always have ("5.50")."""
    cents = value.quantize(_CENT)
    return f"{cents if cents == value else value.normalize():f}"


def limit_of(exponent: int) -> Decimal:
    """The largest balance a wallet of a currency with ``exponent`` decimals may hold."""
    return BALANCE_BOUND - Decimal(1).scaleb(-exponent)


def format_money(value: Decimal, places: int | None = None) -> str:
    """Plain notation with the value's own decimals ("1001.50", "1050"), or ``places``."""
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    return f"{value:f}"
