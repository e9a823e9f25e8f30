"""Validation of identifiers and client fields."""

from __future__ import annotations

import re
import unicodedata

from billing.errors import InvalidInput

MAX_ID = 2**63 - 1
# The forms an id and a login take (the OpenAPI document publishes them too).
ID_PATTERN = "[1-9][0-9]{0,18}"
LOGIN_PATTERN = "[A-Za-z0-9._-]{3,64}"
LOGIN_RULE = "3 to 64 characters: letters A-Z and a-z, digits, '.', '_' or '-'"
_ID = re.compile(ID_PATTERN)
_LOGIN = re.compile(LOGIN_PATTERN)
NAME_MAX = 200
# Control characters, surrogates and line/paragraph separators have no place in text we show;
# nor do bidirectional overrides and isolates (they can make text read as something else).
_FORBIDDEN_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}
_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F)}
# Visible characters: letters, marks, numbers, punctuation and symbols.
_VISIBLE_CATEGORIES = ("L", "M", "N", "P", "S")


def parse_id(raw: str) -> int | None:
    """A positive 64-bit id written canonically ("42"), or None."""
    if not _ID.fullmatch(raw):
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


def require_id(raw: str, field: str) -> int:
    value = parse_id(raw)
    if value is None:
        raise InvalidInput(field, f'{field} must be a wallet id such as "42".')
    return value


def clean_login(login: str) -> str:
    if not _LOGIN.fullmatch(login):
        raise InvalidInput("login", f"login must be {LOGIN_RULE}.")
    return login


REFERENCE_MAX = 255


def clean_reference(reference: str | None, field: str = "reference") -> str | None:
    """Free text such as an order id: at most 255 characters, no control characters."""
    if reference is None or reference == "":
        return None
    if len(reference) > REFERENCE_MAX:
        raise InvalidInput(field, f"{field} must be at most {REFERENCE_MAX} characters.")
    if _has_forbidden_characters(reference):
        raise InvalidInput(field, f"{field} must not contain control or direction characters.")
    return reference


def _has_forbidden_characters(text: str) -> bool:
    return any(
        unicodedata.category(ch) in _FORBIDDEN_CATEGORIES
        or ch in _BIDI_CONTROLS
        or _is_noncharacter(ch)
        for ch in text
    )


def _is_noncharacter(ch: str) -> bool:
    code = ord(ch)
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def clean_name(name: str) -> str:
    cleaned = unicodedata.normalize("NFC", name.strip())
    if not cleaned:
        raise InvalidInput("name", "name must not be empty.")
    if len(cleaned) > NAME_MAX:
        raise InvalidInput("name", f"name must be at most {NAME_MAX} characters.")
    if _has_forbidden_characters(cleaned):
        raise InvalidInput("name", "name must not contain control or direction characters.")
    if not any(unicodedata.category(ch).startswith(_VISIBLE_CATEGORIES) for ch in cleaned):
        raise InvalidInput("name", "name must contain a visible character.")
    return cleaned
