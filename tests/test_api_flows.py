"""The three seed flows and both queries, end to end over HTTP, with exact money."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event
from starlette.applications import Starlette

from support.api import Api

CLIENT_TREE = """
query Tree($id: ID!) {
  client(id: $id) {
    id login name
    wallets { id balance client { id login wallets { id } } }
  }
}
"""

WALLET_WITH_OWNER = """
query WalletWithOwner($id: ID!) {
  wallet(id: $id) { id balance client { id login name } }
}
"""


async def test_create_client_returns_client_and_empty_wallet(api: Api) -> None:
    # when
    data = await api.run(
        """mutation { createClient(input: {login: "myLogin", name: "Иванов Иван"}) {
             __typename ... on CreateClientSuccess { client { id login name wallets { id balance } }
                                                     wallet { id balance client { login } } } } }"""
    )
    # then
    result = data["createClient"]
    assert result["__typename"] == "CreateClientSuccess"
    assert result["client"]["login"] == "myLogin"
    assert result["client"]["name"] == "Иванов Иван"
    assert result["wallet"]["balance"] == "0.00"
    assert result["wallet"]["client"]["login"] == "myLogin"
    assert result["client"]["wallets"] == [{"id": result["wallet"]["id"], "balance": "0.00"}]


async def test_resupply_twice_adds_exactly(api: Api, sql: asyncpg.Connection) -> None:
    # given
    _, wallet = await api.create_client("payer")
    # when
    first = await api.resupply(wallet, "500.50")
    second = await api.resupply(wallet, "500.50")
    # then
    assert first["__typename"] == "ResupplySuccess"
    assert first["amount"] == "500.50"
    assert first["walletBalance"] == "500.50"
    assert second["walletBalance"] == "1001.00"
    assert second["wallet"] == {"id": wallet, "balance": "1001.00"}
    assert uuid.UUID(first["transactionNumber"]) != uuid.UUID(second["transactionNumber"])
    # and the ledger holds one operation per resupply, with the balance each left behind
    rows = await sql.fetch(
        "SELECT o.amount::text AS amount, o.balance_after::text AS after, t.kind, t.number::text"
        " AS number FROM wallet_operations o JOIN transactions t ON t.id = o.transaction_id"
        " WHERE o.wallet_id = $1 ORDER BY o.id",
        int(wallet),
    )
    assert [(r["amount"], r["after"], r["kind"]) for r in rows] == [
        ("500.50", "500.50", "RESUPPLY"),
        ("500.50", "1001.00", "RESUPPLY"),
    ]
    assert rows[0]["number"] == first["transactionNumber"]


async def test_transfer_moves_money_and_reports_both_balances(
    api: Api, sql: asyncpg.Connection
) -> None:
    # given
    _, source = await api.create_client("sender")
    _, target = await api.create_client("receiver")
    await api.resupply(source, "1001")
    # when
    result = await api.transfer(source, target, "1000")
    # then
    assert result["__typename"] == "TransferSuccess"
    assert result["walletFromId"] == source
    assert result["walletToId"] == target
    assert result["amount"] == "1000.00"
    assert result["walletFromBalance"] == "1.00"
    assert result["walletToBalance"] == "1000.00"
    assert result["walletFrom"] == {"id": source, "balance": "1.00"}
    assert result["walletTo"] == {"id": target, "balance": "1000.00"}
    assert await api.balance(source) == "1.00"
    assert await api.balance(target) == "1000.00"
    # and the transfer's two legs sum to zero
    legs = await sql.fetch(
        "SELECT o.wallet_id, o.amount::text AS amount, o.balance_after::text AS after"
        " FROM wallet_operations o JOIN transactions t ON t.id = o.transaction_id"
        " WHERE t.number = $1 ORDER BY o.amount",
        uuid.UUID(result["transactionNumber"]),
    )
    assert [(r["wallet_id"], r["amount"], r["after"]) for r in legs] == [
        (int(source), "-1000.00", "1.00"),
        (int(target), "1000.00", "1000.00"),
    ]


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0.01", "0.01"),
        ("0.1", "0.10"),
        (500.5, "500.50"),  # a JSON number: decoded exactly, never through float arithmetic
        (0.07, "0.07"),
        (100, "100.00"),
        ("1000000000000000", "1000000000000000.00"),
        ("999999999999999.99", "999999999999999.99"),
    ],
)
async def test_amounts_are_exact(api: Api, amount: Any, expected: str) -> None:
    # given
    _, wallet = await api.create_client("exact")
    # when
    result = await api.run(
        "mutation($w: ID!, $a: Money!) { resupply(input: {walletId: $w, amount: $a}) {"
        " ... on ResupplySuccess { amount walletBalance } } }",
        {"w": wallet, "a": amount},
    )
    # then
    assert result["resupply"] == {"amount": expected, "walletBalance": expected}


async def test_amount_literals_in_the_document_are_exact(api: Api) -> None:
    # given
    _, wallet = await api.create_client("literal")
    # when: 0.1 + 0.2 as literals (float arithmetic would give 0.30000000000000004)
    for literal in ("0.1", "0.2"):
        await api.run(
            f'mutation {{ resupply(input: {{walletId: "{wallet}", amount: {literal}}}) {{'
            " __typename } }"
        )
    # then
    assert await api.balance(wallet) == "0.30"


async def test_queries_return_client_tree_and_wallet(api: Api) -> None:
    # given
    client, first_wallet = await api.create_client("reader", "Чтец")
    await api.resupply(first_wallet, "12.34")
    # when
    tree = await api.run(CLIENT_TREE, {"id": client})
    wallet = await api.run(WALLET_WITH_OWNER, {"id": first_wallet})
    # then
    assert tree["client"]["login"] == "reader"
    assert tree["client"]["wallets"][0]["balance"] == "12.34"
    assert tree["client"]["wallets"][0]["client"]["id"] == client
    assert wallet["wallet"] == {
        "id": first_wallet,
        "balance": "12.34",
        "client": {"id": client, "login": "reader", "name": "Чтец"},
    }


@pytest.mark.parametrize("missing", ["999999", "0", "-1", "abc", "1.5", "", "9" * 40])
async def test_queries_for_unknown_or_malformed_ids_return_null(api: Api, missing: str) -> None:
    data = await api.run(
        "query($id: ID!) { client(id: $id) { id } wallet(id: $id) { id } }", {"id": missing}
    )
    assert data == {"client": None, "wallet": None}


async def test_nested_lists_do_not_query_per_row(api: Api, statements: list[str]) -> None:
    # given: three clients with wallets, read in one query with aliases
    ids = [await api.create_client(f"batch{i}") for i in range(3)]
    statements.clear()
    # when
    selections = " ".join(
        f'c{i}: client(id: "{cid}") {{ wallets {{ id client {{ login wallets {{ balance }} }} }} }}'
        for i, (cid, _) in enumerate(ids)
    )
    data = await api.run(f"{{ {selections} }}")
    # then: one query for the clients, one for their wallets, whatever the number of rows
    assert [data[f"c{i}"]["wallets"][0]["client"]["login"] for i in range(3)] == [
        "batch0",
        "batch1",
        "batch2",
    ]
    selects = [
        s for s in statements if s.lstrip().upper().startswith("SELECT") and "api_tokens" not in s
    ]  # besides the token check
    assert len(selects) == 2, selects


async def test_mutation_payload_reads_after_commit(api: Api) -> None:
    # given: a document that reads a wallet list in the payloads of two mutations
    _, wallet = await api.create_client("twice")
    document = f"""mutation {{
      a: resupply(input: {{walletId: "{wallet}", amount: "1"}}) {{
        ... on ResupplySuccess {{ wallet {{ client {{ wallets {{ balance }} }} }} }} }}
      b: resupply(input: {{walletId: "{wallet}", amount: "2"}}) {{
        ... on ResupplySuccess {{ wallet {{ client {{ wallets {{ balance }} }} }} }} }}
    }}"""
    # when
    data = await api.run(document)
    # then: the second payload sees the second resupply, not a snapshot from the first
    assert data["a"]["wallet"]["client"]["wallets"] == [{"balance": "1.00"}]
    assert data["b"]["wallet"]["client"]["wallets"] == [{"balance": "3.00"}]


@pytest.fixture
def in_transaction(app: Starlette) -> Iterator[list[bool]]:
    """For every SQL statement the app sends while the test runs: whether a transaction block
    was open when it was sent (asyncpg knows from the server's last answer; a transaction that
    SQLAlchemy begins shows only from its second statement on)."""
    seen: list[bool] = []
    engine = app.state.db.engine.sync_engine

    def record(conn: Any, *args: Any) -> None:
        seen.append(conn.connection.driver_connection.is_in_transaction())

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


async def test_a_read_of_one_object_is_one_statement_outside_a_transaction(
    api: Api, in_transaction: list[bool]
) -> None:
    # given
    _, wallet = await api.create_client("onestatement")
    await api.resupply(wallet, "4.50")
    in_transaction.clear()
    # when
    data = await api.run(
        "query($id: ID!) { wallet(id: $id) { __typename id currency balance held available } }",
        {"id": wallet},
    )
    # then
    assert data["wallet"]["balance"] == data["wallet"]["available"] == "4.50"
    assert in_transaction == [False]  # no BEGIN and COMMIT around it


async def test_many_wallets_and_ledger_totals_in_one_snapshot(
    api: Api, statements: list[str], in_transaction: list[bool]
) -> None:
    # given
    wallets = [(await api.create_client(f"many{i}"))[1] for i in range(3)]
    for i, wallet in enumerate(wallets):
        await api.resupply(wallet, f"{i + 1}.25")
    await api.transfer(wallets[2], wallets[0], "1.00")
    statements.clear()
    in_transaction.clear()
    # when
    data = await api.run(
        "query($ids: [ID!]!) { wallets(ids: $ids) { id balance }"
        " ledgerSummary { wallets totalBalance totalResupplied } }",
        {"ids": [*wallets, "999999", "bad"]},
    )
    # then
    assert data["wallets"] == [
        {"id": wallets[0], "balance": "2.25"},
        {"id": wallets[1], "balance": "2.25"},
        {"id": wallets[2], "balance": "2.25"},
        None,
        None,
    ]
    assert data["ledgerSummary"] == {
        "wallets": 3,
        "totalBalance": "6.75",
        "totalResupplied": "6.75",
    }
    # read in one transaction: a single BEGIN for the whole request, and every statement in it
    assert sum(s.strip().upper().startswith("BEGIN") for s in statements) <= 1
    assert len(in_transaction) >= 2
    assert all(in_transaction)


async def test_wallets_takes_at_most_100_ids(api: Api) -> None:
    response = await api.post(
        "query($ids: [ID!]!) { wallets(ids: $ids) { id } }", {"ids": ["1"] * 101}
    )
    assert "at most 100" in response.json()["errors"][0]["message"]


async def test_health_endpoints(api: Api) -> None:
    assert (await api.http.get("/healthz")).json() == {"status": "ok"}
    ready = await api.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
