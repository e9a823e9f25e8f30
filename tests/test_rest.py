"""The REST adapter: the original service's endpoints and shapes, over the same domain.

Bodies are written as JSON text where the exact form of a number matters, and answers are read
with Decimal, so a float anywhere on the way would show.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from openapi_spec_validator import validate
from starlette.applications import Starlette

from billing import errors as domain
from billing.app import create_app
from billing.config import Settings
from billing.graphql.errors import to_error
from billing.rest.encoding import dumps
from billing.rest.errors import operation_error
from billing.rest.openapi import document, render
from support.api import Api, api_for, custom_api, new_token
from support.documents import TRANSFER
from support.ledger import assert_ledger_consistent, total

ROOT = Path(__file__).resolve().parent.parent
JSON = {"Content-Type": "application/json"}
LEAKS = ("Traceback", "sqlalchemy", "asyncpg", "postgres", "SELECT", 'File "')


@pytest.fixture
def pool_size() -> int:
    return 20  # the concurrency test holds 16 connections at once


async def post(
    http: httpx.AsyncClient, path: str, body: str | dict[str, Any], **headers: str
) -> httpx.Response:
    """POST a JSON body: text as given (to control how numbers are written), or a dict."""
    content = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return await http.post(path, content=content.encode(), headers={**JSON, **headers})


def exact(response: httpx.Response) -> dict[str, Any]:
    """The answer with every number read exactly (a float would have lost digits)."""
    body: dict[str, Any] = json.loads(response.text, parse_float=Decimal)
    return body


async def new_wallet(api: Api, login: str, amount: str | None = None) -> int:
    response = await post(api.http, "/clients", {"login": login, "name": login.title()})
    assert response.status_code == 200, response.text
    wallet: int = response.json()["walletId"]
    if amount is not None:
        funded = await post(api.http, "/resupplies", {"walletId": wallet, "amount": amount})
        assert funded.status_code == 200, funded.text
    return wallet


async def ledger(sql: asyncpg.Connection) -> tuple[int, int, int, int]:
    """Rows in clients, wallets, transactions and idempotency keys."""
    row = await sql.fetchrow(
        "SELECT (SELECT count(*) FROM clients), (SELECT count(*) FROM wallets),"
        " (SELECT count(*) FROM transactions), (SELECT count(*) FROM idempotency_keys)"
    )
    assert row is not None
    return (row[0], row[1], row[2], row[3])


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"]
    body = exact(response)
    assert body["code"] == code
    assert body["message"]
    for leak in LEAKS:
        assert leak not in response.text
    return body


# --- happy paths, exact money -----------------------------------------------------------------


async def test_create_client_answers_in_the_original_shape(
    api: Api, sql: asyncpg.Connection
) -> None:
    # when: the original service's request, a Cyrillic name with spaces around it
    response = await post(api.http, "/clients", '{"login": "myLogin", "name": " Иванов Иван "}')
    # then: its answer shape, ids as numbers, the name as stored (trimmed), UTF-8 as is
    assert response.status_code == 200
    assert response.json() == {"login": "myLogin", "name": "Иванов Иван", "id": 1, "walletId": 1}
    assert "Иванов Иван" in response.text
    assert "idempotent-replayed" not in response.headers
    row = await sql.fetchrow("SELECT login, name FROM clients WHERE id = 1")
    assert row is not None
    assert (row["login"], row["name"]) == ("myLogin", "Иванов Иван")
    assert await sql.fetchval("SELECT balance FROM wallets WHERE client_id = 1") == Decimal("0.00")


async def test_resupply_adds_exactly(api: Api) -> None:
    # given
    wallet = await new_wallet(api, "decimals")
    # when: 0.10 and then 0.20, as JSON numbers (as floats these sum to 0.30000000000000004)
    first = await post(api.http, "/resupplies", f'{{"walletId": {wallet}, "amount": 0.10}}')
    second = await post(api.http, "/resupplies", f'{{"walletId": {wallet}, "amount": 0.2}}')
    # then: numbers written from the decimal values, with two decimals
    assert first.status_code == second.status_code == 200
    assert '"amount":0.10' in first.text
    assert '"amount":0.20,' in second.text
    assert '"walletBalance":0.30}' in second.text
    body = exact(second)
    assert body["walletId"] == wallet
    assert (body["amount"], body["walletBalance"]) == (Decimal("0.20"), Decimal("0.30"))
    assert uuid.UUID(body["transactionNumber"]) != uuid.UUID(exact(first)["transactionNumber"])
    assert set(body) == {"walletId", "amount", "transactionNumber", "walletBalance"}


async def test_balances_up_to_the_largest_are_exact(api: Api, sql: asyncpg.Connection) -> None:
    # given: a wallet one cent below the largest balance (as a float, 1e18: cents are lost)
    wallet = await new_wallet(api, "rich")
    await sql.execute("UPDATE wallets SET balance = 999999999999999999.98 WHERE id = $1", wallet)
    # when
    response = await post(api.http, "/resupplies", {"walletId": wallet, "amount": "0.01"})
    # then
    assert response.status_code == 200
    assert '"walletBalance":999999999999999999.99}' in response.text
    assert exact(response)["walletBalance"] == Decimal("999999999999999999.99")
    # and one more cent is refused, with the limit written exactly
    refused = await post(api.http, "/resupplies", {"walletId": wallet, "amount": 0.01})
    body = assert_error(refused, 409, "BALANCE_LIMIT_EXCEEDED")
    assert body["walletId"] == wallet
    assert body["limit"] == Decimal("999999999999999999.99")
    assert await sql.fetchval("SELECT balance FROM wallets WHERE id = $1", wallet) == Decimal(
        "999999999999999999.99"
    )


async def test_the_original_worked_example(api: Api, sql: asyncpg.Connection) -> None:
    # given: the original service's examples, numbers as it sent them
    source = await new_wallet(api, "payer")
    target = await new_wallet(api, "payee")
    for _ in range(2):
        done = await post(api.http, "/resupplies", f'{{"walletId": {source}, "amount": 500.5}}')
        assert done.status_code == 200
    assert exact(done)["walletBalance"] == Decimal("1001.00")
    # when
    body = f'{{"walletFromId": {source}, "walletToId": {target}, "amount": 1000}}'
    response = await post(api.http, "/transfers", body)
    # then
    assert response.status_code == 200
    answer = exact(response)
    number = answer.pop("transactionNumber")
    assert answer == {
        "walletFromId": source,
        "walletToId": target,
        "amount": Decimal("1000.00"),
        "walletFromBalance": Decimal("1.00"),
        "walletToBalance": Decimal("1000.00"),
    }
    assert '"amount":1000.00,' in response.text
    recorded = await sql.fetchval("SELECT amount FROM transactions WHERE number = $1", number)
    assert recorded == Decimal("1000.00")
    await assert_ledger_consistent(sql)


@pytest.mark.parametrize(
    ("wallet_id", "amount"),
    [("1", "7.25"), (1, "7.25"), ("1", 7.25), (1.0, 7.25), ("1", 7.2), (1, 7)],
    ids=["strings", "id number", "amount number", "id 1.0", "amount 7.2", "integer amount"],
)
async def test_ids_and_amounts_as_numbers_or_strings(
    api: Api, wallet_id: object, amount: object
) -> None:
    # given
    await new_wallet(api, "either")
    # when
    response = await post(api.http, "/resupplies", {"walletId": wallet_id, "amount": amount})
    # then: the same operation, whatever JSON type the caller used
    assert response.status_code == 200, response.text
    body = exact(response)
    assert body["walletId"] == 1
    assert body["walletBalance"] == Decimal(str(amount)).quantize(Decimal("0.01"))


async def test_rest_and_graphql_share_the_ledger(api: Api) -> None:
    # given: money put in over REST
    source = await new_wallet(api, "mixed", "10.00")
    target = await new_wallet(api, "other")
    # when: moved over GraphQL
    moved = await api.transfer(str(source), str(target), "2.50")
    # then: both APIs see the same balances
    assert moved["walletFromBalance"] == "7.50"
    again = await post(
        api.http, "/transfers", {"walletFromId": target, "walletToId": source, "amount": "0.50"}
    )
    assert exact(again)["walletFromBalance"] == Decimal("2.00")
    assert await api.balance(str(source)) == "8.00"


# --- errors: codes, statuses, nothing changed ----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"walletId": 1, "amount": 0}', "amount"),
        ('{"walletId": 1, "amount": -1}', "amount"),
        ('{"walletId": 1, "amount": 1e3}', "amount"),
        ('{"walletId": 1, "amount": 0.001}', "amount"),
        ('{"walletId": 1, "amount": 1000000000000000.01}', "amount"),
        ('{"walletId": 1, "amount": "12,50"}', "amount"),
        ('{"walletId": 1, "amount": " 1"}', "amount"),
        ('{"walletId": 1, "amount": true}', "amount"),
        ('{"walletId": 1, "amount": null}', "amount"),
        ('{"walletId": 1, "amount": [1]}', "amount"),
        ('{"walletId": 1, "amount": ' + "9" * 5000 + "}", "amount"),
        ('{"walletId": 0, "amount": 1}', "walletId"),
        ('{"walletId": -1, "amount": 1}', "walletId"),
        ('{"walletId": 1.5, "amount": 1}', "walletId"),
        ('{"walletId": 9223372036854775808, "amount": 1}', "walletId"),
        ('{"walletId": 1e999999999, "amount": 1}', "walletId"),
        ('{"walletId": "01", "amount": 1}', "walletId"),
        ('{"walletId": true, "amount": 1}', "walletId"),
        ('{"walletId": {"id": 1}, "amount": 1}', "walletId"),
        ('{"amount": 1}', "walletId"),
        ('{"walletId": 1}', "amount"),
        ('{"walletId": 1, "amount": 1, "reference": "x"}', "reference"),
    ],
)
async def test_resupply_refuses_invalid_fields(
    api: Api, sql: asyncpg.Connection, body: str, field: str
) -> None:
    # given
    await new_wallet(api, "target")
    before = await ledger(sql)
    # when
    response = await post(api.http, "/resupplies", body)
    # then: 422 naming the field, nothing written
    assert assert_error(response, 422, "INVALID_INPUT")["field"] == field
    assert await ledger(sql) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"login": "ab", "name": "N"}, "login"),
        ({"login": "no spaces", "name": "N"}, "login"),
        ({"login": 12345, "name": "N"}, "login"),
        ({"login": "valid", "name": "   "}, "name"),
        ({"login": "valid", "name": "x" * 201}, "name"),
        ({"login": "valid", "name": "evil\u202etxt"}, "name"),
        ({"login": "valid", "name": None}, "name"),
        ({"login": "valid"}, "name"),
        ({"login": "valid", "name": "N", "id": 7}, "id"),
        ({"login": "valid", "name": "N", "x" * 100: 1}, "x" * 64 + "…"),
    ],
)
async def test_create_client_refuses_invalid_fields(
    api: Api, sql: asyncpg.Connection, body: dict[str, Any], field: str
) -> None:
    # when
    response = await post(api.http, "/clients", body)
    # then: 422 naming the field, no client
    assert assert_error(response, 422, "INVALID_INPUT")["field"] == field
    assert await ledger(sql) == (0, 0, 0, 0)


async def test_transfer_errors(api: Api, sql: asyncpg.Connection) -> None:
    # given
    source = await new_wallet(api, "source", "100.00")
    target = await new_wallet(api, "target")
    before = await ledger(sql)

    async def transfer(body: dict[str, Any]) -> httpx.Response:
        return await post(api.http, "/transfers", body)

    # when / then: more than the balance
    poor = await transfer({"walletFromId": source, "walletToId": target, "amount": 100.01})
    body = assert_error(poor, 409, "INSUFFICIENT_FUNDS")
    assert (body["walletId"], body["balance"], body["requested"]) == (
        source,
        Decimal("100.00"),
        Decimal("100.01"),
    )
    assert '"balance":100.00,"requested":100.01' in poor.text
    # an unknown wallet, on either side
    missing = await transfer({"walletFromId": source, "walletToId": 999, "amount": 1})
    assert assert_error(missing, 404, "WALLET_NOT_FOUND")["walletId"] == 999
    missing = await transfer({"walletFromId": 998, "walletToId": target, "amount": 1})
    assert assert_error(missing, 404, "WALLET_NOT_FOUND")["walletId"] == 998
    # the same wallet twice, an id as an integral number and as a string
    same = await transfer({"walletFromId": source, "walletToId": str(source), "amount": 1})
    assert assert_error(same, 422, "INVALID_INPUT")["field"] == "walletToId"
    # a field missing, a bad id
    partial = await transfer({"walletFromId": source, "amount": 1})
    assert assert_error(partial, 422, "INVALID_INPUT")["field"] == "walletToId"
    bad = await transfer({"walletFromId": "x", "walletToId": target, "amount": 1})
    assert assert_error(bad, 422, "INVALID_INPUT")["field"] == "walletFromId"
    # then: nothing changed
    assert await ledger(sql) == before
    assert await total(sql) == Decimal("100.00")


async def test_login_taken(api: Api, sql: asyncpg.Connection) -> None:
    # given
    await new_wallet(api, "taken")
    # when: the same login in another case
    response = await post(api.http, "/clients", {"login": "TAKEN", "name": "Second"})
    # then
    assert assert_error(response, 409, "LOGIN_TAKEN")["login"] == "TAKEN"
    assert await ledger(sql) == (1, 1, 0, 0)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"login": ', "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"login": "a\xc3\x28", "name": "N"}', "not UTF-8"),
        (b'{"login": "abc", "login": "abd", "name": "N"}', "appears twice"),
        (b'{"login": "abc", "name": "\\ud800"}', "surrogate"),
        (b'{"login": "abc", "name": NaN}', "not valid JSON"),
        (b'[{"login": "abc", "name": "N"}]', "JSON object"),
        (b'"abc"', "JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON"),
    ],
    ids=[
        "truncated",
        "empty",
        "bad UTF-8",
        "duplicate key",
        "surrogate",
        "NaN",
        "array",
        "string",
        "deep",
    ],
)
async def test_bodies_that_are_not_a_json_object_get_400(
    api: Api, sql: asyncpg.Connection, body: bytes, message: str
) -> None:
    # when
    response = await api.http.post("/clients", content=body, headers=JSON)
    # then: 400 saying what is wrong, nothing written
    assert message in assert_error(response, 400, "BAD_REQUEST")["message"]
    assert await ledger(sql) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
async def test_bodies_must_be_sent_as_json(
    api: Api, sql: asyncpg.Connection, content_type: str | None
) -> None:
    # given: a valid body, but not declared as JSON (a web form could send it cross-site)
    headers = {} if content_type is None else {"Content-Type": content_type}
    body = b'{"login": "formed", "name": "N"}'
    # when
    response = await api.http.post("/clients", content=body, headers=headers)
    # then
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert await ledger(sql) == (0, 0, 0, 0)
    # while the same body as JSON (with a charset) is accepted
    as_json = {"Content-Type": "application/json; charset=utf-8"}
    assert (await api.http.post("/clients", content=body, headers=as_json)).status_code == 200


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_only_post_is_allowed(app: Starlette, method: str) -> None:
    # when: another method, even from a browser asking for a page (and without a token)
    async with api_for(app, None) as anonymous:
        response = await anonymous.http.request(
            method, "/transfers", headers={"Accept": "text/html"}
        )
    # then
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "POST"


async def test_too_large_bodies_get_413_in_the_rest_shape(
    settings: Settings, sql: asyncpg.Connection
) -> None:
    # given: a service that takes bodies up to 1000 bytes
    async with custom_api(settings, max_body_bytes=1000) as (_, api):
        # when
        response = await post(api.http, "/clients", {"login": "big", "name": "x" * 2000})
        # then
        assert_error(response, 413, "REQUEST_TOO_LARGE")
        # and /graphql keeps its own error shape
        graphql = await api.http.post("/graphql", json={"query": "{ __typename }" + " " * 2000})
        assert graphql.status_code == 413
        assert graphql.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    assert await ledger(sql) == (0, 0, 0, 0)


async def test_lock_timeout_gives_503_try_again(
    settings: Settings, sql: asyncpg.Connection
) -> None:
    # given: an API that waits at most 300 ms for a lock, and another session holding the wallet
    async with custom_api(settings, statement_timeout_ms=300) as (_, api):
        wallet = await new_wallet(api, "locked")
        async with sql.transaction():
            await sql.execute("SELECT FROM wallets WHERE id = $1 FOR UPDATE", wallet)
            # when
            response = await post(api.http, "/resupplies", {"walletId": wallet, "amount": 1})
        # then: retryable, with a Retry-After, and nothing written
        assert_error(response, 503, "TRY_AGAIN")
        assert response.headers["retry-after"] == "1"
        assert await sql.fetchval("SELECT count(*) FROM transactions") == 0
        # and a retry succeeds
        retried = await post(api.http, "/resupplies", {"walletId": wallet, "amount": 1})
        assert retried.status_code == 200


async def test_unreachable_database_gives_503(tmp_path: Path) -> None:
    # given: an app whose database socket directory has no server
    settings = Settings(
        database_url=f"postgresql://postgres@/billing?host={tmp_path}",
        migrate_on_start=False,
        connect_timeout=1,
    )
    application = create_app(settings)
    async with (
        application.router.lifespan_context(application),
        api_for(application, "bk_x") as api,
    ):
        # when
        response = await post(api.http, "/clients", {"login": "nobody", "name": "N"})
    # then: not even the token can be checked; a retryable 503 in the REST shape
    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert response.headers["retry-after"] == "1"


async def test_unexpected_errors_are_masked_with_the_request_id(
    api: Api, sql: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    # given: a real fault the code does not expect (the wallets table has gone)
    await sql.execute("ALTER TABLE wallets RENAME TO wallets_gone")
    # when
    with caplog.at_level(logging.ERROR, logger="billing.errors"):
        response = await post(api.http, "/clients", {"login": "nowallet", "name": "N"})
    # then: 500 with the request id only; the log has the traceback
    request_id = response.headers["x-request-id"]
    body = assert_error(response, 500, "INTERNAL_ERROR")
    assert body["message"] == f"Internal error. Request id: {request_id}"
    assert "wallets" not in response.text
    records = [r for r in caplog.records if r.name == "billing.errors"]
    assert len(records) == 1
    assert request_id in records[0].getMessage()
    assert records[0].exc_info is not None
    assert await sql.fetchval("SELECT count(*) FROM clients") == 0


@pytest.mark.parametrize(
    ("error", "status", "extra"),
    [
        (domain.InvalidInput("amount", "m"), 422, {"field": "amount"}),
        (domain.InvalidInput("idempotencyKey", "m"), 422, {"field": "Idempotency-Key"}),
        (domain.LoginTaken("abc"), 409, {"login": "abc"}),
        (domain.WalletNotFound(7), 404, {"walletId": 7}),
        (
            domain.InsufficientFunds(7, Decimal("1.00"), Decimal("2.50"), Decimal("0.50")),
            409,
            {
                "walletId": 7,
                "balance": Decimal("1.00"),
                "requested": Decimal("2.50"),
                "available": Decimal("0.50"),
            },
        ),
        (
            domain.BalanceLimitExceeded(7, Decimal("9.99")),
            409,
            {"walletId": 7, "limit": Decimal("9.99")},
        ),
        (domain.IdempotencyKeyReused("k"), 422, {"idempotencyKey": "k"}),
        (domain.PermissionDenied("resupply"), 403, {"operation": "resupply"}),
        (domain.TryAgain(), 503, {}),
        (domain.ServiceUnavailable(), 503, {}),
        (domain.OutcomeUnknown(), 504, {}),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None,
)
def test_every_domain_error_has_its_graphql_code_and_a_status(
    error: domain.OperationError, status: int, extra: dict[str, Any]
) -> None:
    # when
    response = operation_error(error)
    # then: the code of the GraphQL type for the same failure, its fields, a status
    body = json.loads(bytes(response.body), parse_float=Decimal)
    assert response.status_code == status
    assert body == {"code": to_error(error).code.value, "message": error.message, **extra}
    assert ("retry-after" in response.headers) == (status == 503)


# --- authentication and authorization -------------------------------------------------------


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer bk_nope"]
)
@pytest.mark.parametrize("path", ["/clients", "/resupplies", "/transfers"])
async def test_requests_without_a_valid_token_get_401(
    app: Starlette, sql: asyncpg.Connection, authorization: str | None, path: str
) -> None:
    # given
    headers = {} if authorization is None else {"Authorization": authorization}
    # when
    async with api_for(app, None) as anonymous:
        response = await post(anonymous.http, path, {"login": "nobody", "name": "N"}, **headers)
    # then: refused before anything is read or written
    assert_error(response, 401, "UNAUTHENTICATED")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert await ledger(sql) == (0, 0, 0, 0)


async def test_client_tokens_may_only_pay_from_their_own_wallets(
    api: Api, app: Starlette, sql: asyncpg.Connection
) -> None:
    # given: two clients with money, and a token of the first
    mine = await new_wallet(api, "mine", "50.00")
    theirs = await new_wallet(api, "theirs", "50.00")
    client_token = await new_token(app, client_id=1)
    async with api_for(app, client_token) as client:
        # when: it pays the other client
        paid = await post(
            client.http,
            "/transfers",
            {"walletFromId": mine, "walletToId": theirs, "amount": "5.00"},
        )
        # then: done, without showing the other wallet's balance
        assert paid.status_code == 200
        body = exact(paid)
        assert body["walletFromBalance"] == Decimal("45.00")
        assert body["walletToBalance"] is None
        assert '"walletToBalance":null' in paid.text
        # when: it tries to pay from the other client's wallet; then: as if it did not exist
        stolen = await post(
            client.http, "/transfers", {"walletFromId": theirs, "walletToId": mine, "amount": 1}
        )
        assert assert_error(stolen, 404, "WALLET_NOT_FOUND")["walletId"] == theirs
        # and operators-only operations are refused
        created = await post(client.http, "/clients", {"login": "sneaky", "name": "S"})
        assert assert_error(created, 403, "PERMISSION_DENIED")["operation"] == "createClient"
        printed = await post(client.http, "/resupplies", {"walletId": mine, "amount": 1000})
        assert assert_error(printed, 403, "PERMISSION_DENIED")["operation"] == "resupply"
    assert await sql.fetchval("SELECT balance FROM wallets WHERE id = $1", mine) == Decimal("45.00")
    assert await sql.fetchval("SELECT balance FROM wallets WHERE id = $1", theirs) == Decimal(
        "55.00"
    )
    assert await sql.fetchval("SELECT count(*) FROM clients") == 2


# --- idempotency ------------------------------------------------------------------------------


async def test_a_retry_with_the_same_key_is_replayed(api: Api, sql: asyncpg.Connection) -> None:
    # given
    source = await new_wallet(api, "retry", "10.00")
    target = await new_wallet(api, "shop")
    body = {"walletFromId": source, "walletToId": target, "amount": 2.5}
    key = str(uuid.uuid4())
    # when: the same transfer twice with one key
    first = await post(api.http, "/transfers", body, **{"Idempotency-Key": key})
    second = await post(api.http, "/transfers", body, **{"Idempotency-Key": key})
    # then: performed once; the retry answers the first result, marked as a replay
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.headers["idempotent-replayed"] == "false"
    assert second.headers["idempotent-replayed"] == "true"
    assert exact(second) == exact(first)
    assert exact(first)["walletFromBalance"] == Decimal("7.50")
    assert await sql.fetchval("SELECT count(*) FROM transactions WHERE kind = 'TRANSFER'") == 1
    assert await total(sql) == Decimal("10.00")
    # and the amount written as a string is the same request
    as_text = {**body, "amount": "2.50", "walletToId": str(target)}
    third = await post(api.http, "/transfers", as_text, **{"Idempotency-Key": key})
    assert third.headers["idempotent-replayed"] == "true"


@pytest.mark.parametrize("path", ["/clients", "/resupplies"])
async def test_replays_of_create_client_and_resupply(
    api: Api, sql: asyncpg.Connection, path: str
) -> None:
    # given
    await new_wallet(api, "existing")
    body = {"login": "once", "name": "Once"} if path == "/clients" else {"walletId": 1, "amount": 3}
    # when
    responses = [await post(api.http, path, body, **{"Idempotency-Key": "k-1"}) for _ in range(3)]
    # then
    assert [r.headers["idempotent-replayed"] for r in responses] == ["false", "true", "true"]
    assert {r.text for r in responses} == {responses[0].text}
    assert await ledger(sql) == ((2, 2, 0, 1) if path == "/clients" else (1, 1, 1, 1))


async def test_a_key_reused_for_another_request_is_refused(
    api: Api, sql: asyncpg.Connection
) -> None:
    # given
    wallet = await new_wallet(api, "reuse")
    done = await post(
        api.http, "/resupplies", {"walletId": wallet, "amount": 1}, **{"Idempotency-Key": "k"}
    )
    assert done.status_code == 200
    before = await ledger(sql)
    # when: the key again with another amount, and for another operation
    other = await post(
        api.http, "/resupplies", {"walletId": wallet, "amount": 2}, **{"Idempotency-Key": "k"}
    )
    client = await post(
        api.http, "/clients", {"login": "newone", "name": "N"}, **{"Idempotency-Key": "k"}
    )
    # then
    assert assert_error(other, 422, "IDEMPOTENCY_KEY_REUSED")["idempotencyKey"] == "k"
    assert assert_error(client, 422, "IDEMPOTENCY_KEY_REUSED")["idempotencyKey"] == "k"
    assert await ledger(sql) == before


async def test_keys_are_shared_with_graphql(api: Api, sql: asyncpg.Connection) -> None:
    # given: a transfer made over REST with a key
    source = await new_wallet(api, "shared", "10.00")
    target = await new_wallet(api, "sink")
    rest = await post(
        api.http,
        "/transfers",
        {"walletFromId": source, "walletToId": target, "amount": "4.00"},
        **{"Idempotency-Key": "order-7"},
    )
    # when: the caller retries it over GraphQL with the same key
    document = TRANSFER.replace("__typename", "__typename ... on TransferSuccess { replayed }")
    variables = {
        "walletFromId": str(source),
        "walletToId": str(target),
        "amount": "4.00",
        "idempotencyKey": "order-7",
    }
    data = await api.run(document, {"input": variables})
    # then: the first result, not a second transfer
    assert data["transfer"]["replayed"] is True
    assert data["transfer"]["transactionNumber"] == rest.json()["transactionNumber"]
    assert await sql.fetchval("SELECT count(*) FROM transactions WHERE kind = 'TRANSFER'") == 1


@pytest.mark.parametrize(
    "headers",
    [
        [("Idempotency-Key", "")],
        [("Idempotency-Key", "k" * 256)],
        [("Idempotency-Key", "a"), ("Idempotency-Key", "b")],
    ],
    ids=["empty", "too long", "twice"],
)
async def test_malformed_keys_are_invalid(
    api: Api, sql: asyncpg.Connection, headers: list[tuple[str, str]]
) -> None:
    # given
    await new_wallet(api, "keyed")
    before = await ledger(sql)
    # when
    response = await api.http.post(
        "/resupplies", content=b'{"walletId": 1, "amount": 1}', headers=[*JSON.items(), *headers]
    )
    # then
    assert assert_error(response, 422, "INVALID_INPUT")["field"] == "Idempotency-Key"
    assert await ledger(sql) == before


# --- concurrency -----------------------------------------------------------------------------


async def test_concurrent_opposite_transfers_conserve_money(
    api: Api, app: Starlette, sql: asyncpg.Connection
) -> None:
    # given: two wallets, 16 workers, half sending A->B and half B->A at the same time
    a = await new_wallet(api, "alpha", "500.00")
    b = await new_wallet(api, "beta", "500.00")
    statuses: list[int] = []

    async def worker(source: int, target: int, seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(25):
            amount = f"{rng.randint(1, 9000) / 100:.2f}"
            body = f'{{"walletFromId": {source}, "walletToId": {target}, "amount": {amount}}}'
            response = await post(api.http, "/transfers", body)
            statuses.append(response.status_code)
            if response.status_code == 409:
                assert response.json()["code"] == "INSUFFICIENT_FUNDS"

    # when
    await asyncio.gather(*(worker(a, b, i) if i % 2 else worker(b, a, i) for i in range(16)))
    # then: successes and insufficient funds only, never a 5xx; not a cent created or lost
    assert set(statuses) <= {200, 409}, set(statuses)
    assert statuses.count(200) > len(statuses) // 2
    assert await total(sql) == Decimal("1000.00")
    await assert_ledger_consistent(sql)
    assert app.state.db.counters.try_again == 0


# --- the OpenAPI description -----------------------------------------------------------------


async def test_openapi_description_is_served_and_valid(app: Starlette) -> None:
    # when: fetched without a token, like the GraphQL schema
    async with api_for(app, None) as anonymous:
        response = await anonymous.http.get("/openapi.json")
    # then: a valid OpenAPI 3.1 document describing the three operations
    assert response.status_code == 200
    spec = json.loads(response.text, parse_float=Decimal)
    validate(spec)
    assert spec["openapi"].startswith("3.1")
    assert {path: list(ops) for path, ops in spec["paths"].items()} == {
        "/clients": ["post"],
        "/resupplies": ["post"],
        "/transfers": ["post"],
    }
    # money in examples is written exactly
    assert '"amount":500.50' in response.text


def test_openapi_json_is_committed_and_current() -> None:
    committed = (ROOT / "openapi.json").read_text(encoding="utf-8")
    assert committed == render(), "stale: run `billing export-openapi -o openapi.json`"
    # and it is the document the service serves
    assert json.loads(committed, parse_float=Decimal) == json.loads(
        dumps(document()), parse_float=Decimal
    )


async def test_openapi_description_follows_the_introspection_setting(settings: Settings) -> None:
    # given: a service with introspection off; when / then: no description, working endpoints
    async with custom_api(settings, introspection=False) as (_, api):
        assert (await api.http.get("/openapi.json")).status_code == 404
        # while the endpoints themselves keep working
        assert (
            await post(api.http, "/clients", {"login": "still", "name": "S"})
        ).status_code == 200
