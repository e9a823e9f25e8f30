"""Every typed error, every bad input: a clear typed result, and nothing written."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.graphql.scalars import JsonNumber
from billing.graphql.view import _loads as view_loads
from billing.graphql.view import _reject_constant
from support.api import Api
from support.documents import CREATE_CLIENT, RESUPPLY

MAX_BALANCE = "999999999999999999.99"


async def ledger_size(sql: asyncpg.Connection) -> tuple[int, int, int, int]:
    """Counts of clients, wallets, transactions and operations, plus nothing else."""
    row = await sql.fetchrow(
        "SELECT (SELECT count(*) FROM clients) AS c, (SELECT count(*) FROM wallets) AS w,"
        " (SELECT count(*) FROM transactions) AS t, (SELECT count(*) FROM wallet_operations) AS o"
    )
    assert row is not None
    return row["c"], row["w"], row["t"], row["o"]


async def balances(sql: asyncpg.Connection) -> dict[int, str]:
    rows = await sql.fetch("SELECT id, balance::text AS b FROM wallets ORDER BY id")
    return {r["id"]: r["b"] for r in rows}


# --- createClient ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("login", "name", "field"),
    [
        ("ab", "Name", "login"),  # too short
        ("a" * 65, "Name", "login"),  # too long
        ("with space", "Name", "login"),
        ("émile", "Name", "login"),  # letters are A-Z and a-z
        ("semi;colon", "Name", "login"),
        ("nul\x00byte", "Name", "login"),
        ("", "Name", "login"),
        ("valid_login", "", "name"),
        ("valid_login", "   ", "name"),  # empty once trimmed
        ("valid_login", "x" * 201, "name"),
        ("valid_login", "line\nbreak", "name"),
        ("valid_login", "nul\x00byte", "name"),
        ("valid_login", "bell\x07", "name"),
        ("valid_login", "sep\u2028arator", "name"),
        ("valid_login", "\u202eevil", "name"),  # right-to-left override
        ("valid_login", "\u2066isolate", "name"),
        ("valid_login", "\u200b", "name"),  # nothing visible
        ("valid_login", "\ufeff", "name"),
        ("valid_login", "no\uffffchar", "name"),  # a noncharacter
    ],
)
async def test_create_client_rejects_bad_input(
    api: Api, sql: asyncpg.Connection, login: str, name: str, field: str
) -> None:
    # when
    data = await api.run(CREATE_CLIENT, {"input": {"login": login, "name": name}})
    # then
    result = data["createClient"]
    assert result["__typename"] == "InvalidInput"
    assert result["code"] == "INVALID_INPUT"
    assert result["field"] == field
    assert field in result["message"]
    assert await ledger_size(sql) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    "name", ["Иванов Иван", "王小明", "José Ñúñez", "محمد", "a", "x" * 200, "👩‍💻 Dev"]
)
async def test_create_client_accepts_names_in_any_script(api: Api, name: str) -> None:
    data = await api.run(CREATE_CLIENT, {"input": {"login": "anyscript", "name": name}})
    assert data["createClient"]["client"]["name"] == name


async def test_create_client_trims_name(api: Api) -> None:
    data = await api.run(CREATE_CLIENT, {"input": {"login": "trimmed", "name": "  Ann  "}})
    assert data["createClient"]["client"]["name"] == "Ann"


@pytest.mark.parametrize("second", ["taken", "TAKEN", "Taken"])
async def test_login_taken_ignores_case(api: Api, sql: asyncpg.Connection, second: str) -> None:
    # given
    await api.create_client("taken")
    # when
    data = await api.run(CREATE_CLIENT, {"input": {"login": second, "name": "Other"}})
    # then
    result = data["createClient"]
    assert result["__typename"] == "LoginTaken"
    assert result["code"] == "LOGIN_TAKEN"
    assert result["login"] == second
    assert await ledger_size(sql) == (1, 1, 0, 0)


# --- resupply -------------------------------------------------------------------------------

BAD_AMOUNTS: list[Any] = [
    "0",
    "0.00",
    "-1",
    "-0.01",
    0,
    -5,
    "1.001",  # more than two decimals
    0.001,
    "1e3",  # exponent
    "1E3",
    "NaN",
    "Infinity",
    "-Infinity",
    "",
    " 1",
    "1 ",
    "+1",
    "1,50",
    "1.",
    ".5",
    "0x10",
    "1000000000000000.01",  # above 10^15
    "10000000000000000",
    "9" * 100,
    "00.01",  # leading zeros
    "007",
    "１２",  # full-width digits
    "٣",  # Arabic-Indic digit
    "0.005",
    True,
    {"amount": 1},
    [1],
]


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
async def test_resupply_rejects_bad_amounts(api: Api, sql: asyncpg.Connection, amount: Any) -> None:
    # given
    _, wallet = await api.create_client("badamount")
    before = await ledger_size(sql)
    # when
    data = await api.run(RESUPPLY, {"input": {"walletId": wallet, "amount": amount}})
    # then
    result = data["resupply"]
    assert result["__typename"] == "InvalidInput", result
    assert result["field"] == "amount"
    assert "amount" in result["message"]
    assert await ledger_size(sql) == before
    assert await api.balance(wallet) == "0.00"


@pytest.mark.parametrize("number", ["1e3", "1E+2", "5.0e-1", "-0", "1.001", "1e400"])
async def test_resupply_rejects_json_numbers_in_exponent_or_bad_form(
    api: Api, sql: asyncpg.Connection, number: str
) -> None:
    # given
    _, wallet = await api.create_client("jsonnumber")
    variables = f'{{"input": {{"walletId": "{wallet}", "amount": {number}}}}}'
    body = f'{{"query": {json.dumps(RESUPPLY)}, "variables": {variables}}}'
    # when
    response = await api.http.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    # then
    assert response.json()["data"]["resupply"]["__typename"] == "InvalidInput"
    assert await api.balance(wallet) == "0.00"


@pytest.mark.parametrize("literal", ["0", "-1", "1.001", "1e3", "NaN", "true", "null_", "{a: 1}"])
async def test_resupply_rejects_bad_amount_literals(api: Api, literal: str) -> None:
    # given
    _, wallet = await api.create_client("badliteral")
    # when
    data = await api.run(
        f'mutation {{ resupply(input: {{walletId: "{wallet}", amount: {literal}}}) {{'
        " __typename ... on InvalidInput { field } } }"
    )
    # then
    assert data["resupply"] == {"__typename": "InvalidInput", "field": "amount"}


@pytest.mark.parametrize("wallet_id", ["abc", "0", "-3", "1.5", "", "01", "9" * 25])
async def test_resupply_rejects_malformed_wallet_ids(api: Api, wallet_id: str) -> None:
    data = await api.run(RESUPPLY, {"input": {"walletId": wallet_id, "amount": "1"}})
    assert data["resupply"]["__typename"] == "InvalidInput"
    assert data["resupply"]["field"] == "walletId"


async def test_resupply_unknown_wallet(api: Api, sql: asyncpg.Connection) -> None:
    data = await api.run(RESUPPLY, {"input": {"walletId": "424242", "amount": "1"}})
    assert data["resupply"] == {
        "__typename": "WalletNotFound",
        "walletId": "424242",
        "code": "WALLET_NOT_FOUND",
        "message": "Wallet 424242 does not exist.",
    }
    assert await ledger_size(sql) == (0, 0, 0, 0)


async def test_resupply_that_would_overflow_the_balance_is_refused(
    api: Api, sql: asyncpg.Connection
) -> None:
    # given: a wallet just below the largest balance numeric(20, 2) can hold
    _, wallet = await api.create_client("rich")
    await sql.execute(
        "UPDATE wallets SET balance = $1::numeric WHERE id = $2",
        "999999999999999999.00",
        int(wallet),
    )
    before = await ledger_size(sql)
    # when
    data = await api.run(RESUPPLY, {"input": {"walletId": wallet, "amount": "1"}})
    # then
    assert data["resupply"]["__typename"] == "BalanceLimitExceeded"
    assert data["resupply"]["limit"] == MAX_BALANCE
    assert "holds 999999999999999999.00" in data["resupply"]["message"]
    assert await ledger_size(sql) == before
    # and the largest amount that fits is accepted
    data = await api.run(RESUPPLY, {"input": {"walletId": wallet, "amount": "0.99"}})
    assert data["resupply"]["walletBalance"] == MAX_BALANCE


# --- transfer -------------------------------------------------------------------------------


@pytest.fixture
async def two_wallets(api: Api) -> tuple[str, str]:
    _, source = await api.create_client("source")
    _, target = await api.create_client("target")
    await api.resupply(source, "100.00")
    return source, target


async def test_insufficient_funds_writes_nothing(
    api: Api, sql: asyncpg.Connection, two_wallets: tuple[str, str]
) -> None:
    # given
    source, target = two_wallets
    before, money = await ledger_size(sql), await balances(sql)
    # when
    result = await api.transfer(source, target, "100.01")
    # then
    assert result["__typename"] == "InsufficientFunds"
    assert result["code"] == "INSUFFICIENT_FUNDS"
    assert result["walletId"] == source
    assert result["balance"] == "100.00"
    assert result["requested"] == "100.01"
    assert await ledger_size(sql) == before
    assert await balances(sql) == money


async def test_transfer_of_the_whole_balance_leaves_zero(
    api: Api, two_wallets: tuple[str, str]
) -> None:
    source, target = two_wallets
    result = await api.transfer(source, target, "100")
    assert (result["walletFromBalance"], result["walletToBalance"]) == ("0.00", "100.00")


@pytest.mark.parametrize("unknown_side", ["from", "to"])
async def test_transfer_with_an_unknown_wallet(
    api: Api, sql: asyncpg.Connection, two_wallets: tuple[str, str], unknown_side: str
) -> None:
    # given
    source, target = two_wallets
    before, money = await ledger_size(sql), await balances(sql)
    if unknown_side == "from":
        source = "987654"
    else:
        target = "987654"
    # when
    result = await api.transfer(source, target, "1")
    # then
    assert result["__typename"] == "WalletNotFound"
    assert result["walletId"] == "987654"
    assert await ledger_size(sql) == before
    assert await balances(sql) == money


async def test_transfer_to_the_same_wallet_is_invalid(
    api: Api, sql: asyncpg.Connection, two_wallets: tuple[str, str]
) -> None:
    source, _ = two_wallets
    before = await ledger_size(sql)
    result = await api.transfer(source, source, "1")
    assert result["__typename"] == "InvalidInput"
    assert result["field"] == "walletToId"
    assert await ledger_size(sql) == before


@pytest.mark.parametrize(
    ("source", "target", "field"),
    [("x", "1", "walletFromId"), ("1", "-2", "walletToId"), ("", "", "walletFromId")],
)
async def test_transfer_with_malformed_ids(api: Api, source: str, target: str, field: str) -> None:
    result = await api.transfer(source, target, "1")
    assert result["__typename"] == "InvalidInput"
    assert result["field"] == field


@pytest.mark.parametrize("amount", ["0", "-5", "1.234", "1e2", "NaN", "1000000000000001"])
async def test_transfer_rejects_bad_amounts(
    api: Api, sql: asyncpg.Connection, two_wallets: tuple[str, str], amount: str
) -> None:
    source, target = two_wallets
    before, money = await ledger_size(sql), await balances(sql)
    result = await api.transfer(source, target, amount)
    assert result["__typename"] == "InvalidInput"
    assert result["field"] == "amount"
    assert await ledger_size(sql) == before
    assert await balances(sql) == money


async def test_transfer_that_would_overflow_the_recipient_is_refused(
    api: Api, sql: asyncpg.Connection, two_wallets: tuple[str, str]
) -> None:
    # given
    source, target = two_wallets
    await sql.execute(
        "UPDATE wallets SET balance = $1::numeric WHERE id = $2", MAX_BALANCE, int(target)
    )
    # when
    result = await api.transfer(source, target, "0.01")
    # then
    assert result["__typename"] == "BalanceLimitExceeded"
    assert result["walletId"] == target
    assert await api.balance(source) == "100.00"


# --- requests that are not valid GraphQL or JSON ----------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"\xff\xfe\xfa", "application/json"),  # invalid UTF-8
        (b'{"query": "{ __typename }", "variables": {"a": NaN}}', "application/json"),
        (
            b'{"query": "{ __typename }", "variables": {"a": ' + b"1" * 5000 + b"}}",
            "application/json",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),  # deeply nested
        (b'"a string"', "application/json"),  # JSON, but not an object
        (b"1.5", "application/json"),
        (b"null", "application/json"),
        (b"[]", "application/json"),  # a batch: batching is off
        (b'{"query": "{ __typename }", "operationName": "\\ud800"}', "application/json"),
        (b'{"query": "{ __typename }", "variables": {"name": "lone \\udc00"}}', "application/json"),
    ],
)
async def test_unparseable_bodies_are_client_errors(
    api: Api, body: bytes, content_type: str
) -> None:
    response = await api.http.post("/graphql", content=body, headers={"content-type": content_type})
    assert response.status_code == 400
    assert "Traceback" not in response.text


async def test_schema_violations_are_readable_graphql_errors(api: Api) -> None:
    # when: a required input field is missing and an unknown field is sent
    response = await api.post(
        'mutation { transfer(input: {walletFromId: "1", amount: "1", bogus: 1}) { __typename } }'
    )
    # then
    assert response.status_code == 200
    messages = " ".join(e["message"] for e in response.json()["errors"])
    assert "walletToId" in messages
    assert "bogus" in messages


@pytest.mark.parametrize("field", ["login", "name"])
async def test_json_numbers_are_not_strings(api: Api, sql: asyncpg.Connection, field: str) -> None:
    # given: a JSON number where a string is expected (only Money takes numbers)
    variables = {"input": {"login": "numeric", "name": "Numeric"}}
    body = json.dumps({"query": CREATE_CLIENT, "variables": variables}).replace(
        f'"{variables["input"][field]}"', "1234.5"
    )
    # when
    response = await api.http.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    # then: a readable request error, and no client
    assert response.status_code == 200
    assert "String cannot represent" in response.json()["errors"][0]["message"]
    assert await ledger_size(sql) == (0, 0, 0, 0)


def _canonical(value: Any) -> Any:
    """A decoded body with each kept JSON number as its text, for comparing."""
    if isinstance(value, JsonNumber):
        return ("number", value.text)
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return (type(value).__name__, value)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(value=JSON_VALUES)
def test_request_bodies_decode_as_the_standard_library_decodes_them(value: Any) -> None:
    # given: any JSON body, with numbers as a client writes them (5e-07, 1.5, 2**70)
    body = json.dumps(value).encode()
    # when: decoded as requests are (orjson first)
    decoded = view_loads(body)
    # then: the same values, of the same types, as the standard library's own decoding
    expected = json.loads(body, parse_float=JsonNumber, parse_constant=_reject_constant)
    assert _canonical(decoded) == _canonical(expected)


@pytest.mark.parametrize(
    "body",
    [b'{"a": NaN}', b'{"a": 1', b'{"a": "\xff"}', '{"a": 1}'.encode("utf-16"), b"[" * 5000],
)
def test_bodies_refused_by_orjson_get_the_standard_librarys_verdict(body: bytes) -> None:
    try:
        expected: object = _canonical(
            json.loads(body, parse_float=JsonNumber, parse_constant=_reject_constant)
        )
    except (ValueError, RecursionError) as exc:
        expected = type(exc)
    try:
        decoded: object = _canonical(view_loads(body))
    except (ValueError, RecursionError) as exc:
        decoded = type(exc)
    assert decoded == expected
