"""Reading a request: a JSON object with exactly the documented fields, each of its type.

Amounts and ids keep the exact text the caller wrote; the domain validates them as it does
for GraphQL, so both APIs accept and refuse the same values with the same messages.
"""

from __future__ import annotations

from decimal import Decimal

from starlette.requests import Request

from billing.domain.validation import MAX_ID
from billing.errors import InvalidInput
from billing.rest.encoding import Number, loads
from billing.rest.errors import RequestError

SHOWN_NAME_MAX = 64  # an unknown field's name is quoted in the error up to this length


async def json_object(request: Request) -> dict[str, object]:
    """The body as a JSON object; RequestError (400, 415) for anything else."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise RequestError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "Send the body as JSON, with 'Content-Type: application/json'.",
        )
    try:
        value = loads(await request.body())
    except ValueError as exc:
        raise RequestError(400, "BAD_REQUEST", f"The body is not valid JSON: {exc}.") from exc
    if not isinstance(value, dict):
        raise RequestError(400, "BAD_REQUEST", "The body must be a JSON object.")
    return value


class Fields:
    """The fields of a request body; all of ``names`` are required and nothing else is allowed."""

    def __init__(self, body: dict[str, object], *names: str) -> None:
        for key in body:
            if key not in names:
                shown = key if len(key) <= SHOWN_NAME_MAX else key[:SHOWN_NAME_MAX] + "…"
                raise InvalidInput(
                    shown, f"Unknown field {shown!r}: this request takes {', '.join(names)}."
                )
        for name in names:
            if name not in body:
                raise InvalidInput(name, f"{name} is required.")
        self.body = body

    def text(self, name: str) -> str:
        value = self.body[name]
        if not isinstance(value, str):
            raise InvalidInput(name, f"{name} must be a string.")
        return value

    def wallet_id(self, name: str) -> str:
        """A wallet id as the domain takes it ("42"), from a JSON integer or a string."""
        value = self.body[name]
        if isinstance(value, str):
            return value  # the domain checks its form
        if isinstance(value, Number) and (canonical := _positive_integer(value.text)):
            return canonical
        raise InvalidInput(
            name, f'{name} must be a wallet id: a positive integer such as 42 or "42".'
        )

    def amount(self, name: str) -> str:
        """An amount's exact text, from a JSON number or a string; the domain checks it."""
        value = self.body[name]
        if isinstance(value, str):
            return value
        if isinstance(value, Number):
            return value.text
        raise InvalidInput(name, f'{name} must be a number such as 500.50 or a string "500.50".')


def _positive_integer(text: str) -> str | None:
    """ "42", "42.0" or "4.2e1" -> "42": JSON Schema counts all of them as the integer 42."""
    value = Decimal(text)
    if not 1 <= value <= MAX_ID or value != value.to_integral_value():
        return None
    return str(int(value))
