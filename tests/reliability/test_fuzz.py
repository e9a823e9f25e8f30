"""Schema fuzzing: schemathesis sends documents generated from the live schema, with a token.

Every query and mutation the running service publishes (read by introspection) gets documents
generated from its arguments and fields: nested selections, every argument, values from custom
strategies for the Money, UUID and DateTime scalars and for ids. The service must answer each
without a server error (no 5xx), without a GraphQL error from a resolver (schemathesis: "GraphQL
server error") and without contradicting its own schema (a null in a non-null field). The ledger
is seeded first, so that generated ids reach real clients, wallets, transactions and histories.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.graphql import nodes

from billing.config import Settings
from support.documents import CREATE_CLIENT, RESUPPLY, TRANSFER
from support.live_server import LiveServer, live_server
from support.postgres import PgServer, copy_of

pytestmark = pytest.mark.slow

Tokens = dict[str, str]  # by kind of caller: operator, client

# Budget: about 20 s in all on two cores (two seconds per operation with an operator token).
FUZZ_SETTINGS = hypothesis_settings(
    max_examples=120,
    deadline=None,  # HTTP round trips vary; speed is not what this test is about
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.too_slow],
)


def committed_operations() -> list[tuple[str, str]]:
    """The queries and mutations of schema.graphql (tests/test_schema_and_migrations.py keeps
    it equal to the code's schema; the test below checks it against the live one)."""
    schema = graphql.build_schema((Path(__file__).parents[2] / "schema.graphql").read_text())
    return [
        (root.name, name)
        for root in (schema.query_type, schema.mutation_type)
        if root is not None
        for name in root.fields
    ]


OPERATIONS = committed_operations()
README_OPERATIONS = {
    ("Query", "client"),
    ("Query", "wallet"),
    ("Query", "transaction"),
    ("Mutation", "createClient"),
    ("Mutation", "resupply"),
    ("Mutation", "transfer"),
}

# --- Strategies for scalars (global in schemathesis; this module is the only fuzzer) ----------


def number_literal(value: Decimal) -> graphql.ValueNode:
    """A GraphQL float literal such as 500.50: the Money scalar reads its source text."""
    return graphql.FloatValueNode(value=f"{value:f}")


# Money: exact amounts as strings and as number literals, on and around every limit, and
# anything else at all; whatever it is, the answer is a result, never an error.
plain_amounts = st.decimals(min_value=0, max_value=Decimal(10) ** 16, places=2)
schemathesis.graphql.scalar(
    "Money",
    st.one_of(
        plain_amounts.map(lambda d: nodes.String(f"{d:f}")),
        plain_amounts.map(number_literal),
        st.sampled_from(
            ["0.01", "1000000000000000", "1000000000000000.01", "1e3", "-1", "NaN", "5.001"]
        ).map(nodes.String),
        st.decimals(places=3, allow_nan=False, allow_infinity=False).map(number_literal),
        st.integers().map(nodes.Int),
        st.text().map(nodes.String),
    ),
)
# Ids: mostly the seeded ones (1 to 4, as strings and as numbers), sometimes anything.
schemathesis.graphql.scalar(
    "ID",
    st.one_of(
        st.integers(1, 5).map(str).map(nodes.String),
        st.integers(0, 5).map(nodes.Int),
        st.text().map(nodes.String),
        st.integers().map(nodes.Int),
    ),
)
# Page sizes (the only Int arguments): around the documented 0..100, and far outside.
schemathesis.graphql.scalar(
    "Int",
    st.one_of(st.integers(-2, 102), st.integers(-(2**31), 2**31 - 1)).map(nodes.Int),
)
# Instants with and without an offset, anywhere in the years a datetime can hold, and often at
# the very ends of that range (with an offset, those lie just outside it in UTC).
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
zones = st.one_of(st.none(), st.just(UTC), offsets)
schemathesis.graphql.scalar(
    "DateTime",
    st.one_of(
        st.datetimes(timezones=zones),
        st.tuples(st.sampled_from([datetime.min, datetime.max]), offsets).map(
            lambda t: t[0].replace(tzinfo=t[1])
        ),
    ).map(lambda d: nodes.String(d.isoformat())),
)
schemathesis.graphql.scalar("UUID", st.uuids().map(str).map(nodes.String))  # and see fuzz_server


# --- What counts as a failure ----------------------------------------------------------------

# Request errors the service documents for inputs the schema cannot constrain: the size of a page
# (0 to 100), `first` and `last` together, a metadata filter that is not strings, a cursor this
# API did not issue, more than 100 ids for `wallets`; and the limits on a document's depth,
# aliases and tokens (the generator nests fields freely). The service answers them as GraphQL
# errors with these codes, HTTP 200, by design. Schemathesis would count any GraphQL error on a
# generated ("positive") document as a "GraphQL client error" (its check
# positive_data_acceptance): a false positive for these. That check is replaced by this narrower
# one, which fails on any other error.
ARGUMENT_ERRORS = re.compile(
    r"Pass `first` or `last`, not both\."
    r"|`first`( and `last`)? must be between 0 and \d+\."
    r"|`filter\.metadata` must be an object of string values\."
    r"|`(after|before)` is not a cursor returned by this API\."
    r"|`ids` may hold at most \d+ ids\."
    r"|`(since|until|time|expiresAt)` is out of the range of times\."
)
LIMIT_CODES = {"QUERY_TOO_DEEP", "TOO_MANY_ALIASES", "QUERY_TOO_LARGE"}


def only_documented_request_errors(ctx: Any, response: Any, case: Any) -> None:
    body = response.json()
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code == "INTERNAL_ERROR":
            continue  # a server error: not_a_server_error reports it
        argument_error = code == "GRAPHQL_VALIDATION_FAILED" and ARGUMENT_ERRORS.fullmatch(
            error["message"]
        )
        limit_error = code in LIMIT_CODES and body.get("data") is None
        assert argument_error or limit_error, f"undocumented GraphQL error: {error}"


# No 5xx and no "GraphQL server error"; no null in a non-null field; no undocumented error.
CHECKS = [not_a_server_error, response_schema_conformance, only_documented_request_errors]


# --- The service under fuzzing ---------------------------------------------------------------


@pytest.fixture(scope="module")
async def fuzz_database(pg_server: PgServer, template_db: str) -> AsyncIterator[str]:
    async with copy_of(pg_server, template_db, "billing_fuzz") as name:
        yield name


def seed(url: str, token: str) -> list[str]:
    """Four clients with money and some history; returns the transaction numbers."""
    headers = {"Authorization": f"Bearer {token}"}

    def run(document: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            url, json={"query": document, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    for login in ("alice", "bob", "carol", "dave"):
        run(CREATE_CLIENT, {"input": {"login": login, "name": login.title()}})
    numbers = []
    for wallet in ("1", "2", "3"):
        result = run(RESUPPLY, {"input": {"walletId": wallet, "amount": "100.00"}})
        numbers.append(result["resupply"]["transactionNumber"])
    for source, target in [("1", "2"), ("2", "3"), ("3", "1"), ("1", "3"), ("2", "1")]:
        transfer = {"walletFromId": source, "walletToId": target, "amount": "1.50"}
        result = run(TRANSFER, {"input": transfer})
        numbers.append(result["transfer"]["transactionNumber"])
    return numbers


@pytest.fixture(scope="module")
def fuzz_server(pg_server: PgServer, fuzz_database: str) -> Iterator[tuple[LiveServer, Tokens]]:
    """The service on a real socket, seeded; an operator token and a token of client 1."""
    settings = Settings(
        database_url=pg_server.url(fuzz_database), migrate_on_start=False, pool_max_overflow=0
    )
    with live_server(settings) as server:
        operator = server.token()
        numbers = seed(server.url, operator)
        # Transaction numbers are random: the strategy learns the seeded ones here.
        schemathesis.graphql.scalar(
            "UUID", st.one_of(st.sampled_from(numbers), st.uuids().map(str)).map(nodes.String)
        )
        yield server, {"operator": operator, "client": server.token(client_id=1)}


@pytest.fixture(scope="module")
def live_schema(fuzz_server: tuple[LiveServer, Tokens]) -> Any:
    server, tokens = fuzz_server
    auth = {"Authorization": f"Bearer {tokens['operator']}"}
    return schemathesis.graphql.from_url(server.url, headers=auth)


def test_every_live_operation_is_fuzzed(live_schema: Any) -> None:
    live = {(root, name) for root in ("Query", "Mutation") for name in live_schema[root]}
    assert live == set(OPERATIONS)
    assert live >= README_OPERATIONS


# With an operator token, and (fewer examples) with a client's: it sees less and may do less.
BUDGETS = {"operator": FUZZ_SETTINGS, "client": hypothesis_settings(FUZZ_SETTINGS, max_examples=40)}


@pytest.mark.parametrize("caller", list(BUDGETS))
@pytest.mark.parametrize(("root", "name"), OPERATIONS, ids=[f"{r}.{n}" for r, n in OPERATIONS])
def test_generated_documents_get_no_server_error(
    fuzz_server: tuple[LiveServer, Tokens], live_schema: Any, root: str, name: str, caller: str
) -> None:
    _, tokens = fuzz_server
    headers = {"Authorization": f"Bearer {tokens[caller]}"}

    @BUDGETS[caller]
    @given(case=live_schema[root][name].as_strategy())
    def fuzz(case: Any) -> None:
        # when: a generated document is sent; then: no 5xx, no resolver error, no schema breach
        case.call_and_validate(headers=headers, checks=CHECKS)

    fuzz()
