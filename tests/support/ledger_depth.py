"""Issue 14 (ledger depth): the documents and helpers the tests of currencies, holds, refunds,
splits, payouts, metadata and dry runs share.

The documents read a few fields under aliases the tests share: HoldNotPending ``status:
holdStatus``, RefundSuccess ``walletFrom: walletTo`` (the paying wallet the refund credits),
the errors' ``transactionNumber`` as ``number``; tests/test_ledger_contract.py asks for the
fields by their own names.

Each document selects its success type's fields and the fields of the errors the contract
(/work/spec-ledger.md) says the mutation may answer with; every error also gives its code and
message. Helpers return the mutation's result object.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg
from starlette.applications import Starlette

from billing.domain.audit import audit
from support.api import Api
from support.documents import ERROR_FIELDS
from support.ledger import assert_ledger_consistent

WALLET_FIELDS = "id currency balance held available"
HOLD_FIELDS = (
    "id status amount capturedAmount currency expiresAt walletFromId walletToId reference"
    " metadata createdAt resolvedAt"
)

CREATE_CLIENT = f"""
mutation CreateClient($input: CreateClientInput!) {{
  createClient(input: $input) {{
    __typename
    ... on CreateClientSuccess {{ client {{ id }} wallet {{ {WALLET_FIELDS} }} replayed }}
    ... on InvalidInput {{ field }}
    {ERROR_FIELDS}
  }}
}}
"""

CREATE_WALLET = f"""
mutation CreateWallet($input: CreateWalletInput!) {{
  createWallet(input: $input) {{
    __typename
    ... on CreateWalletSuccess {{ wallet {{ {WALLET_FIELDS} client {{ id }} }} replayed }}
    ... on InvalidInput {{ field }}
    ... on ClientNotFound {{ clientId }}
    {ERROR_FIELDS}
  }}
}}
"""

CREATE_CURRENCY = f"""
mutation CreateCurrency($input: CreateCurrencyInput!) {{
  createCurrency(input: $input) {{
    __typename
    ... on CreateCurrencySuccess {{ currency {{ code exponent name custom }} }}
    ... on InvalidInput {{ field }}
    ... on CurrencyExists {{ currencyCode }}
    {ERROR_FIELDS}
  }}
}}
"""

RESUPPLY = f"""
mutation Resupply($input: ResupplyInput!) {{
  resupply(input: $input) {{
    __typename
    ... on ResupplySuccess {{
      walletId amount transactionNumber walletBalance wallet {{ {WALLET_FIELDS} }}
      reference metadata dryRun replayed
    }}
    ... on InvalidInput {{ field }}
    ... on WalletNotFound {{ walletId }}
    ... on BalanceLimitExceeded {{ walletId limit }}
    {ERROR_FIELDS}
  }}
}}
"""

WITHDRAW = f"""
mutation Withdraw($input: WithdrawInput!) {{
  withdraw(input: $input) {{
    __typename
    ... on WithdrawSuccess {{
      walletId amount transactionNumber walletBalance wallet {{ {WALLET_FIELDS} }}
      reference metadata dryRun replayed
    }}
    ... on InvalidInput {{ field }}
    ... on WalletNotFound {{ walletId }}
    ... on InsufficientFunds {{ walletId balance requested }}
    {ERROR_FIELDS}
  }}
}}
"""

TRANSFER = f"""
mutation Transfer($input: TransferInput!) {{
  transfer(input: $input) {{
    __typename
    ... on TransferSuccess {{
      walletFromId walletToId amount transactionNumber walletFromBalance walletToBalance
      walletFrom {{ {WALLET_FIELDS} }} reference metadata dryRun replayed
    }}
    ... on InvalidInput {{ field }}
    ... on WalletNotFound {{ walletId }}
    ... on InsufficientFunds {{ walletId balance requested }}
    ... on CurrencyMismatch {{ walletId currency expected }}
    {ERROR_FIELDS}
  }}
}}
"""

SPLIT = f"""
mutation Split($input: SplitTransferInput!) {{
  splitTransfer(input: $input) {{
    __typename
    ... on SplitTransferSuccess {{
      transactionNumber amount walletFrom {{ {WALLET_FIELDS} }} walletFromBalance
      legs {{ walletToId amount reference walletTo {{ id balance }} }}
      reference metadata dryRun replayed
    }}
    ... on InvalidInput {{ field }}
    ... on WalletNotFound {{ walletId }}
    ... on InsufficientFunds {{ walletId balance requested }}
    ... on CurrencyMismatch {{ walletId currency expected }}
    {ERROR_FIELDS}
  }}
}}
"""

HOLD = f"""
mutation Hold($input: HoldTransferInput!) {{
  holdTransfer(input: $input) {{
    __typename
    ... on HoldTransferSuccess {{
      hold {{ {HOLD_FIELDS} }} walletFrom {{ {WALLET_FIELDS} }} amount expiresAt dryRun
      replayed
    }}
    ... on InvalidInput {{ field }}
    ... on WalletNotFound {{ walletId }}
    ... on InsufficientFunds {{ walletId balance requested }}
    ... on CurrencyMismatch {{ walletId currency expected }}
    {ERROR_FIELDS}
  }}
}}
"""

CAPTURE = f"""
mutation Capture($input: CaptureHoldInput!) {{
  captureHold(input: $input) {{
    __typename
    ... on CaptureHoldSuccess {{
      hold {{ {HOLD_FIELDS} }} transactionNumber amount walletFrom {{ {WALLET_FIELDS} }}
      walletTo {{ {WALLET_FIELDS} }} dryRun replayed
    }}
    ... on InvalidInput {{ field }}
    ... on HoldNotFound {{ holdId }}
    ... on HoldNotPending {{ holdId status: holdStatus }}
    ... on HoldExpired {{ holdId }}
    ... on BalanceLimitExceeded {{ walletId limit }}
    {ERROR_FIELDS}
  }}
}}
"""

VOID = f"""
mutation Void($input: VoidHoldInput!) {{
  voidHold(input: $input) {{
    __typename
    ... on VoidHoldSuccess {{
      hold {{ {HOLD_FIELDS} }} walletFrom {{ {WALLET_FIELDS} }} dryRun replayed
    }}
    ... on InvalidInput {{ field }}
    ... on HoldNotFound {{ holdId }}
    ... on HoldNotPending {{ holdId status: holdStatus }}
    ... on HoldExpired {{ holdId }}
    {ERROR_FIELDS}
  }}
}}
"""

REFUND = f"""
mutation Refund($input: RefundInput!) {{
  refund(input: $input) {{
    __typename
    ... on RefundSuccess {{
      transactionNumber refundOf amount remaining walletFrom: walletTo {{ {WALLET_FIELDS} }}
      reference metadata dryRun replayed
    }}
    ... on InvalidInput {{ field }}
    ... on TransactionNotFound {{ number: transactionNumber }}
    ... on RefundExceedsRemaining {{ number: transactionNumber remaining requested }}
    ... on InsufficientFunds {{ walletId balance requested }}
    {ERROR_FIELDS}
  }}
}}
"""

WALLET = f"query Wallet($id: ID!) {{ wallet(id: $id) {{ {WALLET_FIELDS} }} }}"

HOLD_QUERY = f"""
query Hold($id: ID!) {{
  hold(id: $id) {{
    {HOLD_FIELDS}
    walletFrom {{ id }} walletTo {{ id }}
    transactions {{ number kind amount legs {{ amount }} }}
  }}
}}
"""

TRANSACTION = """
query Transaction($n: UUID!) {
  transaction(number: $n) {
    number kind amount currency reference metadata refundable
    legs { wallet { id } amount kind metadata }
    refundOf { number kind }
    refunds { number kind amount }
    hold { id status }
  }
}
"""

LEDGER_SUMMARY = """
{ ledgerSummary { wallets totalBalance totalResupplied
    currencies { currency wallets totalBalance totalHeld totalResupplied totalWithdrawn } } }
