"""Currencies (issue 14): every wallet has one, amounts are checked against its exponent,
money is shown with exactly its digits, and money never moves between two currencies."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from starlette.applications import Starlette

from billing.config import Settings
from support.api import Api, api_for, custom_api, new_token
from support.ledger_depth import (
    assert_sound,
    capture,
    create_client,
    create_currency,
    create_wallet,
    currency_totals,
    hold,
    legs,
    money,
    refund,
    resupply,
    snapshot,
    split,
    transfer,
    wallet,
    wallet_in,
    withdraw,
)

CURRENCIES = "{ currencies { code exponent name custom } }"

OPERATIONS = """
query($id: ID!) { wallet(id: $id) { operations { edges { node { amount balanceAfter } } } } }
"""


async def currencies(api: Api) -> dict[str, dict[str, Any]]:
    data = await api.run(CURRENCIES)
    return {row["code"]: row for row in data["currencies"]}


# --- wallets and their currency ---------------------------------------------------------------


async def test_a_new_clients_wallet_is_in_usd_by_default(api: Api, sql: asyncpg.Connection) -> None:
    _, wallet_id = await create_client(api, "plain")
    assert await wallet(api, wallet_id) == {
        "id": wallet_id,
        "currency": "USD",
        "balance": "0.00",
        "held": "0.00",
        "available": "0.00",
    }
    assert await sql.fetchval("SELECT currency FROM wallets WHERE id = $1", int(wallet_id)) == (
        "USD"
    )


async def test_create_client_with_a_currency(api: Api, sql: asyncpg.Connection) -> None:
    _, wallet_id = await create_client(api, "tokyo", "JPY")
    assert await wallet(api, wallet_id) == {
        "id": wallet_id,
        "currency": "JPY",
        "balance": "0",
        "held": "0",
        "available": "0",
    }
    assert await sql.fetchval("SELECT currency FROM wallets WHERE id = $1", int(wallet_id)) == (
        "JPY"
    )


async def test_the_default_currency_is_a_setting(settings: Settings) -> None:
    # given: a service whose BILLING_DEFAULT_CURRENCY is EUR
    async with custom_api(settings, default_currency="EUR") as (_, api):
        # when
        _, wallet_id = await create_client(api, "european")
        # then
        found = await wallet(api, wallet_id)
        assert found is not None
        assert (found["currency"], found["balance"]) == ("EUR", "0.00")
        _, yen = await create_client(api, "still-yen", "JPY")
        assert (await money(api, yen))[0] == "0"


@pytest.mark.parametrize("currency", ["QQQ", "usd", "", "US"])
async def test_create_client_with_an_unknown_currency_is_invalid(
    api: Api, sql: asyncpg.Connection, currency: str
) -> None:
    before = await snapshot(sql)
    data = await api.run(
        "mutation($input: CreateClientInput!) { createClient(input: $input) { __typename"
        " ... on InvalidInput { field } } }",
        {"input": {"login": "nowhere", "name": "N", "currency": currency}},
    )
    assert data["createClient"] == {"__typename": "InvalidInput", "field": "currency"}
    assert await snapshot(sql) == before


async def test_operator_creates_a_wallet_in_another_currency(
    api: Api, sql: asyncpg.Connection
) -> None:
    client, first = await create_client(api, "traveller")
    # when
    result = await create_wallet(api, client, "EUR")
    # then
    assert result["__typename"] == "CreateWalletSuccess", result
    assert result["replayed"] is False
    created = result["wallet"]
    assert created["client"] == {"id": client}
    assert (created["currency"], created["balance"], created["held"], created["available"]) == (
        "EUR",
        "0.00",
        "0.00",
        "0.00",
    )
    wallets = await sql.fetch(
        "SELECT id::text AS id, currency FROM wallets WHERE client_id = $1 ORDER BY id",
        int(client),
    )
    assert [(r["id"], r["currency"]) for r in wallets] == [
        (first, "USD"),
        (created["id"], "EUR"),
    ]


async def test_create_wallet_is_replayed_with_its_key(api: Api, sql: asyncpg.Connection) -> None:
    client, _ = await create_client(api, "keyed")
    first = await create_wallet(api, client, "JPY", idempotencyKey="w-1")
    again = await create_wallet(api, client, "JPY", idempotencyKey="w-1")
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert again["wallet"]["id"] == first["wallet"]["id"]
    assert await sql.fetchval("SELECT count(*) FROM wallets WHERE client_id = $1", int(client)) == 2


async def test_a_client_creates_wallets_for_itself_only(
    app: Starlette, api: Api, sql: asyncpg.Connection
) -> None:
    alice, _ = await create_client(api, "alice")
    bob, _ = await create_client(api, "bob")
    async with api_for(app, await new_token(app, int(alice))) as as_alice:
        # when: for herself
        own = await create_wallet(as_alice, alice, "KWD")
        before = await snapshot(sql)
        # and for Bob, and for a client that does not exist
        foreign = await create_wallet(as_alice, bob, "KWD")
        missing = await create_wallet(as_alice, "999999", "KWD")
    # then
    assert own["__typename"] == "CreateWalletSuccess", own
    assert own["wallet"]["currency"] == "KWD"
    assert own["wallet"]["balance"] == "0.000"
    assert own["wallet"]["client"] == {"id": alice}
    assert foreign["__typename"] == missing["__typename"] == "ClientNotFound"
    assert (foreign["clientId"], missing["clientId"]) == (bob, "999999")
    assert foreign["message"].replace(bob, "N") == missing["message"].replace("999999", "N")
    assert await snapshot(sql) == before


async def test_create_wallet_refusals(api: Api, sql: asyncpg.Connection) -> None:
    client, _ = await create_client(api, "refused")
    before = await snapshot(sql)
    missing = await create_wallet(api, "999999", "USD")
    unknown = await create_wallet(api, client, "QQQ")
    assert (missing["__typename"], missing["clientId"]) == ("ClientNotFound", "999999")
    assert (unknown["__typename"], unknown["field"]) == ("InvalidInput", "currency")
    assert await snapshot(sql) == before


# --- amounts and their digits -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "sent", "shown"),
    [
        ("USD", "10.5", "10.50"),
        ("USD", "10.50", "10.50"),
        ("JPY", "1050", "1050"),
        ("JPY", "1050.0", "1050"),  # a trailing zero that does not change the value
        ("JPY", "1050.000", "1050"),
        ("KWD", "1.5", "1.500"),
        ("KWD", "1.500", "1.500"),
        ("EUR", "0.01", "0.01"),
    ],
)
async def test_money_has_exactly_the_currencys_digits(
    api: Api, currency: str, sent: str, shown: str
) -> None:
    wallet_id = await wallet_in(api, "digits", currency)
    # when
    result = await resupply(api, wallet_id, sent)
    # then
    assert result["__typename"] == "ResupplySuccess", result
    assert (result["amount"], result["walletBalance"]) == (shown, shown)
    assert result["wallet"]["currency"] == currency
    assert (result["wallet"]["balance"], result["wallet"]["available"]) == (shown, shown)
    data = await api.run(OPERATIONS, {"id": wallet_id})
    assert data["wallet"]["operations"]["edges"] == [
        {"node": {"amount": shown, "balanceAfter": shown}}
    ]


async def test_balances_in_three_currencies_after_transfers(api: Api) -> None:
    usd = [await wallet_in(api, f"usd{i}", "USD") for i in range(2)]
    jpy = [await wallet_in(api, f"jpy{i}", "JPY") for i in range(2)]
    kwd = [await wallet_in(api, f"kwd{i}", "KWD") for i in range(2)]
    await resupply(api, usd[0], "20")
    await resupply(api, jpy[0], "2000")
    await resupply(api, kwd[0], "3")
    # when
    moved = [
        await transfer(api, usd[0], usd[1], "9.5"),
        await transfer(api, jpy[0], jpy[1], "950"),
        await transfer(api, kwd[0], kwd[1], "1.5"),
    ]
    # then
    assert [(m["amount"], m["walletFromBalance"], m["walletToBalance"]) for m in moved] == [
        ("9.50", "10.50", "9.50"),
        ("950", "1050", "950"),
        ("1.500", "1.500", "1.500"),
    ]
    assert [(await money(api, w))[0] for w in (usd[0], jpy[0], kwd[0])] == [
        "10.50",
        "1050",
        "1.500",
    ]


@pytest.mark.parametrize(
    ("currency", "amount"), [("JPY", "10.5"), ("USD", "10.505"), ("KWD", "1.0005"), ("JPY", "0.1")]
)
async def test_more_digits_than_the_currency_has_is_invalid_amount(
    api: Api, app: Starlette, sql: asyncpg.Connection, currency: str, amount: str
) -> None:
    # given: two funded wallets in the currency, and a third to receive
    payer = await wallet_in(api, "payer", currency)
    payee = await wallet_in(api, "payee", currency)
    third = await wallet_in(api, "third", currency)
    await resupply(api, payer, "1000")
    await resupply(api, payee, "1000")
    before = await snapshot(sql)
    # when: every money-moving mutation is given that amount
    results = [
        await resupply(api, payer, amount),
        await withdraw(api, payer, amount),
        await transfer(api, payer, payee, amount),
        await hold(api, payer, payee, amount),
    ]
    split_result = await split(api, payer, legs((payee, "1"), (third, amount)))
    # then
    for result in results:
        assert result["__typename"] == "InvalidInput", result
        assert result["field"] == "amount"
    assert split_result["__typename"] == "InvalidInput", split_result
    assert split_result["field"] == "legs[1].amount"
    assert await snapshot(sql) == before
    await assert_sound(app, sql)


async def test_the_balance_limit_holds_per_currency(api: Api, sql: asyncpg.Connection) -> None:
    # given: wallets close to the limit (written directly: no single amount is that large)
    jpy = await wallet_in(api, "rich-jpy", "JPY")
    kwd = await wallet_in(api, "rich-kwd", "KWD")
    await sql.execute("UPDATE wallets SET balance = 999999999999999000 WHERE id = $1", int(jpy))
    await sql.execute("UPDATE wallets SET balance = 999999999999999999.000 WHERE id = $1", int(kwd))
    # when / then: up to 10^18 minus one minor unit, not a unit more
    over = await resupply(api, jpy, "1000")
    assert (over["__typename"], over["limit"]) == ("BalanceLimitExceeded", "999999999999999999")
    assert (await resupply(api, jpy, "999"))["walletBalance"] == "999999999999999999"
    assert (await resupply(api, kwd, "0.999"))["walletBalance"] == "999999999999999999.999"
    over = await resupply(api, kwd, "0.001")
    assert (over["__typename"], over["limit"]) == (
        "BalanceLimitExceeded",
        "999999999999999999.999",
    )


# --- custom assets ----------------------------------------------------------------------------


async def test_seeded_iso_currencies(api: Api) -> None:
    listed = await currencies(api)
    assert {
        code: (row["exponent"], row["custom"])
        for code, row in listed.items()
        if code in {"USD", "EUR", "JPY", "KWD"}
    } == {
        "USD": (2, False),
        "EUR": (2, False),
        "JPY": (0, False),
        "KWD": (3, False),
    }


@pytest.mark.parametrize(
    ("code", "exponent", "amount", "shown"),
    [
        ("POINTS", 0, "5", "5"),
        ("SATS_8", 8, "0.00000001", "0.00000001"),
        ("GOLD", 4, "1.5", "1.5000"),
        ("X2Y", 1, "1.0", "1.0"),
        ("ABCDEFGHIJKL", 2, "3", "3.00"),  # twelve characters: the longest code
    ],
)
async def test_operator_adds_a_custom_asset(
    api: Api, sql: asyncpg.Connection, code: str, exponent: int, amount: str, shown: str
) -> None:
    # when
    result = await create_currency(api, code, exponent, "Loyalty points")
    # then
    assert result == {
        "__typename": "CreateCurrencySuccess",
        "currency": {"code": code, "exponent": exponent, "name": "Loyalty points", "custom": True},
    }
    assert (await currencies(api))[code] == result["currency"]
    stored = await sql.fetchrow("SELECT exponent, custom FROM currencies WHERE code = $1", code)
    assert stored is not None
    assert (stored["exponent"], stored["custom"]) == (exponent, True)
    # and wallets can hold it, with its digits
    wallet_id = await wallet_in(api, "collector", code)
    credited = await resupply(api, wallet_id, amount)
    assert (credited["amount"], credited["walletBalance"]) == (shown, shown)
    finer = await resupply(api, wallet_id, "0." + "0" * exponent + "1")
    assert (finer["__typename"], finer["field"]) == ("InvalidInput", "amount")


@pytest.mark.parametrize(
    ("code", "exponent", "field"),
    [
        ("POINTS", 9, "exponent"),
        ("POINTS", -1, "exponent"),
        ("AB", 0, "code"),
        ("ABCDEFGHIJKLM", 0, "code"),
        ("points", 0, "code"),
        ("1AB", 0, "code"),
        ("A-B", 0, "code"),
        ("_AB", 0, "code"),
    ],
)
async def test_create_currency_invalid_input(
    api: Api, sql: asyncpg.Connection, code: str, exponent: int, field: str
) -> None:
    before = await snapshot(sql)
    result = await create_currency(api, code, exponent, "Bad")
    assert (result["__typename"], result["field"]) == ("InvalidInput", field)
    assert await snapshot(sql) == before


@pytest.mark.parametrize("code", ["USD", "JPY"])
async def test_an_existing_code_is_currency_exists(
    api: Api, sql: asyncpg.Connection, code: str
) -> None:
    before = await snapshot(sql)
    result = await create_currency(api, code, 2, "Again")
    assert (result["__typename"], result["currencyCode"]) == ("CurrencyExists", code)
    assert await snapshot(sql) == before
    assert (await currencies(api))[code]["custom"] is False


async def test_a_custom_code_taken_twice_is_currency_exists(api: Api) -> None:
    assert (await create_currency(api, "MILES", 0, "Miles"))["__typename"] == (
        "CreateCurrencySuccess"
    )
    again = await create_currency(api, "MILES", 2, "Other miles")
    assert (again["__typename"], again["currencyCode"]) == ("CurrencyExists", "MILES")
    assert (await currencies(api))["MILES"]["exponent"] == 0


# --- no money between currencies ---------------------------------------------------------------


async def test_moving_money_between_currencies_is_currency_mismatch(
    api: Api, app: Starlette, sql: asyncpg.Connection
) -> None:
    # given
    usd = await wallet_in(api, "dollar", "USD")
    usd2 = await wallet_in(api, "dollar2", "USD")
    jpy = await wallet_in(api, "yen", "JPY")
    eur = await wallet_in(api, "euro", "EUR")
    await resupply(api, usd, "100.00")
    before = await snapshot(sql)
    # when
    results = {
        "transfer": await transfer(api, usd, jpy, "10"),
        "hold": await hold(api, usd, jpy, "10"),
        "split": await split(api, usd, legs((usd2, "1"), (jpy, "1"), (eur, "1"))),
    }
    # then: the first wallet whose currency differs from the payer's is named
    for result in results.values():
        assert result["__typename"] == "CurrencyMismatch", result
        assert (result["walletId"], result["currency"], result["expected"]) == (jpy, "JPY", "USD")
    assert await snapshot(sql) == before
    # and an EUR wallet paying a USD one is named the other way round
    await resupply(api, eur, "5")
    back = await transfer(api, eur, usd, "1")
    assert (back["__typename"], back["walletId"], back["currency"], back["expected"]) == (
        "CurrencyMismatch",
        usd,
        "USD",
        "EUR",
    )
    await assert_sound(app, sql)


# --- totals per currency ----------------------------------------------------------------------


async def test_ledger_summary_per_currency(
    api: Api, app: Starlette, sql: asyncpg.Connection
) -> None:
    # given
    usd = [await wallet_in(api, f"usd{i}", "USD") for i in range(2)]
    jpy = await wallet_in(api, "jpy", "JPY")
    kwd = await wallet_in(api, "kwd", "KWD")
    await resupply(api, usd[0], "100.00")
    await resupply(api, usd[1], "0.50")
    await transfer(api, usd[0], usd[1], "10.00")
    await withdraw(api, usd[0], "20.25")
    await hold(api, usd[0], usd[1], "5.00")
    await resupply(api, jpy, "1000")
    await withdraw(api, jpy, "1")
    await resupply(api, kwd, "0.125")
    # when
    totals = await currency_totals(api)
    # then
    assert totals["USD"] == {
        "currency": "USD",
        "wallets": 2,
        "totalBalance": "80.25",
        "totalHeld": "5.00",
        "totalResupplied": "100.50",
        "totalWithdrawn": "20.25",
    }
    assert totals["JPY"] == {
        "currency": "JPY",
        "wallets": 1,
        "totalBalance": "999",
        "totalHeld": "0",
        "totalResupplied": "1000",
        "totalWithdrawn": "1",
    }
    assert totals["KWD"] == {
        "currency": "KWD",
        "wallets": 1,
        "totalBalance": "0.125",
        "totalHeld": "0.000",
        "totalResupplied": "0.125",
        "totalWithdrawn": "0.000",
    }
    assert {code for code, row in totals.items() if row["wallets"]} == {"USD", "JPY", "KWD"}
    await assert_sound(app, sql)


async def test_every_answer_shows_the_currencys_digits(
    api: Api, app: Starlette, sql: asyncpg.Connection
) -> None:
    # given: three KWD wallets (three decimals)
    payer = await wallet_in(api, "kwd-payer", "KWD")
    seller = await wallet_in(api, "kwd-seller", "KWD")
    fee = await wallet_in(api, "kwd-fee", "KWD")
    assert (await resupply(api, payer, "10"))["walletBalance"] == "10.000"
    # when: a split, a refund of it, a hold, a partial capture and a payout
    paid = await split(api, payer, legs((seller, "1.5"), (fee, "0.25")))
    back = await refund(api, paid["transactionNumber"], "0.1")
    placed = await hold(api, payer, seller, "2")
    captured = await capture(api, placed["hold"]["id"], "0.5")
    out = await withdraw(api, payer, "1")
    # then
    assert (paid["amount"], paid["walletFromBalance"]) == ("1.750", "8.250")
    assert [leg["amount"] for leg in paid["legs"]] == ["1.500", "0.250"]
    assert (back["amount"], back["remaining"]) == ("0.100", "1.650")
    assert (placed["amount"], placed["hold"]["amount"]) == ("2.000", "2.000")
    assert (placed["walletFrom"]["held"], placed["walletFrom"]["available"]) == ("2.000", "6.350")
    assert (captured["amount"], captured["hold"]["capturedAmount"]) == ("0.500", "0.500")
    assert (out["amount"], out["walletBalance"]) == ("1.000", "6.850")
    assert await money(api, payer) == ("6.850", "0.000", "6.850")
    assert await money(api, seller) == ("1.900", "0.000", "1.900")
    await assert_sound(app, sql)
