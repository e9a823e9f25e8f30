"""Concurrency: real concurrent connections, contention, and the retry path."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from decimal import Decimal
from functools import partial

import asyncpg
import pytest
from sqlalchemy import text
from starlette.applications import Starlette

from billing.config import Settings
from billing.db.database import Database
from billing.db.engine import create_engine
from billing.db.gate import HotWallets, KeyedLocks, Slots
from billing.db.statements import driver_of
from billing.domain.idempotency import lock_of
from billing.errors import ServiceUnavailable
from billing.events.relay import LOCK as RELAY_LOCK
from support import ledger_depth as depth
from support.api import Api, custom_api
from support.contention import resupply_past_a_competing_update
from support.documents import CREATE_CLIENT
from support.ledger import assert_ledger_consistent, total
from support.postgres import PgServer


@pytest.fixture
def pool_size() -> int:
    return 20  # at least 16 requests hold a connection at the same time


def make_hot(app: Starlette, *wallets: str) -> None:
    """As if the wallets' writers had just collided with another process's writers."""
    app.state.db.hot.mark([int(w) for w in wallets], asyncio.get_running_loop().time())


async def test_opposite_transfers_on_16_connections_never_fail(
    api: Api, app: Starlette, sql: asyncpg.Connection
) -> None:
    # given: two wallets, 16 workers, half sending A->B and half B->A at the same time
    _, a = await api.create_client("alpha")
    _, b = await api.create_client("beta")
    await api.resupply(a, "500.00")
    await api.resupply(b, "500.00")
    outcomes: list[str] = []

    async def worker(source: str, target: str, seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(40):
            amount = f"{rng.randint(1, 9000) / 100:.2f}"
            result = await api.transfer(source, target, amount)
            outcomes.append(result["__typename"])

    # when
    await asyncio.gather(*(worker(a, b, i) if i % 2 else worker(b, a, i) for i in range(16)))
    # then: only successes and insufficient funds; not one TryAgain or deadlock
    assert set(outcomes) <= {"TransferSuccess", "InsufficientFunds"}, set(outcomes)
    assert outcomes.count("TransferSuccess") > len(outcomes) // 2
    assert await total(sql) == Decimal("1000.00")
    await assert_ledger_consistent(sql)
    assert app.state.db.counters.try_again == 0


async def test_random_transfers_on_hot_wallets_conserve_money(
    api: Api, app: Starlette, sql: asyncpg.Connection
) -> None:
    # given: ten hot wallets
    wallets = [(await api.create_client(f"hot{i}"))[1] for i in range(10)]
    for wallet in wallets:
        await api.resupply(wallet, "100.00")
    outcomes: list[str] = []

    async def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(25):
            source, target = rng.sample(wallets, 2)
            result = await api.transfer(source, target, f"{rng.randint(1, 5000) / 100:.2f}")
            outcomes.append(result["__typename"])

    # when
    await asyncio.gather(*(worker(i) for i in range(16)))
    # then
    assert set(outcomes) <= {"TransferSuccess", "InsufficientFunds"}, set(outcomes)
    assert await total(sql) == Decimal("1000.00")
    await assert_ledger_consistent(sql)
    assert app.state.db.counters.try_again == 0


async def test_concurrent_resupplies_to_one_wallet_sum_exactly(
    api: Api, sql: asyncpg.Connection
) -> None:
    # given
    _, wallet = await api.create_client("target")
    amounts = [f"{i}.{i % 100:02d}" for i in range(1, 61)]
    # when
    results = await asyncio.gather(*(api.resupply(wallet, a) for a in amounts))
    # then
    assert {r["__typename"] for r in results} == {"ResupplySuccess"}
    expected = sum((Decimal(a) for a in amounts), Decimal(0))
    assert await api.balance(wallet) == f"{expected:.2f}"
    # and every resupply saw a different balance: each applied on top of the others
    assert len({r["walletBalance"] for r in results}) == len(amounts)
    await assert_ledger_consistent(sql)


async def test_concurrent_signups_for_one_login_create_exactly_one_client(
    api: Api, sql: asyncpg.Connection
) -> None:
    # when: twenty requests for the same login, in different cases
    logins = [("Racer" if i % 2 else "racer") for i in range(20)]
    results = await asyncio.gather(
        *(api.run(CREATE_CLIENT, {"input": {"login": login, "name": "R"}}) for login in logins)
    )
    # then
    kinds = [r["createClient"]["__typename"] for r in results]
    assert kinds.count("CreateClientSuccess") == 1
    assert kinds.count("LoginTaken") == 19
    assert await sql.fetchval("SELECT count(*) FROM clients") == 1
    assert await sql.fetchval("SELECT count(*) FROM wallets") == 1


async def test_serialization_conflict_is_retried_and_both_writes_succeed(
    api: Api, app: Starlette, sql: asyncpg.Connection, pg_server: PgServer, database: str
) -> None:
    # given: another SERIALIZABLE transaction has updated the wallet and not committed yet
    _, wallet = await api.create_client("contended")
    await api.resupply(wallet, "10.00")
    # when: the API resupplies it while that transaction commits first (the API gets a 40001)
    result = await resupply_past_a_competing_update(api, sql, pg_server.dsn(database), wallet)
    # then: the API retried on a fresh snapshot and succeeded on top of the other write
    assert result["__typename"] == "ResupplySuccess"
    assert result["walletBalance"] == "16.00"
    assert app.state.db.counters.retries >= 1
    assert await api.balance(wallet) == "16.00"
    # and the wallet now goes through the database gate: it has shown contention
    assert app.state.db.hot.is_hot(int(wallet), asyncio.get_running_loop().time())


async def test_a_transfer_between_quiet_wallets_is_one_statement(
    api: Api, app: Starlette, statements: list[str]
) -> None:
    # given: two wallets nobody else writes to
    _, a = await api.create_client("quiet-a")
    _, b = await api.create_client("quiet-b")
    await api.resupply(a, "3.00")
    statements.clear()
    # when
    result = await api.transfer(a, b, "1.00")
    # then: one round trip for the whole transfer: no gate, no BEGIN, no COMMIT
    assert result["walletFromBalance"] == "2.00"
    sent = [s for s in statements if "api_tokens" not in s]  # (the token check, if not cached)
    assert len(sent) == 1, sent
    assert "UPDATE wallets" in sent[0]


def gate_lock(sent: list[str]) -> int | None:
    """The lock, if ``sent`` is a write through the gate on one lock: that lock taken with its
    transaction's BEGIN, the write, then the ROLLBACK that releases it."""
    taken = re.fullmatch(
        r"BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock\((-?[0-9]+)\)",
        sent[0] if sent else "",
    )
    if len(sent) != 3 or taken is None or sent[2] != "ROLLBACK":
        return None
    return int(taken.group(1))


