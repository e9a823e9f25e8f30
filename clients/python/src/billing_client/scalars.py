"""The API's custom scalars as Python values: Money is Decimal, DateTime is datetime, UUID is UUID,
Metadata is a dict of strings.

Money travels as a string in both directions, so no amount ever passes through a float. The
``serialize_*`` functions also receive the generated client's "not given" marker and ``None``
for optional variables; those pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TypeVar
from uuid import UUID

Absent = TypeVar("Absent")


def serialize_money(value: Decimal | Absent) -> str | Absent:
    """A Decimal as the plain string the API accepts ("0.10", never "1E+1").

    The amount is sent as it is, not rounded: one with more than two decimal places is
    refused by the API with a typed ``InvalidInput`` rather than silently changed here.
    """
    if isinstance(value, float):
        raise TypeError("Money must be a Decimal, not a float (a float is not exact)")
    if not isinstance(value, Decimal):
        return value
    if not value.is_finite():
        raise ValueError(f"Money must be finite, not {value}")
    return format(value, "f")


def parse_money(value: object) -> Decimal:
    """The API's money string ("1001.50") as an exact Decimal."""
    if not isinstance(value, str):
        raise TypeError(f"Money arrives as a string, not {type(value).__name__}")
    return Decimal(value)


def serialize_datetime(value: datetime | Absent) -> str | Absent:
    """ISO 8601; the API takes a datetime without an offset as UTC."""
    return value.isoformat() if isinstance(value, datetime) else value


def parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"DateTime arrives as a string, not {type(value).__name__}")
    return datetime.fromisoformat(value)


def serialize_uuid(value: UUID | Absent) -> str | Absent:
    return str(value) if isinstance(value, UUID) else value


def parse_uuid(value: object) -> UUID:
    if not isinstance(value, str):
        raise TypeError(f"UUID arrives as a string, not {type(value).__name__}")
    return UUID(value)


Metadata = dict[str, str]
"""Your own labels on a money movement: at most 50 keys of 1-40 characters, string values."""


def serialize_metadata(value: Mapping[str, str] | Absent) -> dict[str, str] | Absent:
    """A JSON object of string values; anything else is refused here, before it is sent."""
    if not isinstance(value, Mapping):
        return value
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise TypeError("Metadata keys and values must be strings")
    return dict(value)


def parse_metadata(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise TypeError(f"Metadata arrives as a JSON object, not {type(value).__name__}")
    return {str(key): str(item) for key, item in value.items()}
