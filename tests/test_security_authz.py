"""Authorization: a client token sees and moves only its own client's things.

Every field that takes an id is tried with another client's ids: each answers exactly as for an
id that does not exist, and the ledger does not change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from starlette.applications import Starlette

from support.api import Api, api_for, new_token
from support.documents import CREATE_CLIENT, RESUPPLY, TRANSFER

MISSING_WALLET = "999999"


@dataclass
class World:
    alice: Api  # a client token of Alice's
    operator: Api
    alice_client: str
    alice_wallet: str
    bob_client: str
    bob_wallet: str
    bob_transaction: str  # a resupply of Bob's wallet


@pytest.fixture
async def world(app: Starlette, api: Api) -> AsyncIterator[World]:
    alice_client, alice_wallet = await api.create_client("alice")
    bob_client, bob_wallet = await api.create_client("bob")
    await api.resupply(alice_wallet, "100.00")
    bob_transaction = (await api.resupply(bob_wallet, "50.00"))["transactionNumber"]
    async with api_for(app, await new_token(app, int(alice_client))) as alice:
        yield World(alice, api, alice_client, alice_wallet, bob_client, bob_wallet, bob_transaction)


async def ledger(sql: asyncpg.Connection) -> list[Any]:
    return [
        tuple(r)
        for r in await sql.fetch(
            "SELECT (SELECT json_agg(w ORDER BY id) FROM wallets w),"
            " (SELECT count(*) FROM transactions), (SELECT count(*) FROM wallet_operations),"
            " (SELECT count(*) FROM clients)"
        )
    ]


# Each case: a document and variables using one of Bob's ids, and what a missing id answers.
QUERY_CASES = {
    "client(id)": ("query($id: ID!) { client(id: $id) { id login } }", "bob_client", "client"),
    "wallet(id)": ("query($id: ID!) { wallet(id: $id) { id balance } }", "bob_wallet", "wallet"),
    "wallet(id).operations": (
        "query($id: ID!) { wallet(id: $id) { operations { edges { node { id } } } } }",
        "bob_wallet",
        "wallet",
    ),
    "wallet(id).balanceAt": (
        'query($id: ID!) { wallet(id: $id) { balanceAt(time: "2100-01-01T00:00:00Z") } }',
        "bob_wallet",
        "wallet",
    ),
    "transaction(number)": (
        "query($id: UUID!) { transaction(number: $id) { number amount legs { amount } } }",
        "bob_transaction",
        "transaction",
    ),
}


@pytest.mark.parametrize("case", sorted(QUERY_CASES))
async def test_queries_for_another_clients_objects_answer_null(
    world: World, sql: asyncpg.Connection, case: str
) -> None:
    document, which, field = QUERY_CASES[case]
    before = await ledger(sql)
    # when
    data = await world.alice.run(document, {"id": getattr(world, which)})
    # then: null, exactly as for something that does not exist
    assert data == {field: None}
    assert await ledger(sql) == before


async def test_transfer_from_another_clients_wallet_is_wallet_not_found(
    world: World, sql: asyncpg.Connection
) -> None:
    before = await ledger(sql)
    # when: from Bob's wallet, and from a wallet that does not exist
    foreign = await world.alice.transfer(world.bob_wallet, world.alice_wallet, "1.00")
    missing = await world.alice.transfer(MISSING_WALLET, world.alice_wallet, "1.00")
    # then: the same answer, nothing moved
    assert foreign["__typename"] == missing["__typename"] == "WalletNotFound"
    assert foreign["message"].replace(world.bob_wallet, "N") == missing["message"].replace(
        MISSING_WALLET, "N"
    )
    assert await ledger(sql) == before
    # and an amount Bob's wallet could not cover gives the same answer (no balance probing)
    huge = await world.alice.transfer(world.bob_wallet, world.alice_wallet, "1000000.00")
    assert huge["__typename"] == "WalletNotFound"


async def test_client_tokens_may_not_resupply_or_create_clients(
    world: World, sql: asyncpg.Connection
) -> None:
    before = await ledger(sql)
    for document, variables, field in (
        (RESUPPLY, {"input": {"walletId": world.alice_wallet, "amount": "5"}}, "resupply"),
        (RESUPPLY, {"input": {"walletId": world.bob_wallet, "amount": "5"}}, "resupply"),
        (CREATE_CLIENT, {"input": {"login": "mallory", "name": "M"}}, "createClient"),
    ):
        data = await world.alice.run(document, variables)
        assert data[field]["__typename"] == "PermissionDenied"
        assert data[field]["code"] == "PERMISSION_DENIED"
    assert await ledger(sql) == before


async def test_transfer_to_another_client_works_without_revealing_the_recipient(
    world: World,
) -> None:
    # when: Alice pays Bob
    data = await world.alice.run(
        TRANSFER.replace("walletTo { id balance }", "walletTo { id balance client { login } }"),
        {
            "input": {
                "walletFromId": world.alice_wallet,
                "walletToId": world.bob_wallet,
                "amount": "10.00",
            }
        },
    )
    # then: her side is shown, Bob's balance and wallet are not
    result = data["transfer"]
    assert result["__typename"] == "TransferSuccess"
    assert result["walletFromBalance"] == "90.00"
    assert result["walletToId"] == world.bob_wallet
    assert result["walletToBalance"] is None
    assert result["walletTo"] is None
    # and the operator sees that Bob received it
    assert await world.operator.balance(world.bob_wallet) == "60.00"


async def test_own_history_shows_counterparty_id_but_not_its_wallet(world: World) -> None:
    await world.alice.transfer(world.alice_wallet, world.bob_wallet, "10.00")
    data = await world.alice.run(
        "query($id: ID!) { wallet(id: $id) { operations(first: 1) { edges { node {"
        " kind counterpartyWalletId counterpartyWallet { balance } } } } } }",
        {"id": world.alice_wallet},
    )
    node = data["wallet"]["operations"]["edges"][0]["node"]
    assert node == {
        "kind": "TRANSFER_OUT",
        "counterpartyWalletId": world.bob_wallet,
        "counterpartyWallet": None,
    }


async def test_own_transaction_lists_only_own_legs(world: World) -> None:
    number = (await world.alice.transfer(world.alice_wallet, world.bob_wallet, "10.00"))[
        "transactionNumber"
    ]
    data = await world.alice.run(
        "query($n: UUID!) { transaction(number: $n) { amount legs { amount balanceAfter } } }",
        {"n": number},
    )
    assert data["transaction"] == {
        "amount": "10.00",
        "legs": [{"amount": "-10.00", "balanceAfter": "90.00"}],
    }


async def test_client_token_reads_its_own_client_and_wallets(world: World) -> None:
    data = await world.alice.run(
        "query($c: ID!, $w: ID!) { client(id: $c) { login wallets { id balance } }"
        " wallet(id: $w) { balance client { login } } }",
        {"c": world.alice_client, "w": world.alice_wallet},
    )
    assert data == {
        "client": {"login": "alice", "wallets": [{"id": world.alice_wallet, "balance": "100.00"}]},
        "wallet": {"balance": "100.00", "client": {"login": "alice"}},
    }


async def test_idempotency_keys_are_scoped_per_caller(world: World, app: Starlette) -> None:
    # given: Alice used a key
    variables = {
        "input": {
            "walletFromId": world.alice_wallet,
            "walletToId": world.bob_wallet,
            "amount": "1.00",
            "idempotencyKey": "shared-key",
        }
    }
    first = (await world.alice.run(TRANSFER, variables))["transfer"]
    # when: an operator sends the same key with the same input
    second = (await world.operator.run(TRANSFER, variables))["transfer"]
    # then: it executes on its own (no replay of Alice's result, no reuse error)
    assert first["__typename"] == second["__typename"] == "TransferSuccess"
    assert second["transactionNumber"] != first["transactionNumber"]
    assert await world.operator.balance(world.alice_wallet) == "98.00"
    # and Alice's other token shares her scope (keys are per client)
    async with api_for(app, await new_token(app, int(world.alice_client))) as again:
        replay = (await again.run(TRANSFER, variables))["transfer"]
    assert replay["transactionNumber"] == first["transactionNumber"]


async def test_many_wallets_and_ledger_summary_for_a_client(world: World) -> None:
    data = await world.alice.run(
        "query($ids: [ID!]!) { wallets(ids: $ids) { id } ledgerSummary { totalBalance } }",
        {"ids": [world.alice_wallet, world.bob_wallet]},
    )
    assert data == {"wallets": [{"id": world.alice_wallet}, None], "ledgerSummary": None}
