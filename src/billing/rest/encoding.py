"""Exact JSON: numbers are read as their source text and money is written from its decimal
value, so no amount ever passes through a binary float on the way in or out."""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal

from billing.domain.money import format_money


class Number:
    """A JSON number exactly as the request wrote it: ``500.5``, ``42``, ``1e3``."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Number({self.text!r})"


# A \uD800-\uDFFF escape may encode a lone surrogate, which cannot be encoded as UTF-8 later.
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    found: dict[str, object] = {}
    for key, value in pairs:
        if key in found:  # which one would count is a guess: refuse instead
            raise ValueError(f"the key {json.dumps(key)} appears twice")
        found[key] = value
    return found


def loads(data: bytes) -> object:
    """Decode a request body; ValueError (with a readable reason) for anything that is not
    plain UTF-8 JSON: bad syntax, NaN or Infinity, a key given twice, a lone surrogate."""
    try:
        text = data.decode("utf-8")
        decoded = json.loads(
            text,
            parse_float=Number,
            parse_int=Number,
            parse_constant=_reject_constant,
            object_pairs_hook=_object,
        )
    except UnicodeDecodeError as exc:
        raise ValueError("the body is not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:
        raise ValueError("the body nests too deeply") from exc
    if _ESCAPED_SURROGATE.search(data):
        try:
            json.dumps(decoded, ensure_ascii=False, default=repr).encode()
        except UnicodeEncodeError as exc:
            raise ValueError("the body contains an unpaired surrogate escape") from exc
    return decoded


def dumps(value: object, *, indent: int | None = None) -> bytes:
    """UTF-8 JSON, compact unless ``indent`` is given. A ``Decimal`` is money: written as a
    number with two decimals (``Decimal("500.5")`` -> ``500.50``). Floats are refused."""
    return _encode(value, indent, 0).encode()


def _encode(value: object, indent: int | None, depth: int) -> str:  # noqa: PLR0911
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format_money(value, 2)  # the original contract: two decimals
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, uuid.UUID):
        return f'"{value}"'
    if isinstance(value, dict):
        members = [
            f"{json.dumps(str(k), ensure_ascii=False)}:{' ' if indent else ''}"
            + _encode(v, indent, depth + 1)
            for k, v in value.items()
        ]
        return _container("{", members, "}", indent, depth)
    if isinstance(value, list | tuple):
        items = [_encode(v, indent, depth + 1) for v in value]
        return _container("[", items, "]", indent, depth)
    raise TypeError(f"cannot write {type(value).__name__} as exact JSON")


def _container(start: str, parts: list[str], end: str, indent: int | None, depth: int) -> str:
    if not indent or not parts:
        return start + ",".join(parts) + end
    inner = "\n" + " " * indent * (depth + 1)
    return start + inner + ("," + inner).join(parts) + "\n" + " " * indent * depth + end
