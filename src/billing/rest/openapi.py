"""The adapter's OpenAPI 3.1 description: requests, answers and every error, money as exact
numbers. Built from the same constants the code validates with; ``billing export-openapi``
writes it to the committed ``openapi.json``."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from importlib.metadata import version
from typing import Any

from billing.domain.idempotency import KEY_MAX
from billing.domain.money import MAX_AMOUNT, MAX_BALANCE
from billing.domain.validation import MAX_ID, NAME_MAX
from billing.rest.encoding import dumps

Schema = dict[str, Any]

MONEY_NOTE = (
    " Exact: read from the digits as written, never through a binary float. Parse answers with"
    " a decimal type (Python: `json.loads(text, parse_float=Decimal)`) to keep every cent."
)
AMOUNT_DESCRIPTION = (
    "An amount of money: greater than 0, at most 10^15, with at most two decimal places,"
    " written plainly (no sign, no exponent). A JSON number (`500.5`, `1000`) or a string"
    ' (`"500.50"`).' + MONEY_NOTE
)
MONEY_DESCRIPTION = "An amount of money: a JSON number with exactly two decimals (`1001.50`)."


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _wallet_id_input(description: str) -> Schema:
    return {
        "description": description
        + ' A positive integer (`42`) or its decimal string (`"42"`), as the ids in answers.',
        "oneOf": [
            {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            {"type": "string", "pattern": "^[1-9][0-9]{0,18}$"},
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
            {"type": "string", "pattern": "^(0|[1-9][0-9]{0,15})([.][0-9]{1,2})?$"},
        ],
    },
    "CreateClientRequest": _request(
        {
            "login": {
                "type": "string",
                "pattern": "^[A-Za-z0-9._-]{3,64}$",
                "description": "3-64 characters: A-Z a-z 0-9 . _ -; unique ignoring case.",
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
    # Errors: the codes and extra fields of the GraphQL error types, plus request errors.
    "InvalidInput": _error(
        "INVALID_INPUT",
        "A field is missing, unknown, of the wrong type, malformed or out of range (or a"
        " transfer names one wallet twice). Nothing changed.",
        field={
            "type": "string",
            "description": "The field at fault, e.g. `amount`, or `Idempotency-Key`.",
        },
    ),
    "LoginTaken": _error(
        "LOGIN_TAKEN", "The login exists (compared ignoring case).", login={"type": "string"}
    ),
    "WalletNotFound": _error(
        "WALLET_NOT_FOUND",
        "No such wallet (or, for a client token paying from it, not its own). Nothing changed.",
        walletId=ID,
    ),
    "InsufficientFunds": _error(
        "INSUFFICIENT_FUNDS",
        "The paying wallet holds less than the amount. Nothing changed.",
        walletId=ID,
        balance=MONEY,
        requested=MONEY,
    ),
    "BalanceLimitExceeded": _error(
        "BALANCE_LIMIT_EXCEEDED",
        f"The receiving wallet would hold more than {MAX_BALANCE}. Nothing changed.",
        walletId=ID,
        limit=MONEY,
    ),
    "IdempotencyKeyReused": _error(
        "IDEMPOTENCY_KEY_REUSED",
        "The Idempotency-Key was used before for a different request. Nothing changed.",
        idempotencyKey={"type": "string"},
    ),
    "PermissionDenied": _error(
        "PERMISSION_DENIED",
        "A client token tried an operators-only operation. Nothing changed.",
        operation={"type": "string", "description": "`createClient` or `resupply`."},
    ),
    "TryAgain": _error(
        "TRY_AGAIN", "Contention outlasted the internal retries. Nothing changed; retry."
    ),
    "ServiceUnavailable": _error(
        "SERVICE_UNAVAILABLE", "The database is unavailable. Nothing changed; retry later."
    ),
    "OutcomeUnknown": _error(
        "OUTCOME_UNKNOWN",
        "The connection to the database broke while committing: the operation may or may not"
        " have taken effect. Retry with the same Idempotency-Key, or check the wallet first.",
    ),
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


def _operation(
    operation_id: str,
    summary: str,
    description: str,
    request: str,
    answer: str,
    *,
    wallets: bool,
    conflicts: tuple[str, ...],
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
        "403": _errors("The token may not do this.", "PermissionDenied"),
    }
    if wallets:
        responses["404"] = _errors("A wallet does not exist.", "WalletNotFound")
    responses |= {
        "409": _errors("The request conflicts with the ledger's state.", *conflicts),
        "413": _errors("The body is too large.", "RequestTooLarge"),
        "415": _errors("The body is not sent as JSON.", "UnsupportedMediaType"),
        "422": _errors(
            "A field is invalid, or the Idempotency-Key belongs to another request.",
            "InvalidInput",
            "IdempotencyKeyReused",
        ),
        "500": _errors("A bug (never expected).", "InternalError"),
        "503": _errors(
            "Busy or the database is unavailable: nothing changed, retry after Retry-After.",
            "TryAgain",
            "ServiceUnavailable",
            **{"Retry-After": _header("RetryAfter")},
        ),
        "504": _errors("The outcome is unknown.", "OutcomeUnknown"),
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
        "responses": responses,
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
                    wallets=False,
                    conflicts=("LoginTaken",),
                )
            },
            "/resupplies": {
                "post": _operation(
                    "resupply",
                    "Credit money to a wallet",
                    "Operators only.",
                    "ResupplyRequest",
                    "ResupplyResponse",
                    wallets=True,
                    conflicts=("BalanceLimitExceeded",),
                )
            },
            "/transfers": {
                "post": _operation(
                    "transfer",
                    "Move money between two wallets",
                    "A client token may pay only from its own wallets, to any existing wallet.",
                    "TransferRequest",
                    "TransferResponse",
                    wallets=True,
                    conflicts=("InsufficientFunds", "BalanceLimitExceeded"),
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
            "schemas": SCHEMAS,
        },
    }


def render() -> str:
    """The document as the committed ``openapi.json`` holds it."""
    return dumps(document(), indent=2).decode() + "\n"