async def test_captures_voids_and_refunds_pass_the_gate_only_once_they_have_collided(
    api: Api,
    app: Starlette,
    statements: list[str],
    sql: asyncpg.Connection,
    pg_server: PgServer,
    database: str,
) -> None:
    # given: two holds and a payment between quiet wallets
    _, a = await api.create_client("resolve-a")
    _, b = await api.create_client("resolve-b")
    await api.resupply(a, "10.00")
    first, second = [await depth.hold_id(api, a, b, "2.00") for _ in range(2)]
    paid = (await depth.transfer(api, a, b, "3.00"))["transactionNumber"]
    for resolve, success in [
        (partial(depth.capture, api, first), "CaptureHoldSuccess"),
        (partial(depth.refund, api, paid, "1.00"), "RefundSuccess"),
    ]:
        statements.clear()
        # when
        assert (await resolve())["__typename"] == success
        # then: one round trip, as for a transfer
        sent = [s for s in statements if "api_tokens" not in s]
        assert len(sent) == 1, sent
    # when: a void of the second hold, and a refund of the payment, each collide with another
    # process's write to its wallet
    dsn = pg_server.dsn(database)
    for wallet, resolve, success in [
        (a, partial(depth.void, api, second), "VoidHoldSuccess"),
        (b, partial(depth.refund, api, paid, "1.00"), "RefundSuccess"),
    ]:
        answer = await resupply_past_a_competing_update(api, sql, dsn, wallet, resolve)
        assert answer["__typename"] == success
    assert app.state.db.counters.retries >= 2
    # then: whoever writes to that hold or payment next passes the gate, on its lock
    for resolve, expected, lock in [
        (partial(depth.capture, api, second), "HoldNotPending", lock_of(f"hold\0{second}")),
        (partial(depth.refund, api, paid, "1.00"), "RefundSuccess", lock_of(f"refund\0{paid}")),
    ]:
        statements.clear()
        assert (await resolve())["__typename"] == expected
        sent = [s for s in statements if "api_tokens" not in s]
        assert gate_lock(sent) == lock, sent