"""


async def call(api: Api, document: str, field: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Run a mutation (or query) and return ``data[field]``."""
    data = await api.run(document, variables)
    result: dict[str, Any] = data[field]
    return result


async def create_client(api: Api, login: str, currency: str | None = None) -> tuple[str, str]:
    """A client with its first wallet (in ``currency``, or the default); (client id, wallet id)."""
    extra = {} if currency is None else {"currency": currency}
    result = await call(
        api, CREATE_CLIENT, "createClient", {"input": {"login": login, "name": login, **extra}}
    )
    assert result["__typename"] == "CreateClientSuccess", result
    return result["client"]["id"], result["wallet"]["id"]


async def wallet_in(api: Api, login: str, currency: str) -> str:
    """The wallet id of a new client whose first wallet is in ``currency``."""
    return (await create_client(api, login, currency))[1]


async def create_wallet(api: Api, client: str, currency: str, **extra: Any) -> dict[str, Any]:
    return await call(
        api,
        CREATE_WALLET,
        "createWallet",
        {"input": {"clientId": client, "currency": currency, **extra}},
    )


async def create_currency(api: Api, code: str, exponent: int, name: str) -> dict[str, Any]:
    return await call(
        api,
        CREATE_CURRENCY,
        "createCurrency",
        {"input": {"code": code, "exponent": exponent, "name": name}},
    )


async def resupply(api: Api, wallet: str, amount: str, **extra: Any) -> dict[str, Any]:
    return await call(
        api, RESUPPLY, "resupply", {"input": {"walletId": wallet, "amount": amount, **extra}}
    )


async def withdraw(api: Api, wallet: str, amount: str, **extra: Any) -> dict[str, Any]:
    return await call(
        api, WITHDRAW, "withdraw", {"input": {"walletId": wallet, "amount": amount, **extra}}
    )


async def transfer(api: Api, source: str, target: str, amount: str, **extra: Any) -> dict[str, Any]:
    return await call(
        api,
        TRANSFER,
        "transfer",
        {"input": {"walletFromId": source, "walletToId": target, "amount": amount, **extra}},
    )


