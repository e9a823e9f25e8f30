"""The adapter's OpenAPI 3.1 description: requests, answers and every error, money as exact
numbers. Built from what the code itself uses: the error classes of ``billing.errors``, each
operation's list of failures, and the patterns and limits the domain validates with.
``billing export-openapi`` writes it to the committed ``openapi.json``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from functools import cache
from http import HTTPStatus
from importlib.metadata import version
from typing import Any

from billing.domain import clients, payments
from billing.domain.idempotency import KEY_MAX
from billing.domain.money import AMOUNT_PATTERN, MAX_AMOUNT
from billing.domain.validation import ID_PATTERN, LOGIN_PATTERN, LOGIN_RULE, MAX_ID, NAME_MAX
from billing.errors import CATALOG, Detail, OperationError, camel
from billing.rest.encoding import dumps

Schema = dict[str, Any]

MONEY_NOTE = (
    " Exact: read from the digits as written, never through a binary float. Parse answers with"
    " a decimal type (Python: `json.loads(text, parse_float=Decimal)`) to keep every cent."
)
AMOUNT_DESCRIPTION = (
    f"An amount of money: greater than 0, at most {MAX_AMOUNT:f}, with at most the decimal"
    " places of the wallet's currency (2 for USD, 0 for JPY), written plainly (no sign, no"
    " exponent). A JSON number (`500.5`, `1000`) or a"
    ' string (`"500.50"`).' + MONEY_NOTE
)
MONEY_DESCRIPTION = "An amount of money: a JSON number with exactly 2 decimals (`1001.50`)."


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _wallet_id_input(description: str) -> Schema:
    return {
        "description": description
        + ' A positive integer (`42`) or its decimal string (`"42"`), as the ids in answers.',
        "oneOf": [
            {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            {"type": "string", "pattern": f"^{ID_PATTERN}$"},
        ],
    }


def _request(properties: dict[str, Schema], example: dict[str, object]) -> Schema:
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
        "examples": [example],
    }


def _answer(properties: dict[str, Schema], example: dict[str, object]) -> Schema:
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "examples": [example],
    }


def _error(code: str, description: str, **extra: Schema) -> Schema:
    return {
        "type": "object",
        "description": description,
        "required": ["code", "message", *extra],
        "properties": {
            "code": {"type": "string", "const": code},
            "message": {"type": "string", "description": "A human-readable explanation."},
            **extra,
        },
    }


MONEY: Schema = {"type": "number", "minimum": 0, "description": MONEY_DESCRIPTION + MONEY_NOTE}
ID: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
TRANSACTION_NUMBER: Schema = {
    "type": "string",
    "format": "uuid",
    "description": "The transaction's number (a UUID), as in the history.",
}

SCHEMAS: dict[str, Schema] = {
    "Amount": {
        "description": AMOUNT_DESCRIPTION,
        "oneOf": [
            {"type": "number", "exclusiveMinimum": 0, "maximum": int(MAX_AMOUNT)},
            {"type": "string", "pattern": f"^{AMOUNT_PATTERN}$"},
        ],
    },
    "CreateClientRequest": _request(
        {
            "login": {
                "type": "string",
                "pattern": f"^{LOGIN_PATTERN}$",
                "description": f"{LOGIN_RULE}; unique ignoring case.",
            },
            "name": {
                "type": "string",
                "minLength": 1,
                "description": f"1 to {NAME_MAX} characters in any script (counted after"
                " trimming surrounding spaces), no control or direction characters.",
            },
        },
        {"login": "myLogin", "name": "Иванов Иван"},
    ),
    "CreateClientResponse": _answer(
        {
            "login": {"type": "string"},
            "name": {"type": "string", "description": "As stored: trimmed, NFC-normalized."},
            "id": {**ID, "description": "The client's id."},
            "walletId": {**ID, "description": "The id of the client's first wallet (balance 0)."},
        },
        {"login": "myLogin", "name": "Иванов Иван", "id": 1, "walletId": 1},
    ),
    "ResupplyRequest": _request(
        {"walletId": _wallet_id_input("The wallet to credit."), "amount": ref("Amount")},
        {"walletId": 1, "amount": Decimal("500.50")},
    ),
    "ResupplyResponse": _answer(
        {
            "walletId": ID,
            "amount": {**MONEY, "exclusiveMinimum": 0},
            "transactionNumber": TRANSACTION_NUMBER,
            "walletBalance": {**MONEY, "description": "The balance right after the resupply."},
        },
        {
            "walletId": 1,
            "amount": Decimal("500.50"),
            "transactionNumber": "f1e0fb1b-0323-4e83-a69e-cffabb60b469",
            "walletBalance": Decimal("1001.00"),
        },
    ),
    "TransferRequest": _request(
        {
            "walletFromId": _wallet_id_input("The paying wallet (a client token's own)."),
            "walletToId": _wallet_id_input("The receiving wallet; not walletFromId."),
            "amount": ref("Amount"),
        },
        {"walletFromId": 1, "walletToId": 2, "amount": 1000},
    ),
    "TransferResponse": _answer(
        {
            "walletFromId": ID,
            "walletToId": ID,
            "amount": {**MONEY, "exclusiveMinimum": 0},
            "transactionNumber": TRANSACTION_NUMBER,
            "walletFromBalance": {**MONEY, "description": "The balance right after the transfer."},
            "walletToBalance": {
                "oneOf": [MONEY, {"type": "null"}],
                "description": "The receiving balance right after the transfer; null when a"
                " client token pays another client's wallet (it may not see that balance).",
            },
        },
        {
            "walletFromId": 1,
            "walletToId": 2,
            "amount": Decimal("1000.00"),
            "transactionNumber": "1608015c-0754-413d-9ae2-d576cbffb621",
            "walletFromBalance": Decimal("1.00"),
            "walletToBalance": Decimal("1000.00"),
        },
    ),
    # Whole-request errors; the operations' own failures are added from billing.errors below.
    "BadRequest": _error(
        "BAD_REQUEST", "The body is not a JSON object (malformed JSON, a key given twice, ...)."
    ),
    "Unauthenticated": _error("UNAUTHENTICATED", "No valid bearer token."),
    "RequestTooLarge": _error("REQUEST_TOO_LARGE", "The body exceeds BILLING_MAX_BODY_BYTES."),
    "UnsupportedMediaType": _error(
        "UNSUPPORTED_MEDIA_TYPE", "The body is not sent as `Content-Type: application/json`."
    ),
    "InternalError": _error(
        "INTERNAL_ERROR",
        "A bug: logged with its traceback under the request id that the message and the"
        " X-Request-ID header carry.",
    ),
}
DETAIL_SCHEMAS: dict[type, Schema] = {
    int: ID,
    Decimal: MONEY,
    str: {"type": "string"},
    uuid.UUID: {"type": "string", "format": "uuid"},
}


def _detail(item: Detail) -> Schema:
    schema = DETAIL_SCHEMAS[item.kind]
    return {**schema, "description": item.description} if item.description else schema


def failure_schemas(errors: Sequence[type[OperationError]]) -> dict[str, Schema]:
    """The schema of each failure: its code, its description and its details."""
    return {
        error.__name__: _error(
            error.code,
            error.description(),
            **{camel(item.name): _detail(item) for item in error.details()},
        )
        for error in errors
    }


HEADERS: dict[str, Schema] = {
    "RequestId": {
        "description": "The request's id (yours, if you sent a well-formed X-Request-ID).",
        "required": True,
        "schema": {"type": "string"},
    },
    "Replayed": {
        "description": "Sent when the request had an Idempotency-Key: `true` when this is the"
        " first result again (nothing was done now), `false` when it was performed now.",
        "schema": {"type": "string", "enum": ["true", "false"]},
    },
    "RetryAfter": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "WWWAuthenticate": {"description": "`Bearer`.", "schema": {"type": "string"}},
}


def _header(name: str) -> Schema:
    return {"$ref": f"#/components/headers/{name}"}


def _errors(description: str, *names: str, **headers: Schema) -> Schema:
    schema = ref(names[0]) if len(names) == 1 else {"oneOf": [ref(n) for n in names]}
    return {
        "description": description,
        "headers": {"X-Request-ID": _header("RequestId"), **headers},
        "content": {"application/json": {"schema": schema}},
    }


# What each status means, over whichever failures an operation answers with it.
STATUS_MEANING = {
    403: "The token may not do this.",
    404: "Something the request names does not exist.",
    409: "The request conflicts with the ledger's state.",
    422: "A field is invalid, or the Idempotency-Key belongs to another request.",
    503: "Busy or the database is unavailable: nothing changed, retry after Retry-After.",
    504: "The outcome is unknown.",
}


def _failure_responses(failures: Sequence[type[OperationError]]) -> dict[str, Schema]:
    by_status: dict[int, list[type[OperationError]]] = {}
    for failure in failures:
        by_status.setdefault(failure.status, []).append(failure)
    return {
        str(status): _errors(
            STATUS_MEANING.get(status, HTTPStatus(status).phrase),
            *(error.__name__ for error in errors),
            **(
                {"Retry-After": _header("RetryAfter")}
                if any(error.retry_after for error in errors)
                else {}
            ),
        )
        for status, errors in by_status.items()
    }


def _operation(
    operation_id: str,
    summary: str,
    description: str,
    request: str,
    answer: str,
    *,
    failures: Sequence[type[OperationError]],
) -> Schema:
    responses: dict[str, Schema] = {
        "200": {
            "description": "Done (or, with a known Idempotency-Key, the first result again).",
            "headers": {
                "X-Request-ID": _header("RequestId"),
                "Idempotent-Replayed": _header("Replayed"),
            },
            "content": {"application/json": {"schema": ref(answer)}},
        },
        "400": _errors("The body is not a JSON object.", "BadRequest"),
        "401": _errors(
            "No valid token.", "Unauthenticated", **{"WWW-Authenticate": _header("WWWAuthenticate")}
        ),
        "413": _errors("The body is too large.", "RequestTooLarge"),
        "415": _errors("The body is not sent as JSON.", "UnsupportedMediaType"),
        "500": _errors("A bug (never expected).", "InternalError"),
        **_failure_responses(failures),
    }
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ref(request)}},
        },
        "responses": dict(sorted(responses.items())),
    }


DESCRIPTION = """\
The original REST service's operations, on the billing API's domain: the same validation,
tokens, authorization, idempotency keys and typed errors as its GraphQL API at `/graphql`.

