"""Authorization of the ledger-depth operations (issue 14): a client token moves money only from
its own wallets, refunds only what they received, never resupplies, withdraws, captures, voids
or adds currencies, and another client's holds and transactions look exactly like missing ones.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from starlette.applications import Starlette

from support.api import Api, api_for, new_token
from support.ledger_depth import (
    HOLD_QUERY,
    TRANSACTION,
    capture,
    create_client,
    create_currency,
    create_wallet,
    get_hold,
    hold,
    hold_id,
    legs,
    money,
    refund,
    resupply,
    snapshot,
    split,
    transfer,
    void,
    withdraw,
)

MISSING_HOLD = "999999"
MISSING_WALLET = "999999"


@dataclass
class World:
    alice: Api  # a client token of Alice's
    operator: Api
    alice_client: str
    alice_wallet: str  # 100.00 (then 95.00 after paying Bob, 105.00 after Bob paid her)
    bob_client: str
    bob_wallet: str
    carol_wallet: str
    bob_hold: str  # Bob -> Carol, pending
    bob_paid_carol: str  # a transfer that does not touch Alice
    bob_paid_alice: str  # a transfer Alice received
    alice_paid_bob: str  # a transfer Alice paid


@pytest.fixture
async def world(app: Starlette, api: Api) -> AsyncIterator[World]:
    alice_client, alice_wallet = await create_client(api, "alice")
    bob_client, bob_wallet = await create_client(api, "bob")
    _, carol_wallet = await create_client(api, "carol")
    await resupply(api, alice_wallet, "100.00")
    await resupply(api, bob_wallet, "50.00")
    bob_hold = await hold_id(api, bob_wallet, carol_wallet, "10.00")
    bob_paid_carol = (await transfer(api, bob_wallet, carol_wallet, "5.00"))["transactionNumber"]
    bob_paid_alice = (await transfer(api, bob_wallet, alice_wallet, "10.00"))["transactionNumber"]
    alice_paid_bob = (await transfer(api, alice_wallet, bob_wallet, "5.00"))["transactionNumber"]
    async with api_for(app, await new_token(app, int(alice_client))) as alice:
        yield World(
            alice,
            api,
            alice_client,
            alice_wallet,
            bob_client,
            bob_wallet,
            carol_wallet,
            bob_hold,
            bob_paid_carol,
            bob_paid_alice,
            alice_paid_bob,
        )


def same_message(a: dict[str, Any], b: dict[str, Any], a_id: str, b_id: str) -> bool:
    message_a: str = a["message"]
    message_b: str = b["message"]
    return message_a.replace(a_id, "N") == message_b.replace(b_id, "N")


# --- holds ------------------------------------------------------------------------------------


async def test_another_clients_hold_reads_as_missing(world: World, sql: asyncpg.Connection) -> None:
    before = await snapshot(sql)
    assert await get_hold(world.alice, world.bob_hold) is None
    assert await get_hold(world.alice, MISSING_HOLD) is None
    data = await world.alice.run(
        "query($id: ID!) { wallet(id: $id) { holds { id } } }", {"id": world.bob_wallet}
    )
    assert data == {"wallet": None}
    assert await snapshot(sql) == before
    # while the operator sees it
    seen = await get_hold(world.operator, world.bob_hold)
    assert seen is not None
    assert seen["status"] == "PENDING"


@pytest.mark.parametrize("which", ["own", "bob", "missing"])
@pytest.mark.parametrize("mutation", ["capture", "void"])
async def test_client_tokens_never_capture_or_void(
    world: World, sql: asyncpg.Connection, which: str, mutation: str
) -> None:
    own = await hold_id(world.alice, world.alice_wallet, world.bob_wallet, "1.00")
    target = {"own": own, "bob": world.bob_hold, "missing": MISSING_HOLD}[which]
    before = await snapshot(sql)
    # when
    result = await (
        capture(world.alice, target) if mutation == "capture" else void(world.alice, target)
    )
    # then: refused the same way whatever the hold, and nothing changed
    assert result["__typename"] == "PermissionDenied", result
    assert result["code"] == "PERMISSION_DENIED"
    assert await snapshot(sql) == before
    for hold_number in (own, world.bob_hold):
        read = await get_hold(world.operator, hold_number)
        assert read is not None
        assert read["status"] == "PENDING"


async def test_a_client_holds_from_its_own_wallet_only(
    world: World, sql: asyncpg.Connection
) -> None:
    before = await snapshot(sql)
    # when: from Bob's wallet, and from a missing one
    foreign = await hold(world.alice, world.bob_wallet, world.alice_wallet, "1.00")
    missing = await hold(world.alice, MISSING_WALLET, world.alice_wallet, "1.00")
    huge = await hold(world.alice, world.bob_wallet, world.alice_wallet, "1000000.00")
    dry = await hold(world.alice, world.bob_wallet, world.alice_wallet, "1.00", dryRun=True)
    # then
    for result in (foreign, missing, huge, dry):
        assert result["__typename"] == "WalletNotFound", result
    assert same_message(foreign, missing, world.bob_wallet, MISSING_WALLET)
    assert await snapshot(sql) == before
    # and from her own wallet, to Bob's, it works and shows her side only
    own = await hold(world.alice, world.alice_wallet, world.bob_wallet, "1.00")
    assert own["__typename"] == "HoldTransferSuccess", own
    assert own["walletFrom"]["held"] == "1.00"
    read = await world.alice.run(HOLD_QUERY, {"id": own["hold"]["id"]})
    assert read["hold"]["walletFrom"] == {"id": world.alice_wallet}
    assert read["hold"]["walletToId"] == world.bob_wallet
    assert read["hold"]["walletTo"] is None


# --- refunds ----------------------------------------------------------------------------------


async def test_a_client_refunds_only_what_its_wallets_received(
    world: World, sql: asyncpg.Connection
) -> None:
    before = await snapshot(sql)
    missing = str(uuid.uuid4())
    # when: Bob's payment to Carol, Alice's own payment to Bob, and a number nobody has
    results = {
        "bob_paid_carol": await refund(world.alice, world.bob_paid_carol),
        "alice_paid_bob": await refund(world.alice, world.alice_paid_bob),
        "dry": await refund(world.alice, world.bob_paid_carol, "1.00", dryRun=True),
        "missing": await refund(world.alice, missing),
    }
    # then: each looks missing, and nothing changed
    for name, result in results.items():
        assert result["__typename"] == "TransactionNotFound", (name, result)
    assert results["bob_paid_carol"]["number"] == world.bob_paid_carol
    assert same_message(
        results["bob_paid_carol"], results["missing"], world.bob_paid_carol, missing
    )
    assert await snapshot(sql) == before
    # and what Bob paid her, she can give back
    back = await refund(world.alice, world.bob_paid_alice, "4.00")
    assert back["__typename"] == "RefundSuccess", back
    assert back["remaining"] == "6.00"
    assert await money(world.alice, world.alice_wallet) == ("101.00", "0.00", "101.00")
    assert await money(world.operator, world.bob_wallet) == ("44.00", "10.00", "34.00")


# --- transactions -----------------------------------------------------------------------------

TRANSACTIONS = """
query($filter: TransactionFilter) {
  transactions(filter: $filter, first: 100) { edges { node { number kind } } }
}
"""


async def test_a_client_lists_only_transactions_touching_its_wallets(
    world: World, sql: asyncpg.Connection
) -> None:
    # when
    data = await world.alice.run(TRANSACTIONS, {"filter": None})
    # then: her resupply and the two transfers with Bob, newest first
    numbers = [edge["node"]["number"] for edge in data["transactions"]["edges"]]
    resupplied = await sql.fetchval(
        "SELECT t.number::text FROM transactions t JOIN wallet_operations o"
        " ON o.transaction_id = t.id WHERE t.kind = 'RESUPPLY' AND o.wallet_id = $1",
        int(world.alice_wallet),
    )
    assert numbers == [world.alice_paid_bob, world.bob_paid_alice, resupplied]
    # and filters do not widen it
    for filter_ in ({"kind": "HOLD"}, {"kind": "TRANSFER"}, {"reference": None}):
        data = await world.alice.run(TRANSACTIONS, {"filter": filter_})
        listed = {edge["node"]["number"] for edge in data["transactions"]["edges"]}
        assert listed <= set(numbers), filter_
        assert world.bob_paid_carol not in listed
    # while the operator sees all of them
    data = await world.operator.run(TRANSACTIONS, {"filter": None})
    total = await sql.fetchval("SELECT count(*) FROM transactions")
    assert len(data["transactions"]["edges"]) == total


async def test_a_client_sees_its_own_holds_transactions_not_others(
    world: World, sql: asyncpg.Connection
) -> None:
    # given: Alice holds money for Bob (Bob's hold for Carol is already there)
    own = await hold(world.alice, world.alice_wallet, world.bob_wallet, "2.00")
    mine = await get_hold(world.alice, own["hold"]["id"])
    assert mine is not None
    own_number = mine["transactions"][0]["number"]
    bobs = await get_hold(world.operator, world.bob_hold)
    assert bobs is not None
    bobs_number = bobs["transactions"][0]["number"]
    # when
    data = await world.alice.run(TRANSACTIONS, {"filter": {"kind": "HOLD"}})
    # then
    assert [edge["node"]["number"] for edge in data["transactions"]["edges"]] == [own_number]
    assert (await world.alice.run(TRANSACTION, {"n": own_number}))["transaction"]["kind"] == (
        "HOLD"
    )
    assert (await world.alice.run(TRANSACTION, {"n": bobs_number})) == {"transaction": None}


async def test_another_clients_transactions_read_as_missing(world: World) -> None:
    held = await get_hold(world.operator, world.bob_hold)
    assert held is not None
    hold_number = held["transactions"][0]["number"]
    for number in (world.bob_paid_carol, hold_number, str(uuid.uuid4())):
        data = await world.alice.run(TRANSACTION, {"n": number})
        assert data == {"transaction": None}


async def test_own_transaction_does_not_link_to_anothers_refunds(world: World) -> None:
    # Carol gives Bob back part of what he paid her: Alice never sees that refund.
    carol_refund = await refund(world.operator, world.bob_paid_carol, "1.00")
    assert carol_refund["__typename"] == "RefundSuccess", carol_refund
    data = await world.alice.run(TRANSACTION, {"n": carol_refund["transactionNumber"]})
    assert data == {"transaction": None}


# --- operator-only mutations ------------------------------------------------------------------


async def test_client_tokens_may_not_resupply_withdraw_or_add_currencies(
    world: World, sql: asyncpg.Connection
) -> None:
    before = await snapshot(sql)
    results = {
        "resupply own": await resupply(world.alice, world.alice_wallet, "5.00"),
        "resupply dry": await resupply(world.alice, world.alice_wallet, "5.00", dryRun=True),
        "withdraw own": await withdraw(world.alice, world.alice_wallet, "5.00"),
        "withdraw bob": await withdraw(world.alice, world.bob_wallet, "5.00"),
        "withdraw dry": await withdraw(world.alice, world.alice_wallet, "5.00", dryRun=True),
        "createCurrency": await create_currency(world.alice, "ALICE", 2, "Alice dollars"),
    }
    for name, result in results.items():
        assert result["__typename"] == "PermissionDenied", (name, result)
        assert result["code"] == "PERMISSION_DENIED"
    assert await snapshot(sql) == before


async def test_create_wallet_for_another_client_is_client_not_found(
    world: World, sql: asyncpg.Connection
) -> None:
    before = await snapshot(sql)
    foreign = await create_wallet(world.alice, world.bob_client, "USD")
    missing = await create_wallet(world.alice, "999999", "USD")
    assert (foreign["__typename"], foreign["clientId"]) == ("ClientNotFound", world.bob_client)
    assert (missing["__typename"], missing["clientId"]) == ("ClientNotFound", "999999")
    assert same_message(foreign, missing, world.bob_client, "999999")
    assert await snapshot(sql) == before
    own = await create_wallet(world.alice, world.alice_client, "EUR")
    assert own["__typename"] == "CreateWalletSuccess", own


# --- splits -----------------------------------------------------------------------------------


async def test_a_client_splits_from_its_own_wallet_only(
    world: World, sql: asyncpg.Connection
) -> None:
    before = await snapshot(sql)
    foreign = await split(world.alice, world.bob_wallet, legs((world.alice_wallet, "1.00")))
    missing = await split(world.alice, MISSING_WALLET, legs((world.alice_wallet, "1.00")))
    assert foreign["__typename"] == missing["__typename"] == "WalletNotFound"
    assert same_message(foreign, missing, world.bob_wallet, MISSING_WALLET)
    assert await snapshot(sql) == before
    # when: she pays Bob and Carol
    paid = await split(
        world.alice, world.alice_wallet, legs((world.bob_wallet, "1.00"), (world.carol_wallet, "2"))
    )
    # then: her side only; the recipients' wallets are not shown
    assert paid["__typename"] == "SplitTransferSuccess", paid
    assert paid["walletFromBalance"] == "102.00"
    assert [(leg["walletToId"], leg["walletTo"]) for leg in paid["legs"]] == [
        (world.bob_wallet, None),
        (world.carol_wallet, None),
    ]
