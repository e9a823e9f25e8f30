"""Holds (issue 14): reserve, capture all or part, void, expire on the database clock, resolve at
most once, and never let a debit take a wallet's available balance below zero."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
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
    db_now,
    get_hold,
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
    void,
    withdraw,
)


@pytest.fixture
def pool_size() -> int:
    return 20  # the races below keep many requests in flight at once


@dataclass
class Pair:
    payer: str  # a USD wallet holding 100.00
    payee: str  # a USD wallet holding nothing


@pytest.fixture
async def pair(api: Api) -> Pair:
    _, payer = await create_client(api, "payer")
    _, payee = await create_client(api, "payee")
    funded = await resupply(api, payer, "100.00")
    assert funded["__typename"] == "ResupplySuccess", funded
    return Pair(payer, payee)


HOLDS_OF = """
query($id: ID!, $status: HoldStatus) {
  wallet(id: $id) { holds(status: $status) { id status amount } }
}
"""


async def holds_of(api: Api, wallet: str, status: str | None) -> list[dict[str, Any]]:
    data = await api.run(HOLDS_OF, {"id": wallet, "status": status})
    found: list[dict[str, Any]] = data["wallet"]["holds"]
    return found


async def expire(sql: asyncpg.Connection, hold: str) -> None:
    """Move the hold's expiry to the database's present: every later statement runs after it.

    The wallet's ``held_until`` must stay at most the earliest expiry of its pending holds (how
    the service knows, without reading the holds, that none has expired), so it moves too, as it
    would have had the hold been placed with this expiry."""
    await sql.execute(
        "WITH h AS (UPDATE holds SET expires_at = clock_timestamp() WHERE id = $1"
        " RETURNING wallet_from_id, expires_at)"
        " UPDATE wallets w SET held_until = least(w.held_until, h.expires_at)"
        " FROM h WHERE w.id = h.wallet_from_id",
        int(hold),
    )


def iso(moment: datetime) -> str:
    return moment.isoformat()


# --- placing a hold ---------------------------------------------------------------------------


async def test_hold_reserves_available_but_leaves_the_balance(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair
) -> None:
    # when
    result = await hold(
        api, pair.payer, pair.payee, "30.00", reference="order-1", metadata={"order": "1"}
    )
    # then
    assert result["__typename"] == "HoldTransferSuccess", result
    placed = result["hold"]
    assert placed["status"] == "PENDING"
    assert placed["amount"] == "30.00"
    assert placed["currency"] == "USD"
    assert (placed["walletFromId"], placed["walletToId"]) == (pair.payer, pair.payee)
    assert placed["reference"] == "order-1"
    assert placed["metadata"] == {"order": "1"}
    assert placed["resolvedAt"] is None
    assert result["amount"] == "30.00"
    assert (result["dryRun"], result["replayed"]) == (False, False)
    assert result["walletFrom"] == {
        "id": pair.payer,
        "currency": "USD",
        "balance": "100.00",
        "held": "30.00",
        "available": "70.00",
    }
    assert await money(api, pair.payer) == ("100.00", "30.00", "70.00")
    assert await money(api, pair.payee) == ("0.00", "0.00", "0.00")
    # and the database: held stored on the wallet, a HOLD transaction without legs
    assert await sql.fetchval("SELECT held::text FROM wallets WHERE id = $1", int(pair.payer)) == (
        "30.00"
    )
    kinds = await sql.fetch(
        "SELECT t.kind, count(o.id) AS legs FROM transactions t"
        " LEFT JOIN wallet_operations o ON o.transaction_id = t.id GROUP BY t.id ORDER BY t.id"
    )
    assert [(r["kind"], r["legs"]) for r in kinds] == [("RESUPPLY", 1), ("HOLD", 0)]
    # and it is listed among the wallet's pending holds, and readable by id
    assert await holds_of(api, pair.payer, "PENDING") == [
        {"id": placed["id"], "status": "PENDING", "amount": "30.00"}
    ]
    read = await get_hold(api, placed["id"])
    assert read is not None
    assert read["walletFrom"] == {"id": pair.payer}
    assert read["walletTo"] == {"id": pair.payee}
    assert [(t["kind"], t["amount"], t["legs"]) for t in read["transactions"]] == [
        ("HOLD", "30.00", [])
    ]
    await assert_sound(app, sql)


async def test_hold_default_expiry_is_seven_days_on_the_database_clock(
    api: Api, sql: asyncpg.Connection, pair: Pair
) -> None:
    before = await db_now(sql)
    result = await hold(api, pair.payer, pair.payee, "1.00")
    after = await db_now(sql)
    expires = datetime.fromisoformat(result["hold"]["expiresAt"])
    assert before + timedelta(days=7) <= expires <= after + timedelta(days=7)
    assert result["expiresAt"] == result["hold"]["expiresAt"]


async def test_hold_keeps_the_expiry_it_was_given(
    api: Api, sql: asyncpg.Connection, pair: Pair
) -> None:
    expires = (await db_now(sql)) + timedelta(minutes=5, microseconds=123)
    result = await hold(api, pair.payer, pair.payee, "1.00", expiresAt=iso(expires))
    assert datetime.fromisoformat(result["hold"]["expiresAt"]) == expires
    stored = await sql.fetchval(
        "SELECT expires_at FROM holds WHERE id = $1", int(result["hold"]["id"])
    )
    assert stored == expires


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(milliseconds=-1), timedelta(days=-1)])
async def test_hold_expiring_now_or_earlier_is_invalid_expires_at(
    api: Api, sql: asyncpg.Connection, pair: Pair, offset: timedelta
) -> None:
    # given: a moment the database clock has reached by the time the request arrives
    moment = (await db_now(sql)) + offset
    before = await snapshot(sql)
    # when
    result = await hold(api, pair.payer, pair.payee, "1.00", expiresAt=iso(moment))
    # then
    assert result["__typename"] == "InvalidInput", result
    assert result["field"] == "expiresAt"
    assert await snapshot(sql) == before


@pytest.mark.parametrize(
    ("change", "typename", "detail"),
    [
        ({"amount": "100.01"}, "InsufficientFunds", {"walletId": "payer", "requested": "100.01"}),
        ({"amount": "0"}, "InvalidInput", {"field": "amount"}),
        ({"amount": "1.001"}, "InvalidInput", {"field": "amount"}),
        ({"walletToId": "payer"}, "InvalidInput", {"field": "walletToId"}),
        ({"walletToId": "999999"}, "WalletNotFound", {"walletId": "999999"}),
        ({"walletFromId": "999999"}, "WalletNotFound", {"walletId": "999999"}),
    ],
)
async def test_hold_refusals_change_nothing(
    api: Api,
    sql: asyncpg.Connection,
    pair: Pair,
    change: dict[str, str],
    typename: str,
    detail: dict[str, str],
) -> None:
    names = {"payer": pair.payer, "payee": pair.payee}
    params = {"walletFromId": pair.payer, "walletToId": pair.payee, "amount": "1.00", **change}
    params = {k: names.get(v, v) for k, v in params.items()}
    before = await snapshot(sql)
    # when
    result = await hold(
        api, params.pop("walletFromId"), params.pop("walletToId"), params.pop("amount")
    )
    # then
    assert result["__typename"] == typename, result
    for field, value in detail.items():
        assert result[field] == names.get(value, value)
    assert await snapshot(sql) == before


# --- capture and void -------------------------------------------------------------------------


async def test_capture_in_full_moves_the_held_amount(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair
) -> None:
    # given
    held = await hold_id(api, pair.payer, pair.payee, "30.00")
    # when
    result = await capture(api, held)
    # then
    assert result["__typename"] == "CaptureHoldSuccess", result
    assert result["amount"] == "30.00"
    assert (result["dryRun"], result["replayed"]) == (False, False)
    assert result["hold"]["status"] == "CAPTURED"
    assert result["hold"]["capturedAmount"] == "30.00"
    assert result["hold"]["resolvedAt"] is not None
    assert result["walletFrom"]["balance"] == "70.00"
    assert result["walletFrom"]["held"] == "0.00"
    assert result["walletFrom"]["available"] == "70.00"
    assert result["walletTo"]["balance"] == "30.00"
    assert await money(api, pair.payer) == ("70.00", "0.00", "70.00")
    assert await money(api, pair.payee) == ("30.00", "0.00", "30.00")
    # and the capture is a transaction of two legs, linked to the hold
    captured = await get_transaction(api, result["transactionNumber"])
    assert captured is not None
    assert captured["kind"] == "CAPTURE"
    assert captured["amount"] == "30.00"
    assert sorted(
        (leg["wallet"]["id"], leg["amount"], leg["kind"]) for leg in captured["legs"]
    ) == [
        (pair.payer, "-30.00", "CAPTURE_OUT"),
        (pair.payee, "30.00", "CAPTURE_IN"),
    ]
    assert captured["hold"] == {"id": held, "status": "CAPTURED"}
    read = await get_hold(api, held)
    assert read is not None
    assert sorted(t["kind"] for t in read["transactions"]) == ["CAPTURE", "HOLD"]
    await assert_sound(app, sql)


async def test_partial_capture_releases_the_rest(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair
) -> None:
    held = await hold_id(api, pair.payer, pair.payee, "30.00")
    # when
    result = await capture(api, held, "12.50")
    # then
    assert result["__typename"] == "CaptureHoldSuccess", result
    assert result["amount"] == "12.50"
    assert result["hold"]["status"] == "CAPTURED"
    assert result["hold"]["amount"] == "30.00"
    assert result["hold"]["capturedAmount"] == "12.50"
    assert await money(api, pair.payer) == ("87.50", "0.00", "87.50")
    assert await money(api, pair.payee) == ("12.50", "0.00", "12.50")
    # and the rest is not capturable any more
    again = await capture(api, held, "17.50")
    assert again["__typename"] == "HoldNotPending", again
    assert (again["holdId"], again["status"]) == (held, "CAPTURED")
    await assert_sound(app, sql)


async def test_void_releases_the_hold(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair
) -> None:
    held = await hold_id(api, pair.payer, pair.payee, "30.00")
    # when
    result = await void(api, held)
    # then
    assert result["__typename"] == "VoidHoldSuccess", result
    assert (result["dryRun"], result["replayed"]) == (False, False)
    assert result["hold"]["status"] == "VOIDED"
    assert result["hold"]["resolvedAt"] is not None
    assert result["walletFrom"]["held"] == "0.00"
    assert result["walletFrom"]["available"] == "100.00"
    assert await money(api, pair.payer) == ("100.00", "0.00", "100.00")
    assert await money(api, pair.payee) == ("0.00", "0.00", "0.00")
    read = await get_hold(api, held)
    assert read is not None
    assert sorted((t["kind"], t["legs"] == []) for t in read["transactions"]) == [
        ("HOLD", True),
        ("VOID", True),
    ]
    await assert_sound(app, sql)


@pytest.mark.parametrize("amount", ["30.01", "1000", "0", "1.001"])
async def test_capture_above_the_held_amount_is_invalid_and_changes_nothing(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair, amount: str
) -> None:
    # Regression (a well-known ledger): a capture above the held amount was accepted.
    held = await hold_id(api, pair.payer, pair.payee, "30.00")
    before = await snapshot(sql)
    # when
    result = await capture(api, held, amount)
    # then
    assert result["__typename"] == "InvalidInput", result
    assert result["field"] == "amount"
    assert await snapshot(sql) == before
    read = await get_hold(api, held)
    assert read is not None
    assert read["status"] == "PENDING"
    # and the hold is still whole: all of it can be captured
    assert (await capture(api, held))["amount"] == "30.00"
    await assert_sound(app, sql)


@pytest.mark.parametrize("mutation", ["capture", "void"])
async def test_unknown_hold_is_hold_not_found(api: Api, pair: Pair, mutation: str) -> None:
    result = await (capture(api, "999999") if mutation == "capture" else void(api, "999999"))
    assert result["__typename"] == "HoldNotFound", result
    assert result["holdId"] == "999999"


async def test_hold_query_for_a_missing_hold_is_null(api: Api) -> None:
    assert await get_hold(api, "999999") is None
    assert await get_hold(api, "abc") is None


# --- resolving at most once (regressions) -----------------------------------------------------


@pytest.mark.parametrize("key", [None, "second-void"])
async def test_a_hold_voided_twice_does_not_answer_success_twice(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair, key: str | None
) -> None:
    # Regression: voiding a voided hold answered success (and released the money again).
    held = await hold_id(api, pair.payer, pair.payee, "30.00")
    first = await void(api, held, idempotencyKey="first-void")
    assert first["__typename"] == "VoidHoldSuccess", first
    before = await snapshot(sql)
    # when: voided again, without a key or with a different one
    second = await void(api, held, idempotencyKey=key)
    # then
    assert second["__typename"] == "HoldNotPending", second
    assert (second["holdId"], second["status"]) == (held, "VOIDED")
    assert await snapshot(sql) == before
    # and it cannot be captured either
    late = await capture(api, held)
    assert late["__typename"] == "HoldNotPending", late
    assert late["status"] == "VOIDED"
    assert await money(api, pair.payer) == ("100.00", "0.00", "100.00")
    await assert_sound(app, sql)


async def test_a_captured_hold_cannot_be_voided_or_captured_again(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair
) -> None:
    held = await hold_id(api, pair.payer, pair.payee, "30.00")
    assert (await capture(api, held, "10.00"))["__typename"] == "CaptureHoldSuccess"
    before = await snapshot(sql)
    for late in (await void(api, held), await capture(api, held), await capture(api, held, "1")):
        assert late["__typename"] == "HoldNotPending", late
        assert (late["holdId"], late["status"]) == (held, "CAPTURED")
    assert await snapshot(sql) == before
    assert await money(api, pair.payer) == ("90.00", "0.00", "90.00")
    await assert_sound(app, sql)


async def test_a_refused_hold_leaves_nothing_that_could_be_committed_later(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair
) -> None:
    # Regression: a hold refused for lack of funds stayed behind and was captured later.
    before = await snapshot(sql)
    refused = await hold(api, pair.payer, pair.payee, "150.00", idempotencyKey="big-hold")
    assert refused["__typename"] == "InsufficientFunds", refused
    assert await snapshot(sql) == before
    assert await sql.fetchval("SELECT count(*) FROM holds") == 0
    assert await holds_of(api, pair.payer, None) == []
    # when: the wallet is funded afterwards, nothing pending appears by itself
    await resupply(api, pair.payer, "100.00")
    assert await holds_of(api, pair.payer, None) == []
    assert await money(api, pair.payer) == ("200.00", "0.00", "200.00")
    for guess in ("1", "2", "3"):
        late = await capture(api, guess)
        assert late["__typename"] == "HoldNotFound", late
    assert await money(api, pair.payee) == ("0.00", "0.00", "0.00")
    # and a retry with the same key is evaluated afresh: it reserves once, now
    retried = await hold(api, pair.payer, pair.payee, "150.00", idempotencyKey="big-hold")
    assert retried["__typename"] == "HoldTransferSuccess", retried
    assert retried["replayed"] is False
    assert await money(api, pair.payer) == ("200.00", "150.00", "50.00")
    await assert_sound(app, sql)


@pytest.mark.parametrize("resolution", ["capture", "partial", "void", "expiry"])
async def test_a_resolved_hold_never_reports_itself_pending(
    api: Api, sql: asyncpg.Connection, pair: Pair, resolution: str
) -> None:
    # Regression: a hold resolved (posted or voided) still listed as pending.
    held = await hold_id(api, pair.payer, pair.payee, "30.00")
    expected = {
        "capture": "CAPTURED",
        "partial": "CAPTURED",
        "void": "VOIDED",
        "expiry": "EXPIRED",
    }[resolution]
    # when
    if resolution == "capture":
        assert (await capture(api, held))["hold"]["status"] == expected
    elif resolution == "partial":
        assert (await capture(api, held, "0.01"))["hold"]["status"] == expected
    elif resolution == "void":
        assert (await void(api, held))["hold"]["status"] == expected
    else:
        await expire(sql, held)
    # then: every read agrees
    read = await get_hold(api, held)
    assert read is not None
    assert read["status"] == expected
    assert await holds_of(api, pair.payer, "PENDING") == []
    assert [h["id"] for h in await holds_of(api, pair.payer, expected)] == [held]
    assert [h["status"] for h in await holds_of(api, pair.payer, None)] == [expected]
    assert (await money(api, pair.payer))[1] == "0.00"
    assert (await currency_totals(api))["USD"]["totalHeld"] == "0.00"
    if resolution != "expiry":
        assert await sql.fetchval("SELECT status FROM holds WHERE id = $1", int(held)) == expected
        assert await sql.fetchval(
            "SELECT held FROM wallets WHERE id = $1", int(pair.payer)
        ) == Decimal("0.00")


async def test_a_voided_hold_cannot_be_refunded(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair
) -> None:
    # Regression: a refund of a voided hold paid the payer money that had never left.
    held = await hold_id(api, pair.payer, pair.payee, "30.00")
    assert (await void(api, held))["__typename"] == "VoidHoldSuccess"
    read = await get_hold(api, held)
    assert read is not None
    numbers = {t["kind"]: t["number"] for t in read["transactions"]}
    assert sorted(numbers) == ["HOLD", "VOID"]
    before = await snapshot(sql)
    # when: the hold's and the void's transactions are offered for a refund
    for number in (numbers["HOLD"], numbers["VOID"]):
        for amount in (None, "30.00"):
            result = await refund(api, number, amount)
            # then
            assert result["__typename"] == "InvalidInput", result
            assert result["field"] == "transactionNumber"
    assert await snapshot(sql) == before
    assert await money(api, pair.payer) == ("100.00", "0.00", "100.00")
    await assert_sound(app, sql)


async def test_an_uncaptured_hold_cannot_be_refunded(
    api: Api, sql: asyncpg.Connection, pair: Pair
) -> None:
    placed = await hold(api, pair.payer, pair.payee, "30.00")
    read = await get_hold(api, placed["hold"]["id"])
    assert read is not None
    before = await snapshot(sql)
    result = await refund(api, read["transactions"][0]["number"])
    assert result["__typename"] == "InvalidInput", result
    assert result["field"] == "transactionNumber"
    assert await snapshot(sql) == before


# --- available balance ------------------------------------------------------------------------


async def test_no_debit_takes_available_below_zero_while_a_hold_is_pending(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair
) -> None:
    # given: 100.00 of which 70.00 held
    await hold_id(api, pair.payer, pair.payee, "70.00")
    _, third = await create_client(api, "third")
    before = await snapshot(sql)
    # when: every kind of debit of 30.01
    refusals = [
        await transfer(api, pair.payer, pair.payee, "30.01"),
        await withdraw(api, pair.payer, "30.01"),
        await hold(api, pair.payer, pair.payee, "30.01"),
        await split(api, pair.payer, legs((pair.payee, "30.00"), (third, "0.01"))),
    ]
    # then: each is refused against the available balance, and nothing changed
    for result in refusals:
        assert result["__typename"] == "InsufficientFunds", result
        assert result["walletId"] == pair.payer
        assert result["requested"] == "30.01"
    assert await snapshot(sql) == before
    # and exactly the available amount can still be moved
    done = await transfer(api, pair.payer, pair.payee, "30.00")
    assert done["__typename"] == "TransferSuccess", done
    assert done["walletFrom"]["available"] == "0.00"
    assert await money(api, pair.payer) == ("70.00", "70.00", "0.00")
    assert (await withdraw(api, pair.payer, "0.01"))["__typename"] == "InsufficientFunds"
    await assert_sound(app, sql)


# --- expiry, on the database clock ------------------------------------------------------------


async def test_capture_before_expiry_succeeds(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair
) -> None:
    expires = (await db_now(sql)) + timedelta(seconds=30)
    held = await hold_id(api, pair.payer, pair.payee, "30.00", expiresAt=iso(expires))
    result = await capture(api, held)
    assert result["__typename"] == "CaptureHoldSuccess", result
    await assert_sound(app, sql)


@pytest.mark.parametrize("mutation", ["capture", "partial", "void", "dry capture", "dry void"])
async def test_capture_or_void_at_or_after_expiry_is_hold_expired(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair, mutation: str
) -> None:
    # given: a hold whose expiry the database clock has reached (no sweep has run)
    expires = (await db_now(sql)) + timedelta(seconds=30)
    held = await hold_id(api, pair.payer, pair.payee, "30.00", expiresAt=iso(expires))
    await expire(sql, held)
    before = await snapshot(sql)
    # when
    if mutation == "capture":
        result = await capture(api, held)
    elif mutation == "partial":
        result = await capture(api, held, "1.00")
    elif mutation == "void":
        result = await void(api, held)
    elif mutation == "dry capture":
        result = await capture(api, held, dryRun=True)
    else:
        result = await void(api, held, dryRun=True)
    # then
    assert result["__typename"] == "HoldExpired", result
    assert result["holdId"] == held
    assert await snapshot(sql) == before
    assert await money(api, pair.payee) == ("0.00", "0.00", "0.00")
    await assert_sound(app, sql)


async def test_an_expired_hold_holds_no_money_in_any_read(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair
) -> None:
    # given: two holds, one of them expired by the database clock (no sweep has run)
    stays = await hold_id(api, pair.payer, pair.payee, "10.00")
    gone = await hold_id(api, pair.payer, pair.payee, "30.00")
    await expire(sql, gone)
    # then: the wallet, its holds, the hold and the summary agree
    assert await money(api, pair.payer) == ("100.00", "10.00", "90.00")
    read = await get_hold(api, gone)
    assert read is not None
    assert read["status"] == "EXPIRED"
    placed = await get_transaction(api, read["transactions"][0]["number"])
    assert placed is not None
    assert placed["hold"] == {"id": gone, "status": "EXPIRED"}
    assert [h["id"] for h in await holds_of(api, pair.payer, "PENDING")] == [stays]
    assert [h["id"] for h in await holds_of(api, pair.payer, "EXPIRED")] == [gone]
    assert (await currency_totals(api))["USD"]["totalHeld"] == "10.00"
    other_reads = await api.run(
        "query($id: ID!) { wallets(ids: [$id]) { held available }"
        " wallet(id: $id) { client { wallets { held available } } } }",
        {"id": pair.payer},
    )
    assert other_reads == {
        "wallets": [{"held": "10.00", "available": "90.00"}],
        "wallet": {"client": {"wallets": [{"held": "10.00", "available": "90.00"}]}},
    }
    # and the released money can be spent: all that is available, not a cent more
    assert (await transfer(api, pair.payer, pair.payee, "90.01"))["__typename"] == (
        "InsufficientFunds"
    )
    done = await transfer(api, pair.payer, pair.payee, "90.00")
    assert done["__typename"] == "TransferSuccess", done
    assert await money(api, pair.payer) == ("10.00", "10.00", "0.00")
    # and the pending one is still capturable
    assert (await capture(api, stays))["__typename"] == "CaptureHoldSuccess"
    assert await money(api, pair.payer) == ("0.00", "0.00", "0.00")
    assert await money(api, pair.payee) == ("100.00", "0.00", "100.00")
    await assert_sound(app, sql)


# --- dry runs ---------------------------------------------------------------------------------


async def test_dry_run_hold_changes_nothing_and_keeps_its_key(
    api: Api, sql: asyncpg.Connection, pair: Pair
) -> None:
    before = await snapshot(sql)
    # when
    result = await hold(api, pair.payer, pair.payee, "30.00", dryRun=True, idempotencyKey="h-1")
    # then: the would-be wallet, no hold
    assert result["__typename"] == "HoldTransferSuccess", result
    assert (result["dryRun"], result["replayed"]) == (True, False)
    assert result["hold"] is None
    assert result["amount"] == "30.00"
    assert (
        result["walletFrom"]["balance"],
        result["walletFrom"]["held"],
        result["walletFrom"]["available"],
    ) == ("100.00", "30.00", "70.00")
    assert await snapshot(sql) == before
    # and a dry run still refuses what the real call would
    refused = await hold(api, pair.payer, pair.payee, "100.01", dryRun=True)
    assert refused["__typename"] == "InsufficientFunds", refused
    # and the key is still free: the real call runs (not a replay)
    real = await hold(api, pair.payer, pair.payee, "30.00", idempotencyKey="h-1")
    assert (real["__typename"], real["dryRun"], real["replayed"]) == (
        "HoldTransferSuccess",
        False,
        False,
    )
    assert await money(api, pair.payer) == ("100.00", "30.00", "70.00")


async def test_dry_run_capture_and_void_change_nothing_and_keep_their_keys(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair
) -> None:
    held = await hold_id(api, pair.payer, pair.payee, "30.00")
    before = await snapshot(sql)
    # when
    captured = await capture(api, held, "10.00", dryRun=True, idempotencyKey="c-1")
    voided = await void(api, held, dryRun=True, idempotencyKey="v-1")
    too_much = await capture(api, held, "30.01", dryRun=True)
    # then
    assert captured["__typename"] == "CaptureHoldSuccess", captured
    assert (captured["dryRun"], captured["replayed"]) == (True, False)
    assert captured["amount"] == "10.00"
    assert captured["walletFrom"]["balance"] == "90.00"
    assert captured["walletFrom"]["held"] == "0.00"
    assert captured["walletTo"]["balance"] == "10.00"
    assert voided["__typename"] == "VoidHoldSuccess", voided
    assert (voided["dryRun"], voided["replayed"]) == (True, False)
    assert voided["walletFrom"]["available"] == "100.00"
    assert too_much["__typename"] == "InvalidInput"
    assert await snapshot(sql) == before
    recorded = await sql.fetchval(
        "SELECT count(*) FROM transactions WHERE number = $1",
        uuid.UUID(captured["transactionNumber"]),
    )
    assert recorded == 0
    read = await get_hold(api, held)
    assert read is not None
    assert read["status"] == "PENDING"
    # and the keys were not used: the real calls run
    real = await capture(api, held, "10.00", idempotencyKey="c-1")
    assert (real["__typename"], real["replayed"]) == ("CaptureHoldSuccess", False)
    assert real["transactionNumber"] != captured["transactionNumber"]
    assert await money(api, pair.payer) == ("90.00", "0.00", "90.00")
    await assert_sound(app, sql)


# --- idempotency ------------------------------------------------------------------------------


@pytest.mark.parametrize("explicit_expiry", [False, True])
async def test_repeated_hold_is_replayed(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair, explicit_expiry: bool
) -> None:
    # given: a hold placed with a key, with the default expiry or a given one
    extra = {"idempotencyKey": "hold-1"}
    if explicit_expiry:
        extra["expiresAt"] = iso((await db_now(sql)) + timedelta(hours=1))
    first = await hold(api, pair.payer, pair.payee, "30.00", **extra)
    # when: the same request again
    again = await hold(api, pair.payer, pair.payee, "30.00", **extra)
    # then: one hold, the second answer is the first's
    assert again["__typename"] == "HoldTransferSuccess", again
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert again["hold"]["id"] == first["hold"]["id"]
    assert again["hold"]["expiresAt"] == first["hold"]["expiresAt"]
    assert await money(api, pair.payer) == ("100.00", "30.00", "70.00")
    assert await sql.fetchval("SELECT count(*) FROM holds") == 1
    await assert_sound(app, sql)


async def test_repeated_capture_and_void_are_replayed(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair
) -> None:
    held = await hold_id(api, pair.payer, pair.payee, "30.00")
    # when: capture twice with one key
    captured = await capture(api, held, "10.00", idempotencyKey="cap-1")
    recaptured = await capture(api, held, "10.00", idempotencyKey="cap-1")
    # then: the second answers with the first's result
    assert recaptured["__typename"] == "CaptureHoldSuccess", recaptured
    assert (captured["replayed"], recaptured["replayed"]) == (False, True)
    assert recaptured["transactionNumber"] == captured["transactionNumber"]
    assert recaptured["amount"] == "10.00"
    assert await money(api, pair.payee) == ("10.00", "0.00", "10.00")
    # and a void replayed
    other = await hold_id(api, pair.payer, pair.payee, "5.00")
    voided = await void(api, other, idempotencyKey="void-1")
    revoided = await void(api, other, idempotencyKey="void-1")
    assert revoided["__typename"] == "VoidHoldSuccess", revoided
    assert (voided["replayed"], revoided["replayed"]) == (False, True)
    assert revoided["hold"]["id"] == other
    assert await money(api, pair.payer) == ("90.00", "0.00", "90.00")
    assert await sql.fetchval("SELECT count(*) FROM transactions WHERE kind = 'CAPTURE'") == 1
    assert await sql.fetchval("SELECT count(*) FROM transactions WHERE kind = 'VOID'") == 1
    await assert_sound(app, sql)


# --- concurrency ------------------------------------------------------------------------------


async def test_fifty_concurrent_captures_of_one_hold_capture_once(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair
) -> None:
    held = await hold_id(api, pair.payer, pair.payee, "30.00")
    # when
    results = await asyncio.gather(*(capture(api, held) for _ in range(50)))
    # then
    kinds = [r["__typename"] for r in results]
    assert kinds.count("CaptureHoldSuccess") == 1, kinds
    assert kinds.count("HoldNotPending") == 49, kinds
    assert {(r["holdId"], r["status"]) for r in results if r["__typename"] == "HoldNotPending"} == {
        (held, "CAPTURED")
    }
    assert await money(api, pair.payer) == ("70.00", "0.00", "70.00")
    assert await money(api, pair.payee) == ("30.00", "0.00", "30.00")
    assert await sql.fetchval("SELECT count(*) FROM transactions WHERE kind = 'CAPTURE'") == 1
    await assert_sound(app, sql)


async def test_void_racing_capture_one_wins_and_money_is_conserved(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair
) -> None:
    winners: list[str] = []
    for _ in range(10):
        held = await hold_id(api, pair.payer, pair.payee, "5.00")
        # when
        results = await asyncio.gather(capture(api, held), void(api, held))
        # then
        kinds = sorted(r["__typename"] for r in results)
        assert kinds in (
            ["CaptureHoldSuccess", "HoldNotPending"],
            ["HoldNotPending", "VoidHoldSuccess"],
        ), results
        winner = "CAPTURED" if "CaptureHoldSuccess" in kinds else "VOIDED"
        loser = next(r for r in results if r["__typename"] == "HoldNotPending")
        assert loser["status"] == winner
        winners.append(winner)
    captured = Decimal("5.00") * winners.count("CAPTURED")
    assert await money(api, pair.payee) == (f"{captured:.2f}", "0.00", f"{captured:.2f}")
    remaining = f"{Decimal('100.00') - captured:.2f}"
    assert await money(api, pair.payer) == (remaining, "0.00", remaining)
    assert await sql.fetchval("SELECT sum(balance) FROM wallets") == Decimal("100.00")
    await assert_sound(app, sql)


async def test_holds_and_debits_racing_on_one_wallet_never_take_available_below_zero(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair
) -> None:
    # given: 100.00, and sixty requests of 7.00 each: holds, transfers, withdrawals, splits
    _, third = await create_client(api, "third")
    samples: list[Decimal] = []

    async def sample() -> None:
        while True:
            samples.append(
                await sql.fetchval(
                    "SELECT min(balance - held) FROM wallets WHERE id = $1", int(pair.payer)
                )
            )
            await asyncio.sleep(0.002)

    def debit(i: int) -> Any:
        match i % 4:
            case 0:
                return hold(api, pair.payer, pair.payee, "7.00")
            case 1:
                return transfer(api, pair.payer, pair.payee, "7.00")
            case 2:
                return withdraw(api, pair.payer, "7.00")
            case _:
                return split(api, pair.payer, legs((pair.payee, "3.50"), (third, "3.50")))

    sampler = asyncio.create_task(sample())
    try:
        results = await asyncio.gather(*(debit(i) for i in range(60)))
    finally:
        sampler.cancel()
    # then: exactly 14 of them fit in 100.00 (2.00 stays available), the rest were refused
    kinds = [r["__typename"] for r in results]
    assert set(kinds) <= {
        "HoldTransferSuccess",
        "TransferSuccess",
        "WithdrawSuccess",
        "SplitTransferSuccess",
        "InsufficientFunds",
    }, kinds
    assert kinds.count("InsufficientFunds") == 46, kinds
    holds = kinds.count("HoldTransferSuccess")
    spent = Decimal("7.00") * (14 - holds)
    balance, held, available = await money(api, pair.payer)
    assert (balance, held, available) == (
        f"{Decimal('100.00') - spent:.2f}",
        f"{Decimal('7.00') * holds:.2f}",
        "2.00",
    )
    assert samples
    assert min(samples) >= 0
    # and once every hold is captured, the money is where it should be
    for placed in await holds_of(api, pair.payer, "PENDING"):
        assert (await capture(api, placed["id"]))["__typename"] == "CaptureHoldSuccess"
    assert await money(api, pair.payer) == ("2.00", "0.00", "2.00")
    withdrawn = Decimal("7.00") * kinds.count("WithdrawSuccess")
    totals = (await currency_totals(api))["USD"]
    assert totals["totalWithdrawn"] == f"{withdrawn:.2f}"
    assert totals["totalBalance"] == f"{Decimal('100.00') - withdrawn:.2f}"
    await assert_sound(app, sql)


async def test_wallet_holds_lists_twenty_unless_asked_for_more(api: Api, pair: Pair) -> None:
    placed = [await hold_id(api, pair.payer, pair.payee, "1.00") for _ in range(25)]
    data = await api.run(
        "query($id: ID!) { wallet(id: $id) { all: holds { id } more: holds(first: 25) { id }"
        " some: holds(first: 3, status: PENDING) { id } none: holds(status: VOIDED) { id } } }",
        {"id": pair.payer},
    )
    listed = data["wallet"]
    assert len(listed["all"]) == 20
    assert sorted(int(h["id"]) for h in listed["more"]) == sorted(int(h) for h in placed)
    assert len(listed["some"]) == 3
    assert listed["none"] == []
    assert await money(api, pair.payer) == ("100.00", "25.00", "75.00")


async def test_money_of_an_expired_hold_can_be_held_again(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair
) -> None:
    # given: 80.00 held by a hold that has expired (no sweep has run)
    gone = await hold_id(api, pair.payer, pair.payee, "80.00")
    await expire(sql, gone)
    # when: 90.00 held again, then captured
    again = await hold(api, pair.payer, pair.payee, "90.00")
    # then
    assert again["__typename"] == "HoldTransferSuccess", again
    assert (again["walletFrom"]["held"], again["walletFrom"]["available"]) == ("90.00", "10.00")
    assert (await hold(api, pair.payer, pair.payee, "10.01"))["__typename"] == "InsufficientFunds"
    assert (await capture(api, again["hold"]["id"]))["__typename"] == "CaptureHoldSuccess"
    assert await money(api, pair.payer) == ("10.00", "0.00", "10.00")
    assert await money(api, pair.payee) == ("90.00", "0.00", "90.00")
    await assert_sound(app, sql)


@pytest.mark.parametrize("posting", ["resupply", "transfer", "hold"])
async def test_an_expired_hold_answers_hold_expired_after_postings_on_its_wallet_too(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair, posting: str
) -> None:
    # given: an expired hold, and then a posting that locks its wallet (which may mark it)
    gone = await hold_id(api, pair.payer, pair.payee, "30.00")
    await expire(sql, gone)
    if posting == "resupply":
        done = await resupply(api, pair.payer, "1.00")
    elif posting == "transfer":
        done = await transfer(api, pair.payer, pair.payee, "1.00")
    else:
        done = await hold(api, pair.payer, pair.payee, "1.00")
    assert done["__typename"] in {"ResupplySuccess", "TransferSuccess", "HoldTransferSuccess"}
    before = await snapshot(sql)
    # when
    captured = await capture(api, gone)
    voided = await void(api, gone)
    # then: the same answer as before any posting: expired, not "not pending"
    assert (captured["__typename"], captured["holdId"]) == ("HoldExpired", gone)
    assert (voided["__typename"], voided["holdId"]) == ("HoldExpired", gone)
    assert await snapshot(sql) == before
    read = await get_hold(api, gone)
    assert read is not None
    assert read["status"] == "EXPIRED"
    await assert_sound(app, sql)


async def test_a_capture_refused_by_the_balance_limit_leaves_the_hold_pending(
    api: Api, sql: asyncpg.Connection, pair: Pair
) -> None:
    # given: a payee just below the limit (written directly: no single amount is that large)
    held = await hold_id(api, pair.payer, pair.payee, "30.00")
    await sql.execute(
        "UPDATE wallets SET balance = 999999999999999990.00 WHERE id = $1", int(pair.payee)
    )
    before = await snapshot(sql)
    # when
    result = await capture(api, held)
    # then
    assert result["__typename"] == "BalanceLimitExceeded", result
    assert await snapshot(sql) == before
    read = await get_hold(api, held)
    assert read is not None
    assert read["status"] == "PENDING"
    # and what fits can be captured
    done = await capture(api, held, "9.99")
    assert done["__typename"] == "CaptureHoldSuccess", done
    assert await money(api, pair.payer) == ("90.01", "0.00", "90.01")


async def test_a_hold_key_used_again_for_a_capture_is_refused(
    api: Api, sql: asyncpg.Connection, pair: Pair
) -> None:
    placed = await hold(api, pair.payer, pair.payee, "30.00", idempotencyKey="shared")
    before = await snapshot(sql)
    result = await capture(api, placed["hold"]["id"], idempotencyKey="shared")
    assert result["__typename"] == "IdempotencyKeyReused", result
    assert await snapshot(sql) == before


async def test_resolving_many_holds_of_one_wallet_at_once_all_succeed(
    api: Api, app: Starlette, sql: asyncpg.Connection, pair: Pair
) -> None:
    # given: forty holds of 2.00 on one wallet, to two payees
    _, other = await create_client(api, "other-payee")
    holds = [await hold_id(api, pair.payer, (pair.payee, other)[i % 2], "2.00") for i in range(40)]
    # when: all captured (even) or voided (odd) at the same time
    results = await asyncio.gather(
        *(capture(api, h) if i % 2 == 0 else void(api, h) for i, h in enumerate(holds))
    )
    # then: each resolved, none refused for contention
    kinds = [r["__typename"] for r in results]
    assert kinds == ["CaptureHoldSuccess", "VoidHoldSuccess"] * 20, kinds
    assert await money(api, pair.payer) == ("60.00", "0.00", "60.00")
    assert await money(api, pair.payee) == ("40.00", "0.00", "40.00")
    assert await money(api, other) == ("0.00", "0.00", "0.00")
    await assert_sound(app, sql)