async def test_requests_with_an_idempotency_key_always_pass_the_gate_on_its_lock(
    api: Api, statements: list[str], sql: asyncpg.Connection
) -> None:
    # given: two quiet wallets
    _, a = await api.create_client("keyed-a")
    _, b = await api.create_client("keyed-b")
    await api.resupply(a, "3.00")
    statements.clear()
    # when
    result = await depth.transfer(api, a, b, "1.00", idempotencyKey="quiet-but-keyed")
    # then: the lock of the key (keys are per caller: here an operator's token) taken at the
    # gate, then the transfer
    assert result["__typename"] == "TransferSuccess"
    sent = [s for s in statements if "api_tokens" not in s]
    tokens = await sql.fetch("SELECT id FROM api_tokens")
    keys = {lock_of(f"operator:{t['id']}\0quiet-but-keyed") for t in tokens}
    assert gate_lock(sent) in keys, sent
    assert "UPDATE wallets" in sent[1]


async def test_a_transfer_between_hot_wallets_passes_the_gate_and_releases_it(
    api: Api, app: Starlette, statements: list[str], sql: asyncpg.Connection
) -> None:
    # given
    _, a = await api.create_client("hot-a")
    _, b = await api.create_client("hot-b")
    await api.resupply(a, "3.00")
    make_hot(app, a, b)
    statements.clear()
    # when
    await api.transfer(a, b, "1.00")
    # then: lock both (ascending) in a transaction of their own, transfer, end that transaction
    sent = [s for s in statements if "api_tokens" not in s]  # (the token check, if not cached)
    assert len(sent) == 3, sent
    low, high = sorted((int(a), int(b)))
    assert sent[0] == (
        "BEGIN ISOLATION LEVEL READ COMMITTED;"
        f" SELECT pg_advisory_xact_lock({low}); SELECT pg_advisory_xact_lock({high})"
    )
    assert "UPDATE wallets" in sent[1]
    assert sent[2] == "ROLLBACK"
    # (the events relay's leadership lock, in the two-key space, is not a wallet's)
    held = await sql.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
        " AND (classid, objid, objsubid) <> ($1, $2, 2)",
        *RELAY_LOCK,
    )
    assert held == 0


async def test_conflict_beyond_the_retry_budget_gives_try_again_and_writes_nothing(
    pg_server: PgServer, database: str, settings: Settings, sql: asyncpg.Connection
) -> None:
    # given: an API allowed a single attempt, and a competing transaction holding the row
    async with custom_api(settings, retry_max_attempts=1) as (application, api):
        _, wallet = await api.create_client("budget")
        # when
        result = await resupply_past_a_competing_update(api, sql, pg_server.dsn(database), wallet)
        # then: a typed, retryable answer, and only the competing write happened
        assert result["__typename"] == "TryAgain"
        assert result["code"] == "TRY_AGAIN"
        assert await api.balance(wallet) == "5.00"
        assert await sql.fetchval("SELECT count(*) FROM transactions") == 0
        assert application.state.db.counters.try_again == 1


