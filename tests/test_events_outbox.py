"""The outbox (issue 15 §1): every committed ledger change writes its events in the same
statement, and neither way of reading them can skip one whose transaction commits late."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from starlette.applications import Starlette

from billing.config import Settings
from billing.db.engine import create_engine
from billing.db.migrate import run_alembic
from billing.domain import events, holds, payments, posting
from billing.domain.access import SYSTEM
from support.api import Api
from support.ledger_depth import (
    assert_sound,
    capture,
    create_client,
    hold_id,
    refund,
    resupply,
    split,
    transfer,
    void,
    withdraw,
)

EVENTS_OF = (
    "SELECT seq, kind, amount, held_change, balance, available, hold_id IS NOT NULL AS on_hold,"
    " transaction_id IS NOT NULL AS in_transaction FROM wallet_events"
    " WHERE wallet_id = $1 ORDER BY seq"
)


async def events_of(sql: asyncpg.Connection, wallet: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in await sql.fetch(EVENTS_OF, int(wallet))]


def d(value: str) -> Decimal:
    return Decimal(value)


async def test_each_change_of_a_wallet_writes_one_event_with_its_balances(
    api: Api, app: Starlette, sql: asyncpg.Connection
) -> None:
    # given
    _, payer = await create_client(api, "payer")
    _, payee = await create_client(api, "payee")
    _, third = await create_client(api, "third")
    # when: every kind of posting, with a refusal and a dry run among them
    assert (await resupply(api, payer, "100.00"))["__typename"] == "ResupplySuccess"
    paid = await transfer(api, payer, payee, "10.00")
    assert (await transfer(api, payer, payee, "1000.00"))["__typename"] == "InsufficientFunds"
    assert (await transfer(api, payer, payee, "1.00", dryRun=True))["dryRun"] is True
    held = await hold_id(api, payer, payee, "30.00")
    assert (await capture(api, held, "20.00"))["__typename"] == "CaptureHoldSuccess"
    voided = await hold_id(api, payer, third, "5.00")
    assert (await void(api, voided))["__typename"] == "VoidHoldSuccess"
    back = await refund(api, paid["transactionNumber"], "4.00")
    assert back["__typename"] == "RefundSuccess", back
    assert (await withdraw(api, payee, "6.00"))["__typename"] == "WithdrawSuccess"
    parts = await split(
        api,
        payer,
        [{"walletToId": payee, "amount": "1.00"}, {"walletToId": third, "amount": "2.00"}],
    )
    assert parts["__typename"] == "SplitTransferSuccess", parts
    # then: one event per change, numbered 1, 2, 3..., with balance and available after it
    assert await events_of(sql, payer) == [
        (1, "RESUPPLY", d("100.00"), d("0.00"), d("100.00"), d("100.00"), False, True),
        (2, "TRANSFER", d("-10.00"), d("0.00"), d("90.00"), d("90.00"), False, True),
        (3, "HOLD", d("0.00"), d("30.00"), d("90.00"), d("60.00"), True, True),
        (4, "CAPTURE", d("-20.00"), d("-30.00"), d("70.00"), d("70.00"), True, True),
        (5, "HOLD", d("0.00"), d("5.00"), d("70.00"), d("65.00"), True, True),
        (6, "VOID", d("0.00"), d("-5.00"), d("70.00"), d("70.00"), True, True),
        (7, "REFUND", d("4.00"), d("0.00"), d("74.00"), d("74.00"), False, True),
        (8, "SPLIT", d("-3.00"), d("0.00"), d("71.00"), d("71.00"), False, True),
    ]
    assert await events_of(sql, payee) == [
        (1, "TRANSFER", d("10.00"), d("0.00"), d("10.00"), d("10.00"), False, True),
        (2, "CAPTURE", d("20.00"), d("0.00"), d("30.00"), d("30.00"), True, True),
        (3, "REFUND", d("-4.00"), d("0.00"), d("26.00"), d("26.00"), False, True),
        (4, "WITHDRAWAL", d("-6.00"), d("0.00"), d("20.00"), d("20.00"), False, True),
        (5, "SPLIT", d("1.00"), d("0.00"), d("21.00"), d("21.00"), False, True),
    ]
    assert [e[:3] for e in await events_of(sql, third)] == [(1, "SPLIT", d("2.00"))]
    assert await sql.fetchval("SELECT event_seq FROM wallets WHERE id = $1", int(payer)) == 8
    await assert_sound(app, sql)


async def test_an_expired_hold_has_its_event_before_the_change_that_finds_it_expired(
    api: Api, app: Starlette, sql: asyncpg.Connection
) -> None:
    # given: two holds whose expiry has passed (the earlier one first), and one that has not
    _, payer = await create_client(api, "payer")
    _, payee = await create_client(api, "payee")
    await resupply(api, payer, "100.00")
    first = await hold_id(api, payer, payee, "10.00")
    second = await hold_id(api, payer, payee, "20.00")
    await hold_id(api, payer, payee, "30.00")
    for hold, ago in ((first, timedelta(seconds=2)), (second, timedelta(seconds=1))):
        await sql.execute(
            "WITH h AS (UPDATE holds SET expires_at = clock_timestamp() - CAST($2 AS interval)"
            " WHERE id = $1 RETURNING wallet_from_id, expires_at)"
            " UPDATE wallets w SET held_until = least(w.held_until, h.expires_at)"
            " FROM h WHERE w.id = h.wallet_from_id",
            int(hold),
            ago,
        )
    # when: the next posting on the wallet
    assert (await transfer(api, payer, payee, "1.00"))["__typename"] == "TransferSuccess"
    # then: each expiry is an event of its own, at its moment, before the transfer's
    found = await sql.fetch(
        "SELECT seq, kind, amount, held_change, balance, available, hold_id, created_at"
        " FROM wallet_events WHERE wallet_id = $1 AND seq > 4 ORDER BY seq",
        int(payer),
    )
    assert [(r["seq"], r["kind"], r["held_change"], r["available"]) for r in found] == [
        (5, "HOLD_EXPIRED", d("-10.00"), d("50.00")),  # 100 - 30 - 20 still held
        (6, "HOLD_EXPIRED", d("-20.00"), d("70.00")),
        (7, "TRANSFER", d("0.00"), d("69.00")),
    ]
    assert [r["hold_id"] for r in found[:2]] == [int(first), int(second)]
    expiries = await sql.fetch(
        "SELECT expires_at FROM holds WHERE id = ANY($1) ORDER BY id", [int(first), int(second)]
    )
    assert [r["created_at"] for r in found[:2]] == [r["expires_at"] for r in expiries]
    await assert_sound(app, sql)


async def test_a_transaction_that_commits_late_is_neither_skipped_nor_read_out_of_order(
    api: Api, app: Starlette, sql: asyncpg.Connection
) -> None:
    """The trap: ids are handed out before commit, so "everything after the last id I saw"
    skips a transaction that took its ids early and commits late. Hold one open and let later
    ones commit meanwhile."""
    # given: four wallets, and the relay's reading position before anything happens
    _, a = await create_client(api, "wallet-a")
    _, b = await create_client(api, "wallet-b")
    _, c = await create_client(api, "wallet-c")
    _, e = await create_client(api, "wallet-e")
    for wallet in (a, c):
        await resupply(api, wallet, "100.00")
    db = app.state.db
    async with db.engine.connect() as reader:
        start = (await events.horizon(reader), 0)
        await reader.rollback()
    late_request = payments.request(
        SYSTEM,
        "TRANSFER",
        {},
        reference="late",
        metadata=None,
        idempotency_key=None,
        dry_run=False,
    )
    legs = [posting.Leg(int(a), d("-1.00")), posting.Leg(int(b), d("1.00"))]
    async with db.engine.connect() as late:
        # when: a transfer a -> b writes its events and stays open...
        await late.begin()
        await late.exec_driver_sql("SELECT 1")  # the transaction starts at its first statement
        answer = await posting.post(late, payments.TRANSFER, late_request, posting.given(legs))
        assert answer.allowed
        # ...while a transfer c -> e commits, and one from a waits for a's lock
        assert (await transfer(api, c, e, "2.00"))["__typename"] == "TransferSuccess"
        queued = asyncio.create_task(transfer(api, a, e, "3.00"))
        await asyncio.sleep(0.3)
        assert not queued.done()
        ids = await sql.fetch("SELECT id, wallet_id FROM wallet_events WHERE tx >= $1", start[0])
        late_ids = await late.exec_driver_sql(
            f"SELECT min(id) FROM wallet_events WHERE transaction_id = {answer.transaction_id}"
        )
        earliest_late = late_ids.scalar_one()
        # then: the committed transfer's events have the larger ids, so a reader by id that
        # saw them would have passed the open transaction's events for good...
        assert len(ids) == 2  # c's and e's: the queued transfer has written nothing yet
        assert min(r["id"] for r in ids) > earliest_late
        # ...but the reader below the horizon sees nothing past the open transaction
        async with db.engine.connect() as reader:
            below = await events.horizon(reader)
            assert await events.events_after(reader, start, below) == []
            await reader.rollback()
        await late.commit()
    assert (await queued)["__typename"] == "TransferSuccess"
    # and once it has committed, every event arrives, the late one first
    async with db.engine.connect() as reader:
        seen = await events.events_after(reader, start, await events.horizon(reader))
        await reader.rollback()
    got = [(ev.wallet_id, ev.amount) for _, ev in seen]
    assert sorted(got[:2]) == [(int(a), d("-1.00")), (int(b), d("1.00"))]
    assert sorted(got[2:]) == sorted(
        [(int(c), d("-2.00")), (int(e), d("2.00")), (int(a), d("-3.00")), (int(e), d("3.00"))]
    )
    positions = [p for p, _ in seen]
    assert positions == sorted(positions)
    # per wallet, the numbers follow the commits: a's late transfer is 2, the queued one 3
    async with db.engine.connect() as reader:
        of_a = await events.wallet_events(reader, int(a), after=0)
        await reader.rollback()
    assert [(ev.seq, ev.amount) for ev in of_a] == [
        (1, d("100.00")),
        (2, d("-1.00")),
        (3, d("-3.00")),
    ]
    assert [ev.transaction_number for ev in of_a][1] == late_request.number
    await assert_sound(app, sql)


async def test_the_sweep_expires_lapsed_holds_with_their_events_and_nothing_else(
    api: Api, app: Starlette, sql: asyncpg.Connection
) -> None:
    # given: a wallet with a lapsed hold and a live one, and a wallet with a live hold only
    # (and no relay sweeping meanwhile: this test sweeps)
    await app.state.relay.stop()
    _, payer = await create_client(api, "payer")
    _, other = await create_client(api, "other")
    _, payee = await create_client(api, "payee")
    for wallet in (payer, other):
        await resupply(api, wallet, "100.00")
    lapsed = await hold_id(api, payer, payee, "10.00")
    await hold_id(api, payer, payee, "20.00")
    await hold_id(api, other, payee, "30.00")
    await sql.execute(
        "WITH h AS (UPDATE holds SET expires_at = clock_timestamp() WHERE id = $1"
        " RETURNING wallet_from_id, expires_at)"
        " UPDATE wallets w SET held_until = least(w.held_until, h.expires_at)"
        " FROM h WHERE w.id = h.wallet_from_id",
        int(lapsed),
    )
    # when
    swept = await holds.expire_lapsed(app.state.db)
    again = await holds.expire_lapsed(app.state.db)
    # then: one wallet swept, once; its hold expired with its event; no transaction recorded
    assert (swept, again) == (1, 0)
    assert await sql.fetchval("SELECT status FROM holds WHERE id = $1", int(lapsed)) == "EXPIRED"
    assert (await events_of(sql, payer))[-1] == (
        4,
        "HOLD_EXPIRED",
        d("0"),
        d("-10.00"),
        d("100.00"),
        d("80.00"),
        True,
        False,
    )
    assert [e[1] for e in await events_of(sql, other)] == ["RESUPPLY", "HOLD"]
    assert await sql.fetchval("SELECT held FROM wallets WHERE id = $1", int(payer)) == d("20.00")
    assert await sql.fetchval("SELECT count(*) FROM transactions WHERE kind = 'HOLD'") == 3
    await assert_sound(app, sql)


async def test_a_process_migrates_while_another_leads_the_relay(
    app: Starlette, settings: Settings
) -> None:
    # given: this process's relay leads
    for _ in range(100):
        if app.state.relay.leading:
            break
        await asyncio.sleep(0.05)
    assert app.state.relay.leading
    # when: another process starts, and migrates first (as `billing serve` does)
    assert settings.database_url is not None
    engine = create_engine(settings, settings.database_url)
    try:
        # then: the relay's lock is not the migrations' lock
        await asyncio.wait_for(run_alembic(engine), 10)
    finally:
        await engine.dispose()


async def test_the_leading_relay_expires_a_lapsed_hold_within_seconds(
    api: Api, app: Starlette, sql: asyncpg.Connection
) -> None:
    # given: a hold that has just lapsed on a wallet nothing else touches
    _, payer = await create_client(api, "payer")
    _, payee = await create_client(api, "payee")
    await resupply(api, payer, "100.00")
    lapsed = await hold_id(api, payer, payee, "10.00")
    await sql.execute(
        "WITH h AS (UPDATE holds SET expires_at = clock_timestamp() WHERE id = $1"
        " RETURNING wallet_from_id, expires_at)"
        " UPDATE wallets w SET held_until = least(w.held_until, h.expires_at)"
        " FROM h WHERE w.id = h.wallet_from_id",
        int(lapsed),
    )
    # when: time passes
    for _ in range(100):
        if await sql.fetchval("SELECT status FROM holds WHERE id = $1", int(lapsed)) != "PENDING":
            break
        await asyncio.sleep(0.05)
    # then: the relay's sweep expired it, with its event
    assert await sql.fetchval("SELECT status FROM holds WHERE id = $1", int(lapsed)) == "EXPIRED"
    assert (await events_of(sql, payer))[-1][1] == "HOLD_EXPIRED"
