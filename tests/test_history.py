"""History: a wallet's operations as a connection, transactions, balances at an instant."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from support.api import Api
from support.documents import TRANSFER

OPERATIONS = """
query Ops($id: ID!, $first: Int, $after: String, $last: Int, $before: String,
          $since: DateTime, $until: DateTime) {
  wallet(id: $id) {
    operations(first: $first, after: $after, last: $last, before: $before,
               since: $since, until: $until) {
      edges {
        cursor
        node {
          id transactionNumber kind amount balanceAfter reference createdAt
          counterpartyWallet { id }
          wallet { id }
        }
      }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}
"""

TRANSACTION = """
query Tx($number: UUID!) {
  transaction(number: $number) {
    number kind amount reference createdAt
    legs { kind amount balanceAfter wallet { id } counterpartyWallet { id } }
  }
}
"""

BALANCE_AT = "query($id: ID!, $t: DateTime!) { wallet(id: $id) { balanceAt(time: $t) } }"


async def operations(api: Api, wallet: str, **args: Any) -> dict[str, Any]:
    data = await api.run(OPERATIONS, {"id": wallet, **args})
    connection: dict[str, Any] = data["wallet"]["operations"]
    return connection


def amounts(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["amount"] for edge in connection["edges"]]


@pytest.fixture
async def busy_wallet(api: Api) -> tuple[str, str]:
    """A wallet with resupplies of 1..5 and a transfer out of 2.50 (newest)."""
    _, wallet = await api.create_client("historian")
    _, other = await api.create_client("counterpart")
    for i in range(1, 6):
        await api.resupply(wallet, f"{i}.00")
    await api.run(
        TRANSFER,
        {
            "input": {
                "walletFromId": wallet,
                "walletToId": other,
                "amount": "2.50",
                "reference": "inv-9",
            }
        },
    )
    return wallet, other


async def test_operations_are_listed_newest_first_with_every_field(
    api: Api, busy_wallet: tuple[str, str]
) -> None:
    wallet, other = busy_wallet
    # when
    page = await operations(api, wallet)
    # then
    assert amounts(page) == ["-2.50", "5.00", "4.00", "3.00", "2.00", "1.00"]
    newest = page["edges"][0]["node"]
    assert newest["kind"] == "TRANSFER_OUT"
    assert newest["balanceAfter"] == "12.50"
    assert newest["reference"] == "inv-9"
    assert newest["counterpartyWallet"] == {"id": other}
    assert newest["wallet"] == {"id": wallet}
    oldest = page["edges"][-1]["node"]
    assert (oldest["kind"], oldest["balanceAfter"], oldest["counterpartyWallet"]) == (
        "RESUPPLY",
        "1.00",
        None,
    )
    assert page["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": page["edges"][0]["cursor"],
        "endCursor": page["edges"][-1]["cursor"],
    }
    # and the other side sees the incoming leg
    incoming = (await operations(api, other))["edges"][0]["node"]
    assert (incoming["kind"], incoming["amount"], incoming["counterpartyWallet"]) == (
        "TRANSFER_IN",
        "2.50",
        {"id": wallet},
    )


async def test_forward_pages_cover_the_history_once(api: Api, busy_wallet: tuple[str, str]) -> None:
    wallet, _ = busy_wallet
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = await operations(api, wallet, first=4, after=after)
        seen += amounts(page)
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 2
    assert seen == ["-2.50", "5.00", "4.00", "3.00", "2.00", "1.00"]
    assert page["pageInfo"]["hasPreviousPage"] is True  # the second page follows the first


async def test_backward_pages_from_the_oldest(api: Api, busy_wallet: tuple[str, str]) -> None:
    wallet, _ = busy_wallet
    # when
    oldest = await operations(api, wallet, last=2)
    newer = await operations(api, wallet, last=2, before=oldest["pageInfo"]["startCursor"])
    # then: each page is still newest first
    assert amounts(oldest) == ["2.00", "1.00"]
    assert oldest["pageInfo"]["hasPreviousPage"] is True
    assert amounts(newer) == ["4.00", "3.00"]
    assert newer["pageInfo"]["hasNextPage"] is True


async def test_cursors_stay_valid_while_new_operations_arrive(
    api: Api, busy_wallet: tuple[str, str]
) -> None:
    # given: a first page has been read
    wallet, _ = busy_wallet
    first = await operations(api, wallet, first=3)
    # when: new money arrives before the next page is read
    await api.resupply(wallet, "99.00")
    second = await operations(api, wallet, first=3, after=first["pageInfo"]["endCursor"])
    # then: the next page continues exactly where the first stopped
    assert amounts(first) == ["-2.50", "5.00", "4.00"]
    assert amounts(second) == ["3.00", "2.00", "1.00"]
    # and the new operation is found by paging backwards from the first page
    newer = await operations(api, wallet, last=10, before=first["pageInfo"]["startCursor"])
    assert amounts(newer) == ["99.00"]


async def test_time_window(api: Api, sql: asyncpg.Connection, busy_wallet: tuple[str, str]) -> None:
    # given: the operations spread over the past days
    wallet, _ = busy_wallet
    await sql.execute(
        "UPDATE wallet_operations SET created_at = now() - make_interval(days => 10 - id::int)"
        " WHERE wallet_id = $1",
        int(wallet),
    )
    stamps = await sql.fetch(
        "SELECT created_at, amount::text AS amount FROM wallet_operations WHERE wallet_id = $1"
        " ORDER BY created_at",
        int(wallet),
    )
    # when: [second, fourth) of the six
    page = await operations(
        api,
        wallet,
        since=stamps[1]["created_at"].isoformat(),
        until=stamps[3]["created_at"].isoformat(),
    )
    # then
    assert amounts(page) == [stamps[2]["amount"], stamps[1]["amount"]]


async def test_balance_at_an_instant(
    api: Api, sql: asyncpg.Connection, busy_wallet: tuple[str, str]
) -> None:
    wallet, _ = busy_wallet
    rows = await sql.fetch(
        "SELECT created_at, balance_after::text AS b FROM wallet_operations WHERE wallet_id = $1"
        " ORDER BY created_at, id",
        int(wallet),
    )
    created = await sql.fetchval("SELECT created_at FROM wallets WHERE id = $1", int(wallet))

    async def balance_at(moment: datetime) -> str | None:
        data = await api.run(BALANCE_AT, {"id": wallet, "t": moment.isoformat()})
        value: str | None = data["wallet"]["balanceAt"]
        return value

    assert await balance_at(created - timedelta(seconds=1)) is None  # before the wallet existed
    assert await balance_at(created) == "0.00"
    assert await balance_at(rows[0]["created_at"]) == "1.00"
    assert await balance_at(rows[2]["created_at"]) == "6.00"
    assert await balance_at(datetime.now(UTC) + timedelta(days=1)) == "12.50"
    # a time without an offset is UTC
    naive = rows[0]["created_at"].astimezone(UTC).replace(tzinfo=None)
    assert await balance_at(naive) == "1.00"


async def test_transaction_by_number(api: Api, busy_wallet: tuple[str, str]) -> None:
    wallet, other = busy_wallet
    number = (await operations(api, wallet, first=1))["edges"][0]["node"]["transactionNumber"]
    # when
    data = await api.run(TRANSACTION, {"number": number})
    # then
    tx = data["transaction"]
    assert (tx["number"], tx["kind"], tx["amount"], tx["reference"]) == (
        number,
        "TRANSFER",
        "2.50",
        "inv-9",
    )
    assert tx["legs"] == [
        {
            "kind": "TRANSFER_OUT",
            "amount": "-2.50",
            "balanceAfter": "12.50",
            "wallet": {"id": wallet},
            "counterpartyWallet": {"id": other},
        },
        {
            "kind": "TRANSFER_IN",
            "amount": "2.50",
            "balanceAfter": "2.50",
            "wallet": {"id": other},
            "counterpartyWallet": {"id": wallet},
        },
    ]
    # and an unknown number is null
    missing = await api.run(TRANSACTION, {"number": "00000000-0000-4000-8000-000000000000"})
    assert missing == {"transaction": None}


async def test_failed_operations_leave_no_history(api: Api, busy_wallet: tuple[str, str]) -> None:
    wallet, other = busy_wallet
    await api.transfer(wallet, other, "1000")  # insufficient funds
    assert len((await operations(api, wallet))["edges"]) == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"first": 1, "last": 1}, "not both"),
        ({"first": 101}, "between 0 and 100"),
        ({"last": -1}, "between 0 and 100"),
        ({"after": "not-a-cursor"}, "not a cursor"),
        ({"before": "bm9wZQ"}, "not a cursor"),
    ],
)
async def test_bad_paging_arguments_are_readable_errors(
    api: Api, busy_wallet: tuple[str, str], args: dict[str, Any], message: str
) -> None:
    wallet, _ = busy_wallet
    response = await api.post(OPERATIONS, {"id": wallet, **args})
    errors = response.json()["errors"]
    assert message in errors[0]["message"]
    assert "Internal error" not in errors[0]["message"]


async def test_reference_is_validated(api: Api) -> None:
    _, wallet = await api.create_client("referee")
    for reference, ok in (("x" * 255, True), ("x" * 256, False), ("bad\x00ref", False)):
        data = await api.run(
            "mutation($i: ResupplyInput!) { resupply(input: $i) { __typename"
            " ... on InvalidInput { field } ... on ResupplySuccess { reference } } }",
            {"i": {"walletId": wallet, "amount": "1", "reference": reference}},
        )
        result = data["resupply"]
        if ok:
            assert result == {"__typename": "ResupplySuccess", "reference": reference}
        else:
            assert result == {"__typename": "InvalidInput", "field": "reference"}


@pytest.mark.parametrize(
    ("args", "argument"),
    [
        ({"until": "9999-12-31T23:59:59-14:00"}, "until"),
        ({"since": "0001-01-01T00:00:00+00:01"}, "since"),
        ({"after": "MDAwMS0wMS0wMVQwMDowMDowMCsxNDowMHwx"}, "after"),  # a forged cursor
    ],
)
async def test_times_beyond_the_calendar_are_request_errors(
    api: Api, busy_wallet: tuple[str, str], args: dict[str, Any], argument: str
) -> None:
    wallet, _ = busy_wallet
    error = (await api.post(OPERATIONS, {"id": wallet, **args})).json()["errors"][0]
    assert f"`{argument}`" in error["message"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    stamp = "0001-01-01T00:00:00+00:01"
    error = (await api.post(BALANCE_AT, {"id": wallet, "t": stamp})).json()["errors"][0]
    assert error["message"] == "`time` is out of the range of times."


async def test_an_operation_is_timed_when_its_wallet_is_locked_not_when_it_began(
    api: Api, sql: asyncpg.Connection
) -> None:
    # given: a wallet whose row another session holds locked
    _, wallet = await api.create_client("timed")
    async with sql.transaction():
        await sql.execute("SELECT FROM wallets WHERE id = $1 FOR UPDATE", int(wallet))
        request = asyncio.create_task(api.resupply(wallet, "1.00"))
        await asyncio.sleep(0.3)  # the resupply has begun and waits for the lock
        released = await sql.fetchval("SELECT clock_timestamp()")
    # when: the lock is released and the resupply goes on
    result = await asyncio.wait_for(request, timeout=10)
    # then: its operation is timed after the release (so histories sort in lock order), while
    # its transaction keeps the time the request began
    assert result["__typename"] == "ResupplySuccess"
    row = await sql.fetchrow(
        "SELECT o.created_at AS operation, t.created_at AS began FROM wallet_operations o"
        " JOIN transactions t ON t.id = o.transaction_id WHERE o.wallet_id = $1",
        int(wallet),
    )
    assert row is not None
    assert row["began"] < released <= row["operation"]