async def test_a_lock_timeout_leaves_no_wallet_lock_behind(
    settings: Settings, sql: asyncpg.Connection
) -> None:
    # given: an API that waits at most half a second for a lock, and another session holding
    # the lock of the higher of two wallets (so the API takes the lower one, then times out)
    async with custom_api(settings, statement_timeout_ms=500) as (application, api):
        _, low = await api.create_client("low")
        _, high = await api.create_client("high")
        await api.resupply(low, "10.00")
        make_hot(application, low, high)
        await sql.execute("SELECT pg_advisory_lock($1)", int(high))
        try:
            # when
            blocked = await api.transfer(low, high, "1.00")
        finally:
            await sql.execute("SELECT pg_advisory_unlock($1)", int(high))
        # then: a typed answer, no lock left on any API connection, and the lower wallet is
        # immediately usable again
        assert blocked["__typename"] == "TryAgain"
        held = await sql.fetchval(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND a.application_name = 'billing-api'"
        )
        assert held == 0
        done = await asyncio.wait_for(api.resupply(low, "1.00"), timeout=5)
        assert done["walletBalance"] == "11.00"


async def test_writers_to_one_pair_queue_in_the_process_not_on_connections(
    app: Starlette, api: Api, sql: asyncpg.Connection
) -> None:
    # given: a pair of wallets that goes through the database gate
    _, a = await api.create_client("pool-a")
    _, b = await api.create_client("pool-b")
    await api.resupply(a, "1000.00")
    make_hot(app, a, b)
    waiting: list[int] = []

    async def sample() -> None:
        while True:
            waiting.append(
                await sql.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'billing-api'"
                    " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
                )
            )
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    # when: a hundred transfers on the same pair at once
    try:
        results = await asyncio.gather(*(api.transfer(a, b, "1.00") for _ in range(100)))
    finally:
        sampler.cancel()
    # then: all succeed, and no pooled connection ever sat waiting for another request's lock
    assert {r["__typename"] for r in results} == {"TransferSuccess"}
    assert await api.balance(b) == "100.00"
    assert len(waiting) > 10
    assert max(waiting) == 0


def test_a_hot_wallet_stays_hot_while_writers_queue_for_it_and_cools_down_after() -> None:
    # given: wallet 1 turned hot at t=0 (a retried conflict); wallet 2 never did
    hot = HotWallets(ttl=10.0)
    hot.mark([1], now=0.0)
    # when: writers queue for both at t=8
    hot.keep([1, 2], now=8.0)
    # then: 1 stays hot past its first ten seconds, 2 does not turn hot, and 1 cools down
    assert hot.is_hot(1, now=15.0)
    assert not hot.is_hot(2, now=8.0)
    assert not hot.is_hot(1, now=18.5)


async def test_connections_go_to_waiting_requests_first_come_first_served(
    pg_server: PgServer, database: str
) -> None:
    # given: one connection to share, in use, and three requests waiting for it in turn
    db = Database(create_engine(Settings(pool_size=1), pg_server.url(database)))
    order: list[str] = []
    loop = asyncio.get_running_loop()

    async def use(name: str) -> None:
        async with db.connection(loop.time() + 10) as conn:
            order.append(name)
            await conn.execute(text("SELECT 1"))

    try:
        async with db.connection(loop.time() + 10):
            waiting = []
            for name in ("first", "second", "third"):
                waiting.append(asyncio.create_task(use(name)))
                await asyncio.sleep(0.01)  # each is waiting before the next asks
            # when: it is given back, and a newcomer asks at that very moment
            newcomer = asyncio.create_task(use("newcomer"))
        await asyncio.gather(*waiting, newcomer)
    finally:
        await db.engine.dispose()
    # then: the waiting requests got it in the order they asked, the newcomer last
    assert order == ["first", "second", "third", "newcomer"]


@pytest.mark.parametrize("keep", [False, True])
async def test_a_use_cancelled_mid_transaction_never_hands_its_transaction_on(
    pg_server: PgServer, database: str, keep: bool
) -> None:
    # given: one connection, and a use of it cancelled while its transaction's statement runs
    # (as a request is cancelled while its BEGIN waits on a silent network)
    db = Database(
        create_engine(Settings(pool_size=1), pg_server.url(database)), keep_connections=keep
    )
    loop = asyncio.get_running_loop()

    async def stalled() -> None:
        async with db.connection(loop.time() + 10) as conn:
            await driver_of(conn).execute(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_sleep(5)"
            )

    try:
        task = asyncio.create_task(stalled())
        await asyncio.sleep(0.3)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # when: the next use of the (one) connection writes
        async with db.connection(loop.time() + 10) as conn:
            driver = driver_of(conn)
            in_transaction = driver.is_in_transaction()
            await driver.execute("CREATE TEMPORARY TABLE written (x int)")
    finally:
        await db.close()
        await db.engine.dispose()
    # then: it starts outside any transaction, and its write is not refused as read-only
    assert not in_transaction


