"""Refunds, split payments, payouts, metadata, the transactions query, dry runs and replays of
the new mutations (issue 14)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import pytest
from starlette.applications import Starlette

from support.api import Api
from support.ledger_depth import (
    assert_sound,
    capture,
    create_client,
    currency_totals,
    get_transaction,
    hold,
    hold_id,
    legs,
    money,
    refund,
    resupply,
    snapshot,
    split,
    transfer,
    withdraw,
)


@pytest.fixture
def pool_size() -> int:
    return 20


@dataclass
class Shop:
    buyer: str  # USD, 100.00
    seller: str  # USD, empty
    fee: str  # USD, empty
    other: str  # USD, empty


@pytest.fixture
async def shop(api: Api) -> Shop:
    ids = [(await create_client(api, name))[1] for name in ("buyer", "seller", "fee", "other")]
    assert (await resupply(api, ids[0], "100.00"))["__typename"] == "ResupplySuccess"
    return Shop(*ids)


async def legs_of(sql: asyncpg.Connection, number: str) -> list[tuple[int, str]]:
    """(wallet id, signed amount) of each operation of a transaction, in the order written."""
    rows = await sql.fetch(
        "SELECT o.wallet_id, o.amount::text AS amount FROM wallet_operations o"
        " JOIN transactions t ON t.id = o.transaction_id WHERE t.number = $1 ORDER BY o.id",
        uuid.UUID(number),
    )
    return [(r["wallet_id"], r["amount"]) for r in rows]


def signed(pairs: list[tuple[int, str]]) -> list[tuple[int, str]]:
    return sorted(pairs)


# --- refunds ----------------------------------------------------------------------------------


async def test_refund_of_a_transfer_in_full(
    api: Api, app: Starlette, sql: asyncpg.Connection, shop: Shop
) -> None:
    paid = await transfer(api, shop.buyer, shop.seller, "50.00")
    number = paid["transactionNumber"]
    # when: without an amount
    result = await refund(api, number, reference="rma-1", metadata={"reason": "damaged"})
    # then
    assert result["__typename"] == "RefundSuccess", result
    assert result["refundOf"] == number
    assert (result["amount"], result["remaining"]) == ("50.00", "0.00")
    assert (result["dryRun"], result["replayed"]) == (False, False)
    assert result["walletFrom"]["id"] == shop.buyer
    assert result["walletFrom"]["balance"] == "100.00"
    made = await get_transaction(api, result["transactionNumber"])
    assert made is not None
    assert (made["number"], made["kind"], made["amount"], made["currency"]) == (
        result["transactionNumber"],
        "REFUND",
        "50.00",
        "USD",
    )
    assert (made["reference"], made["metadata"]) == ("rma-1", {"reason": "damaged"})
    assert sorted((leg["wallet"]["id"], leg["amount"], leg["kind"]) for leg in made["legs"]) == [
        (shop.buyer, "50.00", "REFUND_IN"),
        (shop.seller, "-50.00", "REFUND_OUT"),
    ]
    assert await money(api, shop.buyer) == ("100.00", "0.00", "100.00")
    assert await money(api, shop.seller) == ("0.00", "0.00", "0.00")
    # and the two transactions are linked both ways
    original = await get_transaction(api, number)
    assert original is not None
    assert original["refundable"] == "0.00"
    assert original["refunds"] == [
        {"number": result["transactionNumber"], "kind": "REFUND", "amount": "50.00"}
    ]
    assert original["refundOf"] is None
    back = await get_transaction(api, result["transactionNumber"])
    assert back is not None
    assert back["refundOf"] == {"number": number, "kind": "TRANSFER"}
    assert back["refunds"] == []
    # and nothing more can be refunded
    more = await refund(api, number, "0.01")
    assert more["__typename"] == "RefundExceedsRemaining", more
    assert (more["number"], more["remaining"], more["requested"]) == (
        number,
        "0.00",
        "0.01",
    )
    await assert_sound(app, sql)


async def test_partial_refunds_up_to_what_remains(
    api: Api, app: Starlette, sql: asyncpg.Connection, shop: Shop
) -> None:
    number = (await transfer(api, shop.buyer, shop.seller, "50.00"))["transactionNumber"]
    # when
    first = await refund(api, number, "20.00")
    before = await snapshot(sql)
    too_much = await refund(api, number, "30.01")
    after_refusal = await snapshot(sql)
    rest = await refund(api, number)
    # then
    assert (first["amount"], first["remaining"]) == ("20.00", "30.00")
    assert too_much["__typename"] == "RefundExceedsRemaining", too_much
    assert (too_much["remaining"], too_much["requested"]) == ("30.00", "30.01")
    assert after_refusal == before
    assert (rest["amount"], rest["remaining"]) == ("30.00", "0.00")
    original = await get_transaction(api, number)
    assert original is not None
    assert original["refundable"] == "0.00"
    assert sorted(r["amount"] for r in original["refunds"]) == ["20.00", "30.00"]
    assert await money(api, shop.buyer) == ("100.00", "0.00", "100.00")
    await assert_sound(app, sql)


async def test_a_refund_needs_the_money_in_the_receiving_wallet(
    api: Api, app: Starlette, sql: asyncpg.Connection, shop: Shop
) -> None:
    number = (await transfer(api, shop.buyer, shop.seller, "50.00"))["transactionNumber"]
    await transfer(api, shop.seller, shop.other, "45.00")
    before = await snapshot(sql)
    # when
    short = await refund(api, number, "5.01")
    # then
    assert short["__typename"] == "InsufficientFunds", short
    assert (short["walletId"], short["requested"]) == (shop.seller, "5.01")
    assert await snapshot(sql) == before
    # and money under a pending hold is not available to a refund either
    await hold_id(api, shop.seller, shop.other, "1.00")
    held = await refund(api, number, "4.01")
    assert held["__typename"] == "InsufficientFunds", held
    done = await refund(api, number, "4.00")
    assert (done["__typename"], done["remaining"]) == ("RefundSuccess", "46.00")
    assert await money(api, shop.seller) == ("1.00", "1.00", "0.00")
    await assert_sound(app, sql)


async def test_a_split_is_refunded_from_its_legs_in_leg_order(
    api: Api, app: Starlette, sql: asyncpg.Connection, shop: Shop
) -> None:
    paid = await split(
        api, shop.buyer, legs((shop.seller, "10.00"), (shop.fee, "20.00"), (shop.other, "30.00"))
    )
    number = paid["transactionNumber"]
    buyer, seller, fee, other = (int(w) for w in (shop.buyer, shop.seller, shop.fee, shop.other))
    # when: 25.00: all of the first leg, 15.00 of the second
    first = await refund(api, number, "25.00")
    # then
    assert (first["amount"], first["remaining"]) == ("25.00", "35.00")
    assert signed(await legs_of(sql, first["transactionNumber"])) == signed(
        [(buyer, "25.00"), (seller, "-10.00"), (fee, "-15.00")]
    )
    # when: the rest
    rest = await refund(api, number)
    assert (rest["amount"], rest["remaining"]) == ("35.00", "0.00")
    assert signed(await legs_of(sql, rest["transactionNumber"])) == signed(
        [(buyer, "35.00"), (fee, "-5.00"), (other, "-30.00")]
    )
    for wallet_id in (shop.seller, shop.fee, shop.other):
        assert await money(api, wallet_id) == ("0.00", "0.00", "0.00")
    assert await money(api, shop.buyer) == ("100.00", "0.00", "100.00")
    await assert_sound(app, sql)


async def test_a_split_refund_draws_the_first_leg_first_even_when_it_is_short(
    api: Api, sql: asyncpg.Connection, shop: Shop
) -> None:
    number = (await split(api, shop.buyer, legs((shop.seller, "10.00"), (shop.fee, "20.00"))))[
        "transactionNumber"
    ]
    await transfer(api, shop.seller, shop.other, "10.00")
    before = await snapshot(sql)
    result = await refund(api, number, "5.00")
    assert result["__typename"] == "InsufficientFunds", result
    assert result["walletId"] == shop.seller
    assert await snapshot(sql) == before


async def test_refund_of_a_captured_hold(
    api: Api, app: Starlette, sql: asyncpg.Connection, shop: Shop
) -> None:
    held = await hold_id(api, shop.buyer, shop.seller, "30.00")
    captured = await capture(api, held, "20.00")
    number = captured["transactionNumber"]
    # when
    result = await refund(api, number, "5.00")
    # then
    assert result["__typename"] == "RefundSuccess", result
    assert (result["refundOf"], result["amount"], result["remaining"]) == (number, "5.00", "15.00")
    assert signed(await legs_of(sql, result["transactionNumber"])) == signed(
        [(int(shop.buyer), "5.00"), (int(shop.seller), "-5.00")]
    )
    assert await money(api, shop.buyer) == ("85.00", "0.00", "85.00")
    assert await money(api, shop.seller) == ("15.00", "0.00", "15.00")
    original = await get_transaction(api, number)
    assert original is not None
    assert (original["kind"], original["refundable"]) == ("CAPTURE", "15.00")
    more = await refund(api, number, "15.01")
    assert (more["__typename"], more["remaining"]) == ("RefundExceedsRemaining", "15.00")
    await assert_sound(app, sql)


async def test_only_transfers_splits_and_captures_can_be_refunded(
    api: Api, sql: asyncpg.Connection, shop: Shop
) -> None:
    transferred = (await transfer(api, shop.buyer, shop.seller, "10.00"))["transactionNumber"]
    refunded = (await refund(api, transferred, "1.00"))["transactionNumber"]
    numbers = {
        "resupply": (await resupply(api, shop.other, "3.00"))["transactionNumber"],
        "withdrawal": (await withdraw(api, shop.other, "1.00"))["transactionNumber"],
        "refund": refunded,
    }
    before = await snapshot(sql)
    for kind, number in numbers.items():
        result = await refund(api, number)
        assert (result["__typename"], result.get("field")) == (
            "InvalidInput",
            "transactionNumber",
        ), kind
    missing = str(uuid.uuid4())
    unknown = await refund(api, missing)
    assert (unknown["__typename"], unknown["number"]) == ("TransactionNotFound", missing)
    assert await snapshot(sql) == before


async def test_hundred_concurrent_refunds_never_exceed_the_transfer(
    api: Api, app: Starlette, sql: asyncpg.Connection, shop: Shop
) -> None:
    number = (await transfer(api, shop.buyer, shop.seller, "50.00"))["transactionNumber"]
    # when
    results = await asyncio.gather(*(refund(api, number, "1.00") for _ in range(100)))
    # then: exactly fifty
    kinds = [r["__typename"] for r in results]
    assert kinds.count("RefundSuccess") == 50, kinds
    assert kinds.count("RefundExceedsRemaining") == 50, kinds
    assert {
        (r["remaining"], r["requested"]) for r in results if r["__typename"] != "RefundSuccess"
    } == {("0.00", "1.00")}
    assert sorted(r["remaining"] for r in results if r["__typename"] == "RefundSuccess") == sorted(
        f"{i}.00" for i in range(50)
    )
    assert await money(api, shop.buyer) == ("100.00", "0.00", "100.00")
    assert await money(api, shop.seller) == ("0.00", "0.00", "0.00")
    refunds = await sql.fetchval("SELECT count(*) FROM transactions WHERE kind = 'REFUND'")
    assert refunds == 50
    await assert_sound(app, sql)


async def test_refunds_racing_payments_out_of_the_receiving_wallet_never_overdraw_it(
    api: Api, app: Starlette, sql: asyncpg.Connection, shop: Shop
) -> None:
    # given: the seller received 50.00
    number = (await transfer(api, shop.buyer, shop.seller, "50.00"))["transactionNumber"]
    # when: thirty refunds of 1.00 and thirty payments of 1.00 out of the seller's wallet at once
    results = await asyncio.gather(
        *(
            refund(api, number, "1.00") if i % 2 else transfer(api, shop.seller, shop.other, "1.00")
            for i in range(60)
        )
    )
    # then: exactly fifty fit in the seller's 50.00; the others lacked funds
    kinds = [r["__typename"] for r in results]
    assert kinds.count("InsufficientFunds") == 10, kinds
    assert set(kinds) == {"RefundSuccess", "TransferSuccess", "InsufficientFunds"}, kinds
    refunded = kinds.count("RefundSuccess")
    assert await money(api, shop.seller) == ("0.00", "0.00", "0.00")
    assert (await money(api, shop.buyer))[0] == f"{50 + refunded}.00"
    assert (await money(api, shop.other))[0] == f"{50 - refunded}.00"
    original = await get_transaction(api, number)
    assert original is not None
    assert original["refundable"] == f"{50 - refunded}.00"
    await assert_sound(app, sql)


# --- split payments ---------------------------------------------------------------------------


async def test_split_pays_every_leg_in_one_transaction(
    api: Api, app: Starlette, sql: asyncpg.Connection, shop: Shop
) -> None:
    # when: a marketplace pays the seller and its fee in one call
    result = await split(
        api,
        shop.buyer,
        [
            {"walletToId": shop.seller, "amount": "10", "reference": "item"},
            {"walletToId": shop.fee, "amount": "2.5", "reference": "fee"},
        ],
        reference="order-9",
        metadata={"order": "9"},
    )
    # then
    assert result["__typename"] == "SplitTransferSuccess", result
    assert (result["amount"], result["walletFromBalance"]) == ("12.50", "87.50")
    assert result["walletFrom"]["balance"] == "87.50"
    assert (result["reference"], result["metadata"]) == ("order-9", {"order": "9"})
    assert (result["dryRun"], result["replayed"]) == (False, False)
    assert result["legs"] == [
        {
            "walletToId": shop.seller,
            "amount": "10.00",
            "reference": "item",
            "walletTo": {"id": shop.seller, "balance": "10.00"},
        },
        {
            "walletToId": shop.fee,
            "amount": "2.50",
            "reference": "fee",
            "walletTo": {"id": shop.fee, "balance": "2.50"},
        },
    ]
    number = result["transactionNumber"]
    assert signed(await legs_of(sql, number)) == signed(
        [(int(shop.buyer), "-12.50"), (int(shop.seller), "10.00"), (int(shop.fee), "2.50")]
    )
    made = await get_transaction(api, number)
    assert made is not None
    assert (made["kind"], made["amount"], made["refundable"]) == ("SPLIT", "12.50", "12.50")
    assert sorted((leg["wallet"]["id"], leg["kind"]) for leg in made["legs"]) == sorted(
        [(shop.buyer, "TRANSFER_OUT"), (shop.seller, "TRANSFER_IN"), (shop.fee, "TRANSFER_IN")]
    )
    assert await sql.fetchval("SELECT count(*) FROM transactions WHERE kind = 'SPLIT'") == 1
    await assert_sound(app, sql)


async def test_split_with_a_hundred_legs(
    api: Api, app: Starlette, sql: asyncpg.Connection, shop: Shop
) -> None:
    payees = [(await create_client(api, f"payee{i}"))[1] for i in range(101)]
    pay = legs(*((w, "0.01") for w in payees))
    before = await snapshot(sql)
    # when: 101 legs, then 0, then 100
    too_many = await split(api, shop.buyer, pay)
    none = await split(api, shop.buyer, [])
    assert (too_many["__typename"], too_many["field"]) == ("InvalidInput", "legs")
    assert (none["__typename"], none["field"]) == ("InvalidInput", "legs")
    assert await snapshot(sql) == before
    result = await split(api, shop.buyer, pay[:100])
    # then
    assert result["__typename"] == "SplitTransferSuccess", result
    assert (result["amount"], result["walletFromBalance"]) == ("1.00", "99.00")
    assert len(result["legs"]) == 100
    assert len(await legs_of(sql, result["transactionNumber"])) == 101
    assert await money(api, payees[99]) == ("0.01", "0.00", "0.01")
    assert await money(api, payees[100]) == ("0.00", "0.00", "0.00")
    await assert_sound(app, sql)


@pytest.mark.parametrize(
    ("bad_leg", "typename", "detail"),
    [
        ({"amount": "0"}, "InvalidInput", {"field": "legs[3].amount"}),
        ({"amount": "1.001"}, "InvalidInput", {"field": "legs[3].amount"}),
        ({"amount": "-1"}, "InvalidInput", {"field": "legs[3].amount"}),
        ({"walletToId": "999999"}, "WalletNotFound", {"walletId": "999999"}),
        ({"walletToId": "bad"}, "InvalidInput", {"field": "legs[3].walletToId"}),
        ({"walletToId": "buyer"}, "InvalidInput", {"field": "legs[3].walletToId"}),
        ({"reference": "x" * 256}, "InvalidInput", {"field": "legs[3].reference"}),
    ],
)
async def test_split_refusals_name_the_leg_and_change_nothing(
    api: Api,
    sql: asyncpg.Connection,
    shop: Shop,
    bad_leg: dict[str, str],
    typename: str,
    detail: dict[str, str],
) -> None:
    fifth = (await create_client(api, "fifth"))[1]
    pay = legs((shop.seller, "1"), (shop.fee, "1"), (shop.other, "1"), (fifth, "1"))
    pay[3] = {**pay[3], **{k: shop.buyer if v == "buyer" else v for k, v in bad_leg.items()}}
    before = await snapshot(sql)
    # when
    result = await split(api, shop.buyer, pay)
    # then
    assert result["__typename"] == typename, result
    for field, value in detail.items():
        assert result[field] == value
    assert await snapshot(sql) == before


async def test_split_to_one_wallet_twice_is_invalid(
    api: Api, sql: asyncpg.Connection, shop: Shop
) -> None:
    before = await snapshot(sql)
    result = await split(
        api, shop.buyer, legs((shop.seller, "1"), (shop.fee, "1"), (shop.seller, "2"))
    )
    assert result["__typename"] == "InvalidInput", result
    assert result["field"] in {"legs[2].walletToId", "legs"}, result
    assert await snapshot(sql) == before


async def test_split_above_the_balance_is_all_or_nothing(
    api: Api, sql: asyncpg.Connection, shop: Shop
) -> None:
    before = await snapshot(sql)
    result = await split(api, shop.buyer, legs((shop.seller, "60"), (shop.fee, "40.01")))
    assert result["__typename"] == "InsufficientFunds", result
    assert (result["walletId"], result["requested"]) == (shop.buyer, "100.01")
    assert await snapshot(sql) == before


# --- payouts ----------------------------------------------------------------------------------


async def test_withdraw_takes_money_out_of_the_ledger(
    api: Api, app: Starlette, sql: asyncpg.Connection, shop: Shop
) -> None:
    # when
    result = await withdraw(
        api, shop.buyer, "30.25", reference="payout-1", metadata={"iban": "DE00"}
    )
    # then
    assert result["__typename"] == "WithdrawSuccess", result
    assert (result["walletId"], result["amount"], result["walletBalance"]) == (
        shop.buyer,
        "30.25",
        "69.75",
    )
    assert (result["reference"], result["metadata"]) == ("payout-1", {"iban": "DE00"})
    assert (result["dryRun"], result["replayed"]) == (False, False)
    assert result["wallet"]["balance"] == "69.75"
    assert await legs_of(sql, result["transactionNumber"]) == [(int(shop.buyer), "-30.25")]
    made = await get_transaction(api, result["transactionNumber"])
    assert made is not None
    assert (made["kind"], made["amount"]) == ("WITHDRAWAL", "30.25")
    assert [(leg["amount"], leg["kind"]) for leg in made["legs"]] == [("-30.25", "WITHDRAWAL")]
    totals = (await currency_totals(api))["USD"]
    assert (totals["totalBalance"], totals["totalResupplied"], totals["totalWithdrawn"]) == (
        "69.75",
        "100.00",
        "30.25",
    )
    await assert_sound(app, sql)


async def test_withdraw_refusals(api: Api, sql: asyncpg.Connection, shop: Shop) -> None:
    before = await snapshot(sql)
    short = await withdraw(api, shop.buyer, "100.01")
    missing = await withdraw(api, "999999", "1.00")
    zero = await withdraw(api, shop.buyer, "0")
    assert (short["__typename"], short["walletId"], short["requested"]) == (
        "InsufficientFunds",
        shop.buyer,
        "100.01",
    )
    assert (missing["__typename"], missing["walletId"]) == ("WalletNotFound", "999999")
    assert (zero["__typename"], zero["field"]) == ("InvalidInput", "amount")
    assert await snapshot(sql) == before
    # and all of it can leave
    assert (await withdraw(api, shop.buyer, "100.00"))["walletBalance"] == "0.00"


async def test_per_currency_balances_equal_resupplied_minus_withdrawn(
    api: Api, app: Starlette, sql: asyncpg.Connection, shop: Shop
) -> None:
    await transfer(api, shop.buyer, shop.seller, "40.00")
    await split(api, shop.seller, legs((shop.fee, "5.00"), (shop.other, "5.00")))
    await withdraw(api, shop.seller, "12.34")
    await withdraw(api, shop.buyer, "0.66")
    await resupply(api, shop.other, "7.00")
    number = (await transfer(api, shop.other, shop.fee, "2.00"))["transactionNumber"]
    await refund(api, number, "1.00")
    held = await hold_id(api, shop.buyer, shop.fee, "9.00")
    await capture(api, held, "4.00")
    # then
    totals = (await currency_totals(api))["USD"]
    assert totals == {
        "currency": "USD",
        "wallets": 4,
        "totalBalance": "94.00",
        "totalHeld": "0.00",
        "totalResupplied": "107.00",
        "totalWithdrawn": "13.00",
    }
    balances = await sql.fetchval("SELECT sum(balance)::text FROM wallets")
    assert balances == "94.00"
    await assert_sound(app, sql)


# --- metadata ---------------------------------------------------------------------------------


def many_keys(n: int) -> dict[str, str]:
    return {f"k{i}": "v" for i in range(n)}


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        (many_keys(51), "metadata"),
        ({"k" * 41: "v"}, "metadata." + "k" * 41),
        ({"note": "x" * 501}, "metadata.note"),
        ({"count": 5}, "metadata.count"),
        ({"flag": True}, "metadata.flag"),
        ({"none": None}, "metadata.none"),
        ({"nested": {"a": "b"}}, "metadata.nested"),
        ({"list": ["a"]}, "metadata.list"),
        (["a", "b"], "metadata"),
        ("text", "metadata"),
    ],
)
async def test_metadata_beyond_the_limits_is_invalid_input_naming_the_key(
    api: Api, sql: asyncpg.Connection, shop: Shop, metadata: Any, field: str
) -> None:
    number = (await transfer(api, shop.buyer, shop.seller, "10.00"))["transactionNumber"]
    before = await snapshot(sql)
    # when: every money-moving mutation that takes metadata
    results = [
        await resupply(api, shop.buyer, "1.00", metadata=metadata),
        await withdraw(api, shop.buyer, "1.00", metadata=metadata),
        await transfer(api, shop.buyer, shop.seller, "1.00", metadata=metadata),
        await split(api, shop.buyer, legs((shop.seller, "1.00")), metadata=metadata),
        await hold(api, shop.buyer, shop.seller, "1.00", metadata=metadata),
        await refund(api, number, "1.00", metadata=metadata),
    ]
    # then
    for result in results:
        assert (result["__typename"], result.get("field")) == ("InvalidInput", field), result
    assert await snapshot(sql) == before


async def test_metadata_at_the_limits_is_stored_and_returned(
    api: Api, sql: asyncpg.Connection, shop: Shop
) -> None:
    metadata = {**many_keys(49), "k" * 40: "x" * 500}
    # when
    result = await transfer(api, shop.buyer, shop.seller, "10.00", metadata=metadata)
    # then: on the answer, the transaction, both legs, and in the database
    assert result["__typename"] == "TransferSuccess", result
    assert result["metadata"] == metadata
    made = await get_transaction(api, result["transactionNumber"])
    assert made is not None
    assert made["metadata"] == metadata
    assert [leg["metadata"] for leg in made["legs"]] == [metadata, metadata]
    data = await api.run(
        "query($id: ID!) { wallet(id: $id) { operations(first: 1) { edges { node {"
        " metadata } } } } }",
        {"id": shop.seller},
    )
    assert data["wallet"]["operations"]["edges"] == [{"node": {"metadata": metadata}}]
    stored = await sql.fetchval(
        "SELECT metadata::text FROM transactions WHERE number = $1",
        uuid.UUID(result["transactionNumber"]),
    )
    assert json.loads(stored) == metadata


async def test_without_metadata_reads_as_empty_or_null(api: Api, shop: Shop) -> None:
    result = await transfer(api, shop.buyer, shop.seller, "1.00")
    assert result["metadata"] in (None, {})


# --- the transactions query -------------------------------------------------------------------

TRANSACTIONS = """
query($filter: TransactionFilter, $first: Int, $after: String) {
  transactions(filter: $filter, first: $first, after: $after) {
    edges { cursor node { number kind amount reference metadata } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def listed(
    api: Api, filter_: dict[str, Any] | None, first: int | None = None, after: str | None = None
) -> tuple[list[str], dict[str, Any]]:
    data = await api.run(TRANSACTIONS, {"filter": filter_, "first": first, "after": after})
    page = data["transactions"]
    return [edge["node"]["number"] for edge in page["edges"]], page["pageInfo"]


async def test_transactions_filtered_and_paged_newest_first(
    api: Api, sql: asyncpg.Connection, shop: Shop
) -> None:
    # given: six transactions, oldest first
    made = [(await resupply(api, shop.buyer, "1.00"))["transactionNumber"]]  # after the fixture's
    for i in range(4):
        made.append(
            (
                await transfer(
                    api,
                    shop.buyer,
                    shop.seller,
                    f"{i + 1}.00",
                    reference="order-7" if i % 2 else "order-8",
                    metadata={"order": str(i), "channel": "web" if i < 2 else "app"},
                )
            )["transactionNumber"]
        )
    made.append((await withdraw(api, shop.seller, "1.00"))["transactionNumber"])
    times = {
        str(r["number"]): r["created_at"]
        for r in await sql.fetch("SELECT number, created_at FROM transactions")
    }
    everything = await sql.fetch("SELECT number::text FROM transactions ORDER BY created_at DESC")
    newest_first = [r["number"] for r in everything]
    # when / then: no filter, newest first
    assert (await listed(api, None))[0] == newest_first
    # by reference
    assert (await listed(api, {"reference": "order-7"}))[0] == [made[4], made[2]]
    # by metadata: every given pair must match
    assert (await listed(api, {"metadata": {"channel": "web"}}))[0] == [made[2], made[1]]
    assert (await listed(api, {"metadata": {"channel": "app", "order": "3"}}))[0] == [made[4]]
    assert (await listed(api, {"metadata": {"channel": "tv"}}))[0] == []
    # by kind
    assert (await listed(api, {"kind": "WITHDRAWAL"}))[0] == [made[5]]
    assert (await listed(api, {"kind": "TRANSFER"}))[0] == made[4:0:-1]
    # by time: since inclusive, until exclusive
    since: datetime = times[made[2]]
    until: datetime = times[made[4]]
    window = {"since": since.isoformat(), "until": until.isoformat()}
    assert (await listed(api, window))[0] == [made[3], made[2]]
    # combined
    assert (await listed(api, {**window, "reference": "order-8"}))[0] == [made[3]]
    # and pages of two, following the cursor
    pages: list[str] = []
    after = None
    while True:
        numbers, info = await listed(api, {"kind": "TRANSFER"}, first=2, after=after)
        pages.extend(numbers)
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert pages == made[4:0:-1]
    first_page, info = await listed(api, {"kind": "TRANSFER"}, first=2)
    assert (first_page, info["hasNextPage"]) == ([made[4], made[3]], True)


# --- dry runs ---------------------------------------------------------------------------------

Mutation = Callable[[Api, Shop, str, dict[str, Any]], Awaitable[dict[str, Any]]]


async def _resupply(api: Api, shop: Shop, number: str, extra: dict[str, Any]) -> dict[str, Any]:
    return await resupply(api, shop.buyer, "5.00", **extra)


async def _withdraw(api: Api, shop: Shop, number: str, extra: dict[str, Any]) -> dict[str, Any]:
    return await withdraw(api, shop.buyer, "5.00", **extra)


async def _transfer(api: Api, shop: Shop, number: str, extra: dict[str, Any]) -> dict[str, Any]:
    return await transfer(api, shop.buyer, shop.other, "5.00", **extra)


async def _split(api: Api, shop: Shop, number: str, extra: dict[str, Any]) -> dict[str, Any]:
    return await split(api, shop.buyer, legs((shop.seller, "2.00"), (shop.fee, "3.00")), **extra)


async def _refund(api: Api, shop: Shop, number: str, extra: dict[str, Any]) -> dict[str, Any]:
    return await refund(api, number, "5.00", **extra)


MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "resupply": (_resupply, "ResupplySuccess"),
    "withdraw": (_withdraw, "WithdrawSuccess"),
    "transfer": (_transfer, "TransferSuccess"),
    "splitTransfer": (_split, "SplitTransferSuccess"),
    "refund": (_refund, "RefundSuccess"),
}

# The buyer's balance each would leave behind (the buyer starts at 90.00, 10.00 paid to seller).
BUYER_AFTER = {
    "resupply": "95.00",
    "withdraw": "85.00",
    "transfer": "85.00",
    "splitTransfer": "85.00",
    "refund": "95.00",
}


def buyer_balance(name: str, result: dict[str, Any]) -> str:
    field = {
        "resupply": "walletBalance",
        "withdraw": "walletBalance",
        "transfer": "walletFromBalance",
        "splitTransfer": "walletFromBalance",
    }.get(name)
    value: str = result["walletFrom"]["balance"] if field is None else result[field]
    return value


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_dry_run_changes_nothing_and_keeps_the_key_free(
    api: Api, app: Starlette, sql: asyncpg.Connection, shop: Shop, name: str
) -> None:
    mutation, success = MUTATIONS[name]
    number = (await transfer(api, shop.buyer, shop.seller, "10.00"))["transactionNumber"]
    before = await snapshot(sql)
    # when
    dry = await mutation(api, shop, number, {"dryRun": True, "idempotencyKey": "dry-1"})
    # then: the same answer a real call gives, flagged, with the would-be balance
    assert dry["__typename"] == success, dry
    assert (dry["dryRun"], dry["replayed"]) == (True, False)
    assert buyer_balance(name, dry) == BUYER_AFTER[name]
    assert await snapshot(sql) == before
    recorded = await sql.fetchval(
        "SELECT count(*) FROM transactions WHERE number = $1", uuid.UUID(dry["transactionNumber"])
    )
    assert recorded == 0
    # and the real call with that key runs (not a replay), once
    real = await mutation(api, shop, number, {"idempotencyKey": "dry-1"})
    assert (real["__typename"], real["dryRun"], real["replayed"]) == (success, False, False)
    assert real["transactionNumber"] != dry["transactionNumber"]
    assert buyer_balance(name, real) == BUYER_AFTER[name]
    assert (await money(api, shop.buyer))[0] == BUYER_AFTER[name]
    await assert_sound(app, sql)


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_dry_run_refuses_what_the_real_call_would(
    api: Api, sql: asyncpg.Connection, shop: Shop, name: str
) -> None:
    mutation, _ = MUTATIONS[name]
    number = (await transfer(api, shop.buyer, shop.seller, "10.00"))["transactionNumber"]
    before = await snapshot(sql)
    result = await mutation(api, shop, number, {"dryRun": True, "metadata": {"k": 1}})
    assert (result["__typename"], result["field"]) == ("InvalidInput", "metadata.k")
    assert await snapshot(sql) == before


# --- replays of the new mutations --------------------------------------------------------------


@pytest.mark.parametrize("name", ["withdraw", "splitTransfer", "refund"])
async def test_repeated_request_with_a_key_is_replayed_once(
    api: Api, app: Starlette, sql: asyncpg.Connection, shop: Shop, name: str
) -> None:
    mutation, success = MUTATIONS[name]
    number = (await transfer(api, shop.buyer, shop.seller, "10.00"))["transactionNumber"]
    first = await mutation(api, shop, number, {"idempotencyKey": "again-1"})
    transactions = await sql.fetchval("SELECT count(*) FROM transactions")
    # when
    again = await mutation(api, shop, number, {"idempotencyKey": "again-1"})
    # then
    assert (first["__typename"], again["__typename"]) == (success, success)
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert again["transactionNumber"] == first["transactionNumber"]
    assert buyer_balance(name, again) == buyer_balance(name, first) == BUYER_AFTER[name]
    assert await sql.fetchval("SELECT count(*) FROM transactions") == transactions
    assert (await money(api, shop.buyer))[0] == BUYER_AFTER[name]
    await assert_sound(app, sql)


async def test_same_key_with_another_refund_amount_is_refused(
    api: Api, sql: asyncpg.Connection, shop: Shop
) -> None:
    number = (await transfer(api, shop.buyer, shop.seller, "10.00"))["transactionNumber"]
    await refund(api, number, "1.00", idempotencyKey="r-1")
    before = await snapshot(sql)
    result = await refund(api, number, "2.00", idempotencyKey="r-1")
    assert result["__typename"] == "IdempotencyKeyReused", result
    assert await snapshot(sql) == before


async def test_hold_with_metadata_keeps_it_on_capture(api: Api, shop: Shop) -> None:
    placed = await hold(api, shop.buyer, shop.seller, "3.00", metadata={"cart": "c-1"})
    assert placed["hold"]["metadata"] == {"cart": "c-1"}
    captured = await capture(api, placed["hold"]["id"])
    assert captured["hold"]["metadata"] == {"cart": "c-1"}