Every request needs `Authorization: Bearer <token>`. Errors are JSON objects with a stable
`code` (the GraphQL API's error codes) and a `message`; some carry more fields."""


@cache
def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Billing REST adapter",
            "version": version("billing"),
            "description": DESCRIPTION,
        },
        "security": [{"bearer": []}],
        "paths": {
            "/clients": {
                "post": _operation(
                    "createClient",
                    "Create a client with its first wallet",
                    "Operators only. Atomic: the client and a wallet with balance 0.",
                    "CreateClientRequest",
                    "CreateClientResponse",
                    failures=clients.CREATE_CLIENT_FAILURES,
                )
            },
            "/resupplies": {
                "post": _operation(
                    "resupply",
                    "Credit money to a wallet",
                    "Operators only.",
                    "ResupplyRequest",
                    "ResupplyResponse",
                    failures=payments.RESUPPLY_FAILURES,
                )
            },
            "/transfers": {
                "post": _operation(
                    "transfer",
                    "Move money between two wallets",
                    "A client token may pay only from its own wallets, to any existing wallet.",
                    "TransferRequest",
                    "TransferResponse",
                    failures=payments.TRANSFER_FAILURES,
                )
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `billing token create` (`bk_...`).",
                }
            },
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": (
                        f"Optional, 1 to {KEY_MAX} printable characters (a UUID, say). The same"
                        " key with the same request returns the first result again"
                        " (`Idempotent-Replayed: true`) instead of doing it twice; with a"
                        " different request it is refused (IDEMPOTENCY_KEY_REUSED). Shared"
                        " with the GraphQL `idempotencyKey` of the same caller."
                    ),
                    "schema": {"type": "string", "minLength": 1, "maxLength": KEY_MAX},
                }
            },
            "headers": HEADERS,
            "schemas": {**SCHEMAS, **failure_schemas(CATALOG)},
        },
    }


def render() -> str:
    """The document as the committed ``openapi.json`` holds it."""
    return dumps(document(), indent=2).decode() + "\n"
