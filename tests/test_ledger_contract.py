"""The fields the ledger's results name (docs/ledger.md, docs/api.md), asked for by name.

The behaviour tests (test_holds, test_refunds_splits, ...) read a few fields under aliases (see
support/ledger_depth.py); these tests ask for each field itself, so a field that is missing or
renamed fails here, once, by name.
"""

from __future__ import annotations

import pytest

from support.api import Api
from support.ledger_depth import capture, create_client, hold_id, resupply

# Each case: a type, and a field of it the contract names.
CONTRACT_FIELDS = [
    ("HoldTransferSuccess", "hold"),
    ("HoldTransferSuccess", "walletFrom"),
    ("HoldTransferSuccess", "amount"),
    ("HoldTransferSuccess", "expiresAt"),
    ("HoldTransferSuccess", "dryRun"),
    ("HoldTransferSuccess", "replayed"),
    ("CaptureHoldSuccess", "hold"),
    ("CaptureHoldSuccess", "transactionNumber"),
    ("CaptureHoldSuccess", "walletTo"),
    ("VoidHoldSuccess", "walletFrom"),
    ("RefundSuccess", "transactionNumber"),
    ("RefundSuccess", "refundOf"),
    ("RefundSuccess", "remaining"),
    ("RefundSuccess", "walletTo"),
    ("RefundSuccess", "walletsFrom"),
    ("RefundLeg", "walletId"),
    ("SplitTransferSuccess", "walletFromBalance"),
    ("SplitLeg", "walletTo"),
    ("WithdrawSuccess", "walletBalance"),
    ("HoldNotPending", "holdId"),
    ("HoldNotPending", "holdStatus"),
    ("HoldExpired", "holdId"),
    ("HoldNotFound", "holdId"),
    ("RefundExceedsRemaining", "remaining"),
    ("RefundExceedsRemaining", "requested"),
    ("CurrencyMismatch", "expected"),
    ("CurrencyExists", "currencyCode"),
    ("ClientNotFound", "clientId"),
    ("TransactionNotFound", "transactionNumber"),
    ("Hold", "capturedAmount"),
    ("Hold", "expiresAt"),
    ("Hold", "transactions"),
    ("Transaction", "refundable"),
    ("Transaction", "refundOf"),
    ("Transaction", "refunds"),
    ("Transaction", "hold"),
    ("Operation", "metadata"),
    ("Wallet", "available"),
    ("Wallet", "holds"),
    ("CurrencyTotals", "totalWithdrawn"),
]

TYPE_FIELDS = "query($name: String!) { __type(name: $name) { fields { name } } }"


@pytest.mark.parametrize(("type_name", "field"), CONTRACT_FIELDS)
async def test_the_schema_has_the_contracts_field(api: Api, type_name: str, field: str) -> None:
    data = await api.run(TYPE_FIELDS, {"name": type_name})
    assert data["__type"] is not None, type_name
    names = {f["name"] for f in data["__type"]["fields"]}
    assert field in names, f"{type_name}.{field} missing; it has {sorted(names)}"


async def test_hold_not_pending_answers_with_status(api: Api) -> None:
    # given: a captured hold
    _, payer = await create_client(api, "payer")
    _, payee = await create_client(api, "payee")
    await resupply(api, payer, "10.00")
    held = await hold_id(api, payer, payee, "5.00")
    assert (await capture(api, held))["__typename"] == "CaptureHoldSuccess"
    # when: captured again, asking for the contract's field
    response = await api.post(
        "mutation($id: ID!) { captureHold(input: {holdId: $id}) {"
        " __typename ... on HoldNotPending { holdId holdStatus } } }",
        {"id": held},
    )
    # then
    assert response.json() == {
        "data": {
            "captureHold": {
                "__typename": "HoldNotPending",
                "holdId": held,
                "holdStatus": "CAPTURED",
            }
        }
    }


# Each: a document that selects, in one result union, fields named alike on the success and on
# an error. GraphQL refuses such a document when the two have different types.
SAME_NAME_DOCUMENTS = {
    "refund.transactionNumber": """
        mutation { refund(input: {transactionNumber: "00000000-0000-0000-0000-000000000000"}) {
          __typename
          ... on RefundSuccess { transactionNumber }
          ... on RefundExceedsRemaining { transactionNumber }
          ... on TransactionNotFound { transactionNumber } } }
    """,
    "createCurrency.currency": """
        mutation { createCurrency(input: {code: "USD", exponent: 2, name: "Dollar"}) {
          __typename
          ... on CreateCurrencySuccess { currency { code } }
          ... on CurrencyExists { currencyCode } } }
    """,
}


@pytest.mark.parametrize("case", sorted(SAME_NAME_DOCUMENTS))
async def test_a_field_named_alike_on_success_and_error_can_be_selected_together(
    api: Api, case: str
) -> None:
    response = await api.post(SAME_NAME_DOCUMENTS[case])
    body = response.json()
    assert "errors" not in body, body
