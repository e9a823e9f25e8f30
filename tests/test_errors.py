"""Each error is defined once, as a class of billing.errors; both APIs and the OpenAPI document
are built from it."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
import typing
import uuid
from decimal import Decimal
from typing import Any

import graphql
import pytest

from billing import errors
from billing.errors import CATALOG, OperationError, camel
from billing.graphql.errors import to_error
from billing.graphql.schema import schema
from billing.rest.errors import operation_error
from billing.rest.openapi import document

# A new error, as a developer would add it: one class in billing/errors.py, named in the failures
# of the operation that can meet it. Run in a process of its own, so the catalog of this test
# session stays as shipped.
NEW_ERROR = textwrap.dedent(
    """
    import json
    from dataclasses import dataclass
    from decimal import Decimal

    from billing.errors import OperationError, detail


    @dataclass(eq=False)
    class CardDeclined(OperationError):
        \"\"\"The card issuer declined the payment. Nothing changed.\"\"\"

        status = 402
        wallet_id: int
        amount: Decimal
        reason: str = detail("What the issuer said.")

        @property
        def message(self) -> str:
            return f"The card declined {self.amount} for wallet {self.wallet_id}: {self.reason}."


    from billing.domain import payments

    payments.TRANSFER_FAILURES = (*payments.TRANSFER_FAILURES, CardDeclined)

    from billing.graphql.errors import to_error
    from billing.graphql.schema import build_schema
    from billing.rest.encoding import dumps
    from billing.rest.errors import operation_error
    from billing.rest.openapi import document

    declined = CardDeclined(7, Decimal("12.50"), "insufficient credit")
    as_graphql = to_error(declined)
    as_rest = operation_error(declined)
    print(json.dumps({
        "sdl": build_schema().as_str(),
        "graphql": {
            "type": type(as_graphql).__name__,
            "code": as_graphql.code.value,
            "walletId": as_graphql.wallet_id,
            "amount": as_graphql.amount,
            "reason": as_graphql.reason,
            "message": as_graphql.message,
        },
        "rest": {"status": as_rest.status_code, "body": bytes(as_rest.body).decode()},
        "openapi": json.loads(dumps(document())),
    }))
    """
)


@pytest.fixture(scope="module")
def with_new_error() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", NEW_ERROR], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_a_new_error_class_is_a_graphql_type_with_its_code_and_fields(
    with_new_error: dict[str, Any],
) -> None:
    sdl = graphql.build_schema(with_new_error["sdl"])
    # then: an object type implementing Error, with the class's fields and descriptions
    declined = sdl.get_type("CardDeclined")
    assert isinstance(declined, graphql.GraphQLObjectType)
    assert declined.description == "The card issuer declined the payment. Nothing changed."
    assert [i.name for i in declined.interfaces] == ["Error"]
    assert {name: str(f.type) for name, f in declined.fields.items()} == {
        "code": "ErrorCode!",
        "message": "String!",
        "walletId": "ID!",
        "amount": "Money!",
        "reason": "String!",
    }
    assert declined.fields["reason"].description == "What the issuer said."
    # and its code in the enum, and the type in the union of the operation that can meet it
    codes = sdl.get_type("ErrorCode")
    assert isinstance(codes, graphql.GraphQLEnumType)
    assert "CARD_DECLINED" in codes.values
    transfer = sdl.get_type("TransferResult")
    resupply = sdl.get_type("ResupplyResult")
    assert isinstance(transfer, graphql.GraphQLUnionType)
    assert isinstance(resupply, graphql.GraphQLUnionType)
    assert "CardDeclined" in {t.name for t in transfer.types}
    assert "CardDeclined" not in {t.name for t in resupply.types}
    # and a raised error becomes that type
    assert with_new_error["graphql"] == {
        "type": "CardDeclined",
        "code": "CARD_DECLINED",
        "walletId": "7",
        "amount": "12.50",
        "reason": "insufficient credit",
        "message": "The card declined 12.50 for wallet 7: insufficient credit.",
    }


def test_a_new_error_class_is_a_rest_answer_with_its_status(
    with_new_error: dict[str, Any],
) -> None:
    answer = with_new_error["rest"]
    assert answer["status"] == 402
    assert json.loads(answer["body"], parse_float=Decimal) == {
        "code": "CARD_DECLINED",
        "message": "The card declined 12.50 for wallet 7: insufficient credit.",
        "walletId": 7,
        "amount": Decimal("12.50"),
        "reason": "insufficient credit",
    }


def test_a_new_error_class_is_in_the_openapi_document(with_new_error: dict[str, Any]) -> None:
    spec = with_new_error["openapi"]
    declined = spec["components"]["schemas"]["CardDeclined"]
    assert declined["description"] == "The card issuer declined the payment. Nothing changed."
    assert declined["properties"]["code"] == {"type": "string", "const": "CARD_DECLINED"}
    assert set(declined["required"]) == {"code", "message", "walletId", "amount", "reason"}
    assert declined["properties"]["reason"]["description"] == "What the issuer said."
    transfers = spec["paths"]["/transfers"]["post"]["responses"]
    assert transfers["402"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CardDeclined"
    }
    assert "402" not in spec["paths"]["/resupplies"]["post"]["responses"]


# --- the errors as shipped ------------------------------------------------------------------


def example(error: type[OperationError]) -> OperationError:
    """An instance of ``error`` with a value of the right kind in every required field."""
    values = {
        int: 7,
        Decimal: Decimal("12.50"),
        str: "text",
        uuid.UUID: uuid.UUID("6b1d2f4e-8c1a-4d0b-9f6e-2a7c5e3b9d10"),
    }
    hints = typing.get_type_hints(error)
    return error(
        **{
            f.name: values[hints[f.name]]
            for f in dataclasses.fields(error)  # type: ignore[arg-type]  # errors are dataclasses
            if f.default is dataclasses.MISSING
        }
    )


@pytest.mark.parametrize("error", CATALOG, ids=lambda e: e.__name__)
def test_every_error_is_the_same_in_graphql_rest_and_openapi(
    error: type[OperationError],
) -> None:
    sdl = graphql.build_schema(schema.as_str())
    spec = document()
    instance = example(error)
    fields = [camel(item.name) for item in error.details()]
    # GraphQL: a type of the same name, code and fields
    graphql_type = sdl.get_type(error.__name__)
    assert isinstance(graphql_type, graphql.GraphQLObjectType)
    assert list(graphql_type.fields) == ["code", "message", *fields]
    assert graphql_type.description == error.description()
    assert to_error(instance).code.value == error.code
    # REST: the status, the code and the same fields
    response = operation_error(instance)
    body = json.loads(bytes(response.body))
    assert response.status_code == error.status
    assert list(body) == ["code", "message", *fields]
    assert body["code"] == error.code
    assert ("retry-after" in response.headers) == error.retry_after
    # OpenAPI: its schema, the same code and fields
    documented = spec["components"]["schemas"][error.__name__]
    assert documented["properties"]["code"]["const"] == error.code
    assert list(documented["properties"]) == ["code", "message", *fields]


def test_the_catalog_is_what_billing_errors_defines() -> None:
    defined = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, OperationError)
    ]
    assert [e for e in defined if e is not OperationError] == CATALOG
