"""Metadata: the caller's own labels on a money movement, stored with its transaction.

A JSON object of at most 50 keys; keys of 1 to 40 characters, values strings of at most 500
(the bounds a major payments API sets). Anything else is ``InvalidInput`` naming the key.
"""

from __future__ import annotations

import json

from billing.errors import InvalidInput

MAX_KEYS = 50
KEY_MAX = 40
VALUE_MAX = 500


def clean_metadata(metadata: object, field: str = "metadata") -> dict[str, str]:
    """The metadata as stored (an empty object when none is given)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidInput(field, f"{field} must be a JSON object of string values.")
    if len(metadata) > MAX_KEYS:
        raise InvalidInput(field, f"{field} may hold at most {MAX_KEYS} keys.")
    for key, value in metadata.items():
        if not isinstance(key, str) or not 1 <= len(key) <= KEY_MAX:
            raise InvalidInput(
                f"{field}.{key}", f"A {field} key must be 1 to {KEY_MAX} characters long."
            )
        if not isinstance(value, str):
            raise InvalidInput(f"{field}.{key}", f"{field} values must be strings.")
        if len(value) > VALUE_MAX:
            raise InvalidInput(
                f"{field}.{key}", f"A {field} value may be at most {VALUE_MAX} characters."
            )
        if "\x00" in key or "\x00" in value:
            raise InvalidInput(f"{field}.{key}", f"{field} must not contain NUL characters.")
    return dict(metadata)


def as_json(metadata: dict[str, str]) -> str:
    if not metadata:
        return "{}"
    return json.dumps(metadata, ensure_ascii=False, sort_keys=True)
