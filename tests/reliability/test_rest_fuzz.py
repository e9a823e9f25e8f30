"""REST fuzzing: schemathesis sends requests generated from the served OpenAPI description.

Valid requests ("positive", often aimed at seeded wallets with small exact amounts) and
invalid ones ("negative": wrong types, missing or unknown fields, values out of range) go to the
service on a real socket, with an operator's and a client's token. Every answer must be
documented: no 5xx, a documented status and content type, a body matching its schema, the
documented headers; and every request the description calls invalid must be refused with a 4xx.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from billing.config import Settings
from support.live_server import LiveServer, live_server
from support.postgres import PgServer, copy_of

pytestmark = pytest.mark.slow

Tokens = dict[str, str]

FUZZ_SETTINGS = hypothesis_settings(
    max_examples=80,
    deadline=None,  # HTTP round trips vary; speed is not what this test is about
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
BUDGETS = {"operator": FUZZ_SETTINGS, "client": hypothesis_settings(FUZZ_SETTINGS, max_examples=30)}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
OPERATIONS = [("/clients", "POST"), ("/resupplies", "POST"), ("/transfers", "POST")]
SEEDED_WALLETS = (1, 2, 3, 4)
ID_FIELDS = ("walletId", "walletFromId", "walletToId")


@pytest.fixture(scope="module")
async def fuzz_database(pg_server: PgServer, template_db: str) -> AsyncIterator[str]:
    async with copy_of(pg_server, template_db, "billing_rest_fuzz") as name:
        yield name


def seed(base: str, token: str) -> None:
    """Four clients (wallets 1 to 4), three of them with money and some transfers."""
    headers = {"Authorization": f"Bearer {token}"}

    def post(path: str, body: dict[str, Any]) -> None:
        response = httpx.post(base + path, json=body, headers=headers)
        assert response.status_code == 200, response.text

    for login in ("alice", "bob", "carol", "dave"):
        post("/clients", {"login": login, "name": login.title()})
    for wallet in (1, 2, 3):
        post("/resupplies", {"walletId": wallet, "amount": "100.00"})
    for source, target in [(1, 2), (2, 3), (3, 1)]:
        post("/transfers", {"walletFromId": source, "walletToId": target, "amount": 1.5})


@pytest.fixture(scope="module")
def fuzz_server(pg_server: PgServer, fuzz_database: str) -> Iterator[tuple[str, Tokens]]:
    """The service on a real socket, seeded; its base URL, an operator's and client 1's token."""
    settings = Settings(
        database_url=pg_server.url(fuzz_database), migrate_on_start=False, pool_max_overflow=0
    )
    with live_server(settings) as server:
        base = base_url(server)
        operator = server.token()
        seed(base, operator)
        yield base, {"operator": operator, "client": server.token(client_id=1)}


def base_url(server: LiveServer) -> str:
    return server.url.removesuffix("/graphql")


@pytest.fixture(scope="module")
def live_schema(fuzz_server: tuple[str, Tokens]) -> Any:
    base, _ = fuzz_server
    return schemathesis.openapi.from_url(base + "/openapi.json")


def test_the_description_lists_exactly_the_adapter_operations(live_schema: Any) -> None:
    found = {(op.ok().path, op.ok().method.upper()) for op in live_schema.get_all_operations()}
    assert found == set(OPERATIONS)


# Positive cases are often steered to the seeded wallets with small exact amounts (as a JSON
# number or a string), so that many reach the ledger instead of stopping at WALLET_NOT_FOUND.
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(200), places=2)
steering = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            "ids": st.lists(
                st.sampled_from(SEEDED_WALLETS).flatmap(lambda i: st.sampled_from([i, str(i)])),
                min_size=2,
                max_size=2,
            ),
            "amount": amounts.flatmap(lambda d: st.sampled_from([float(d), f"{d:f}"])),
        }
    ),
)


def steer(body: dict[str, Any], towards: dict[str, Any]) -> None:
    ids = iter(towards["ids"])
    for name in ID_FIELDS:
        if name in body:
            body[name] = next(ids)
    if "amount" in body:
        body["amount"] = towards["amount"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("caller", list(BUDGETS))
@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[p for p, _ in OPERATIONS])
def test_generated_requests_get_documented_answers(
    fuzz_server: tuple[str, Tokens],
    live_schema: Any,
    path: str,
    method: str,
    caller: str,
    mode: GenerationMode,
) -> None:
    base, tokens = fuzz_server
    headers = {"Authorization": f"Bearer {tokens[caller]}"}

    @BUDGETS[caller]
    @given(case=live_schema[path][method].as_strategy(generation_mode=mode), towards=steering)
    def fuzz(case: Any, towards: dict[str, Any] | None) -> None:
        if mode.is_positive and towards is not None and isinstance(case.body, dict):
            steer(case.body, towards)
        # when: a generated request is sent; then: its answer is one the description documents
        case.call_and_validate(base_url=base, headers=headers, checks=CHECKS)

    fuzz()