def legs(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"walletToId": wallet, "amount": amount} for wallet, amount in pairs]


async def split(api: Api, source: str, pay: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return await call(
        api, SPLIT, "splitTransfer", {"input": {"walletFromId": source, "legs": pay, **extra}}
    )


async def hold(api: Api, source: str, target: str, amount: str, **extra: Any) -> dict[str, Any]:
    return await call(
        api,
        HOLD,
        "holdTransfer",
        {"input": {"walletFromId": source, "walletToId": target, "amount": amount, **extra}},
    )


async def hold_id(api: Api, source: str, target: str, amount: str, **extra: Any) -> str:
    """Place a hold that must succeed; its id."""
    result = await hold(api, source, target, amount, **extra)
    assert result["__typename"] == "HoldTransferSuccess", result
    held: str = result["hold"]["id"]
    return held


async def capture(api: Api, hold: str, amount: str | None = None, **extra: Any) -> dict[str, Any]:
    part = {} if amount is None else {"amount": amount}
    return await call(api, CAPTURE, "captureHold", {"input": {"holdId": hold, **part, **extra}})


async def void(api: Api, hold: str, **extra: Any) -> dict[str, Any]:
    return await call(api, VOID, "voidHold", {"input": {"holdId": hold, **extra}})


async def refund(api: Api, number: str, amount: str | None = None, **extra: Any) -> dict[str, Any]:
    part = {} if amount is None else {"amount": amount}
    return await call(
        api, REFUND, "refund", {"input": {"transactionNumber": number, **part, **extra}}
    )


async def wallet(api: Api, wallet_id: str) -> dict[str, Any] | None:
    """The wallet's id, currency, balance, held and available (None if not visible)."""
    data = await api.run(WALLET, {"id": wallet_id})
    found: dict[str, Any] | None = data["wallet"]
    return found


async def money(api: Api, wallet_id: str) -> tuple[str, str, str]:
    """(balance, held, available) of a wallet the caller can see."""
    found = await wallet(api, wallet_id)
    assert found is not None
    return found["balance"], found["held"], found["available"]


async def get_hold(api: Api, hold: str) -> dict[str, Any] | None:
    data = await api.run(HOLD_QUERY, {"id": hold})
    found: dict[str, Any] | None = data["hold"]
    return found


async def get_transaction(api: Api, number: str) -> dict[str, Any] | None:
    data = await api.run(TRANSACTION, {"n": number})
    found: dict[str, Any] | None = data["transaction"]
    return found


async def currency_totals(api: Api) -> dict[str, dict[str, Any]]:
    """ledgerSummary.currencies by currency code."""
    data = await api.run(LEDGER_SUMMARY)
    return {row["currency"]: row for row in data["ledgerSummary"]["currencies"]}


async def db_now(sql: asyncpg.Connection) -> datetime:
    """The database's clock: holds expire by it, not by the test process's."""
    now = await sql.fetchval("SELECT clock_timestamp()")
    assert isinstance(now, datetime)
    return now


async def snapshot(sql: asyncpg.Connection) -> tuple[Any, ...]:
    """Everything a money movement could change: wallets (balance, held), holds, and the number
    of transactions, operations and idempotency keys. Equal snapshots: nothing changed."""
    row = await sql.fetchrow(
        "SELECT (SELECT json_agg(w ORDER BY id) FROM wallets w) AS wallets,"
        " (SELECT json_agg(h ORDER BY id) FROM holds h) AS holds,"
        " (SELECT count(*) FROM transactions) AS transactions,"
        " (SELECT count(*) FROM wallet_operations) AS operations,"
        " (SELECT count(*) FROM idempotency_keys) AS keys,"
        " (SELECT count(*) FROM currencies) AS currencies,"
        " (SELECT count(*) FROM clients) AS clients"
    )
    assert row is not None
    return tuple(json.loads(v) if isinstance(v, str) else v for v in row.values())


async def assert_sound(app: Starlette, sql: asyncpg.Connection) -> None:
    """The ledger adds up: the shared checks, `billing audit`, and the holds' invariants."""
    await assert_ledger_consistent(sql)
    report = await audit(app.state.db.engine)
    assert report.ok, report.render()
    # stored held = the sum of the wallet's PENDING holds (expired or not: a sweep may not have
    # run); the held that counts (PENDING and not expired, by the database clock) stays within
    # 0 and the balance
    wrong_held = await sql.fetch(
        "SELECT w.id, w.held, w.balance, coalesce(h.stored, 0) AS stored,"
        " coalesce(h.effective, 0) AS effective FROM wallets w"
        " LEFT JOIN (SELECT wallet_from_id, sum(amount) AS stored,"
        "            coalesce(sum(amount) FILTER (WHERE expires_at > now()), 0) AS effective"
        "            FROM holds WHERE status = 'PENDING' GROUP BY wallet_from_id) h"
        " ON h.wallet_from_id = w.id"
        " WHERE w.held <> coalesce(h.stored, 0) OR coalesce(h.effective, 0) < 0"
        " OR coalesce(h.effective, 0) > w.balance"
    )
    assert wrong_held == []