# -- the queues in front of the database: connection slots and wallet locks ---------------------


async def test_connection_slots_go_to_those_waiting_first_come_first_served() -> None:
    # given: one slot, taken, and three requests waiting for it in turn
    loop = asyncio.get_running_loop()
    slots = Slots(1)
    await slots.take(loop, loop.time())
    served: list[int] = []

    async def wait(n: int) -> None:
        await slots.take(loop, loop.time() + 5)
        served.append(n)

    waiting = []
    for n in range(3):
        waiting.append(asyncio.create_task(wait(n)))
        await asyncio.sleep(0)
    # when: the slot is given back three times
    for _ in range(3):
        slots.give()
        await asyncio.sleep(0)
    await asyncio.gather(*waiting)
    # then: each got it in the order it came, and nothing is left over
    assert served == [0, 1, 2]
    assert slots.locked()


async def test_a_request_out_of_time_for_a_slot_gets_none_and_takes_none() -> None:
    # given: one slot, taken
    loop = asyncio.get_running_loop()
    slots = Slots(1)
    await slots.take(loop, loop.time())
    # when: another request waits for it for 50 ms
    started = loop.time()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(slots.take(loop, started + 0.05), 2)
    assert loop.time() - started < 1  # its own deadline ended the wait
    # then: once given back, the slot is free for the next request at once
    slots.give()
    assert not slots.locked()
    await asyncio.wait_for(slots.take(loop, loop.time()), 1)


async def test_each_request_waiting_for_a_slot_waits_until_its_own_time() -> None:
    # given: one slot, taken; a request that may wait 5 s, then one that may wait 50 ms
    loop = asyncio.get_running_loop()
    slots = Slots(1)
    await slots.take(loop, loop.time())
    started = loop.time()
    patient = asyncio.create_task(slots.take(loop, started + 5))
    await asyncio.sleep(0)
    # when / then: the second gives up at its own time, not at the first one's
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(slots.take(loop, started + 0.05), 2)
    assert loop.time() - started < 1
    # and the first still waits, and gets the slot when it is given back
    assert not patient.done()
    slots.give()
    await asyncio.wait_for(patient, 1)


async def test_a_slot_handed_to_a_request_cancelled_meanwhile_goes_to_the_next() -> None:
    # given: one slot, taken, and two requests waiting for it
    loop = asyncio.get_running_loop()
    slots = Slots(1)
    await slots.take(loop, loop.time())
    first = asyncio.create_task(slots.take(loop, loop.time() + 5))
    await asyncio.sleep(0)
    second = asyncio.create_task(slots.take(loop, loop.time() + 5))
    await asyncio.sleep(0)
    # when: the slot is handed to the first, which is cancelled before it runs again
    slots.give()
    first.cancel()
    # then: the second gets the slot, and it is the only one taken
    await asyncio.wait_for(second, 1)
    assert first.cancelled()
    assert slots.locked()


async def test_a_writer_out_of_time_in_the_wallet_queue_leaves_no_lock_behind() -> None:
    # given: a writer holding wallets 1 and 2
    loop = asyncio.get_running_loop()
    queue = KeyedLocks()
    assert await queue.acquire([1, 2], loop.time() + 5) == []
    # when: one writer waits for wallets 2 and 3 until its deadline, another is cancelled
    # while it waits for wallet 1
    with pytest.raises(ServiceUnavailable):
        await queue.acquire([2, 3], loop.time() + 0.05)
    cancelled = asyncio.create_task(queue.acquire([1], loop.time() + 5))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    # then: the first writer's wallets are the only ones held, and once given back, a writer
    # to all three finds them uncontended
    queue.release([1, 2])
    assert await asyncio.wait_for(queue.acquire([1, 2, 3], loop.time() + 1), 1) == []
    queue.release([1, 2, 3])
    assert not queue._locks
    assert not queue._users
