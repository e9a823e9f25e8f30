"""Idempotency keys: a retried request moves money at most once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from support.api import Api
from support.documents import CREATE_CLIENT, RESUPPLY, TRANSFER


@pytest.fixture
def pool_size() -> int:
    return 20


async def resupply(
    api: Api, wallet: str, amount: str, key: str | None, **extra: Any
) -> dict[str, Any]:
    data = await api.run(
        RESUPPLY.replace("__typename", "__typename ... on ResupplySuccess { replayed }"),
        {"input": {"walletId": wallet, "amount": amount, "idempotencyKey": key, **extra}},
    )
    result: dict[str, Any] = data["resupply"]
    return result


async def transfer(api: Api, source: str, target: str, amount: str, key: str) -> dict[str, Any]:
    data = await api.run(
        TRANSFER.replace("__typename", "__typename ... on TransferSuccess { replayed }"),
        {
            "input": {
                "walletFromId": source,
                "walletToId": target,
                "amount": amount,
                "idempotencyKey": key,
            }
        },
    )
    result: dict[str, Any] = data["transfer"]
    return result


async def count(sql: asyncpg.Connection, table: str) -> int:
    value = await sql.fetchval(f"SELECT count(*) FROM {table}")
    assert isinstance(value, int)
    return value


async def test_repeated_resupply_is_replayed_with_the_original_result(
    api: Api, sql: asyncpg.Connection
) -> None:
    # given
    _, wallet = await api.create_client("replayer")
    key = str(uuid.uuid4())
    first = await resupply(api, wallet, "10.00", key)
    await api.resupply(wallet, "5.00")  # the balance moves on in between
    # when
    again = await resupply(api, wallet, "10.00", key)
    # then: the same transaction and the balance as it was right after it, flagged as replayed
    assert first["replayed"] is False
    assert again["replayed"] is True
    assert again["transactionNumber"] == first["transactionNumber"]
    assert again["walletBalance"] == first["walletBalance"] == "10.00"
    assert again["wallet"] == {"id": wallet, "balance": "10.00"}
    assert await api.balance(wallet) == "15.00"
    assert await count(sql, "transactions") == 2


async def test_repeated_transfer_is_replayed(api: Api, sql: asyncpg.Connection) -> None:
    # given
    _, source = await api.create_client("payer")
    _, target = await api.create_client("payee")
    await api.resupply(source, "100")
    first = await transfer(api, source, target, "30", "order-17")
    # when
    again = await transfer(api, source, target, "30", "order-17")
    # then
    assert again["replayed"] is True
    for field in ("transactionNumber", "walletFromBalance", "walletToBalance", "amount"):
        assert again[field] == first[field]
    assert (again["walletFromBalance"], again["walletToBalance"]) == ("70.00", "30.00")
    assert await api.balance(source) == "70.00"
    assert await count(sql, "transactions") == 2


async def test_repeated_create_client_is_replayed(api: Api, sql: asyncpg.Connection) -> None:
    # given
    variables = {"input": {"login": "once", "name": "Once", "idempotencyKey": "signup-1"}}
    document = CREATE_CLIENT.replace(
        "__typename", "__typename ... on CreateClientSuccess { replayed }"
    )
    first = (await api.run(document, variables))["createClient"]
    # when: the retry would otherwise fail with LoginTaken
    again = (await api.run(document, variables))["createClient"]
    # then
    assert again["__typename"] == "CreateClientSuccess"
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert again["client"] == first["client"]
    assert again["wallet"] == first["wallet"]
    assert await count(sql, "clients") == 1


@pytest.mark.parametrize(
    "change",
    [{"amount": "10.01"}, {"reference": "other"}, {"walletId": "second"}],
)
async def test_same_key_with_different_parameters_is_refused(
    api: Api, sql: asyncpg.Connection, change: dict[str, str]
) -> None:
    # given
    _, wallet = await api.create_client("strict")
    _, second = await api.create_client("second")
    await resupply(api, wallet, "10.00", "k-1", reference="first")
    before = await count(sql, "transactions")
    params = {"walletId": wallet, "amount": "10.00", "reference": "first", **change}
    if params["walletId"] == "second":
        params["walletId"] = second
    # when
    data = await api.run(
        RESUPPLY.replace("__typename", "__typename ... on IdempotencyKeyReused { idempotencyKey }"),
        {"input": {**params, "idempotencyKey": "k-1"}},
    )
    # then
    result = data["resupply"]
    assert result["__typename"] == "IdempotencyKeyReused"
    assert result["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert result["idempotencyKey"] == "k-1"
    assert await count(sql, "transactions") == before
    assert await api.balance(wallet) == "10.00"


async def test_key_used_for_another_operation_is_refused(api: Api) -> None:
    # given
    _, source = await api.create_client("mixer")
    _, target = await api.create_client("mixed")
    await resupply(api, source, "10.00", "shared-key")
    # when
    result = await transfer(api, source, target, "10.00", "shared-key")
    # then
    assert result["__typename"] == "IdempotencyKeyReused"


async def test_typed_failures_are_not_recorded_so_a_retry_is_evaluated_afresh(
    api: Api, sql: asyncpg.Connection
) -> None:
    # given: a transfer that fails for lack of funds
    _, source = await api.create_client("broke")
    _, target = await api.create_client("waiting")
    failed = await transfer(api, source, target, "50", "pay-1")
    assert failed["__typename"] == "InsufficientFunds"
    assert await count(sql, "idempotency_keys") == 0
    # when: the wallet is funded and the same request is retried with the same key
    await api.resupply(source, "50")
    retried = await transfer(api, source, target, "50", "pay-1")
    # then: it executes now, once
    assert retried["__typename"] == "TransferSuccess"
    assert retried["replayed"] is False
    assert await api.balance(target) == "50.00"


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "new\nline", "nul\x00"])
async def test_malformed_keys_are_invalid_input(
    api: Api, sql: asyncpg.Connection, key: str
) -> None:
    _, wallet = await api.create_client("badkey")
    result = await resupply(api, wallet, "1.00", key)
    assert result["__typename"] == "InvalidInput"
    assert result["field"] == "idempotencyKey"
    assert await count(sql, "transactions") == 0


async def test_fifty_concurrent_requests_with_one_key_move_money_once(
    api: Api, sql: asyncpg.Connection
) -> None:
    # given
    _, source = await api.create_client("burst")
    _, target = await api.create_client("sink")
    await api.resupply(source, "100.00")
    # when: fifty identical requests at the same moment
    results = await asyncio.gather(
        *(transfer(api, source, target, "1.00", "one-click") for _ in range(50))
    )
    # then: one executed, the other 49 were answered with its result
    assert {r["__typename"] for r in results} == {"TransferSuccess"}
    assert sum(not r["replayed"] for r in results) == 1
    assert {r["transactionNumber"] for r in results} == {results[0]["transactionNumber"]}
    assert {(r["walletFromBalance"], r["walletToBalance"]) for r in results} == {("99.00", "1.00")}
    assert await api.balance(source) == "99.00"
    assert await count(sql, "transactions") == 2  # the funding resupply and this transfer


async def test_key_and_operation_are_committed_together(api: Api, sql: asyncpg.Connection) -> None:
    # given
    _, wallet = await api.create_client("atomic")
    # when
    result = await resupply(api, wallet, "3.00", "atomic-1")
    # then: the key row points at exactly the transaction that was created
    row = await sql.fetchrow(
        "SELECT t.number::text AS number FROM idempotency_keys k"
        " JOIN transactions t ON t.id = k.transaction_id WHERE k.key = 'atomic-1'"
    )
    assert row is not None
    assert row["number"] == result["transactionNumber"]


async def test_create_client_key_reused_for_another_client_is_refused(
    api: Api, sql: asyncpg.Connection
) -> None:
    document = CREATE_CLIENT.replace(
        "__typename", "__typename ... on IdempotencyKeyReused { idempotencyKey }"
    )
    await api.run(document, {"input": {"login": "first", "name": "F", "idempotencyKey": "s-1"}})
    data = await api.run(
        document, {"input": {"login": "second", "name": "S", "idempotencyKey": "s-1"}}
    )
    assert data["createClient"]["__typename"] == "IdempotencyKeyReused"
    assert await count(sql, "clients") == 1
