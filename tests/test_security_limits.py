"""Limits: depth, aliases, tokens, body size, batching, introspection."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from graphql import parse

from billing.config import Settings
from billing.graphql.documents import Prepared, PreparedDocuments
from support.api import Api, custom_api


def nested(depth: int) -> str:
    """A query of exactly ``depth`` levels: wallet { client { wallets { client { ... } } } }."""
    levels = ["wallet(id: 1)"] + ["client", "wallets"] * depth
    inner = "id"
    for name in reversed(levels[:depth]):
        inner = f"{name} {{ {inner} }}"
    return f"{{ {inner} }}"


async def test_depth_at_the_limit_passes_and_beyond_it_runs_no_sql(
    api: Api, statements: list[str]
) -> None:
    # given: the default limit is 10
    await api.create_client("deep")
    assert "errors" not in (await api.post(nested(10))).json()
    statements.clear()
    # when
    response = await api.post(nested(11))
    # then: a readable, coded validation error, and not one statement besides the token check
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_DEEP"
    assert "exceeds maximum operation depth of 10" in error["message"]
    assert [s for s in statements if "api_tokens" not in s] == []


async def test_aliases(api: Api) -> None:
    def aliased(n: int) -> str:
        return "{ " + " ".join(f"a{i}: wallet(id: {i}) {{ id }}" for i in range(n)) + " }"

    assert "errors" not in (await api.post(aliased(15))).json()
    error = (await api.post(aliased(16))).json()["errors"][0]
    assert error["extensions"]["code"] == "TOO_MANY_ALIASES"


async def test_alias_amplification_through_fragments_is_counted(api: Api) -> None:
    # given: 10 aliases inside a fragment and 6 outside it: 16 in all
    inside = " ".join(f"f{i}: wallet(id: {i}) {{ id }}" for i in range(10))
    outside = " ".join(f"q{i}: wallet(id: {i}) {{ id }}" for i in range(6))
    document = f"{{ ...Many {outside} }} fragment Many on Query {{ {inside} }}"
    # when / then
    error = (await api.post(document)).json()["errors"][0]
    assert error["extensions"]["code"] == "TOO_MANY_ALIASES"


async def test_circular_fragments_are_a_validation_error(api: Api) -> None:
    response = await api.post("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }")
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert "Cannot spread fragment" in error["message"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_token_count(api: Api) -> None:
    document = "{ " + "__typename " * 1200 + "}"
    error = (await api.post(document)).json()["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_LARGE"


@pytest.mark.parametrize("size", [2 * 1024 * 1024, 10 * 1024 * 1024])
async def test_large_bodies_get_413_before_parsing(api: Api, size: int) -> None:
    body = b'{"query": "{ __typename }", "variables": {"s": "' + b"x" * size + b'"}}'
    response = await api.http.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


async def test_chunked_bodies_are_counted_too(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ __typename }", "variables": {"s": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}}'

    response = await api.http.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_batching_is_off(api: Api) -> None:
    response = await api.http.post(
        "/graphql", json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}]
    )
    assert response.status_code == 400


async def test_introspection_is_on_by_default(api: Api) -> None:
    data = await api.run("{ __schema { queryType { name } } }")
    assert data == {"__schema": {"queryType": {"name": "Query"}}}
    response = await api.post("{ walet(id: 1) { id } }")
    assert "Did you mean" in response.json()["errors"][0]["message"]


@pytest.fixture
async def closed_api(settings: Settings) -> AsyncIterator[Api]:
    """The same service with introspection turned off."""
    async with custom_api(settings, introspection=False) as (_, api):
        yield api


async def test_introspection_off_hides_schema_suggestions_and_graphiql(closed_api: Api) -> None:
    for document in ("{ __schema { types { name } } }", '{ __type(name: "Wallet") { name } }'):
        error = (await closed_api.post(document)).json()["errors"][0]
        assert error["extensions"]["code"] == "INTROSPECTION_DISABLED"
    typo = (await closed_api.post("{ walet(id: 1) { id } }")).json()["errors"][0]["message"]
    assert "Cannot query field 'walet'" in typo
    assert "Did you mean" not in typo
    page = await closed_api.http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 404
    # and ordinary queries still work
    assert await closed_api.run("{ wallet(id: 1) { id } }") == {"wallet": None}


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (nested(11), "QUERY_TOO_DEEP"),
        (
            "{ " + " ".join(f"a{i}: wallet(id: {i}) {{ id }}" for i in range(16)) + " }",
            "TOO_MANY_ALIASES",
        ),
        ("{ " + "wallet(id: 1) { id } " * 200 + "}", "QUERY_TOO_LARGE"),
        ("{ wallet(id: 1) { nope } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ wallet(id: 1) { id }", "GRAPHQL_PARSE_FAILED"),
    ],
)
async def test_a_refused_document_stays_refused_when_sent_again(
    api: Api, document: str, code: str
) -> None:
    # given: documents are parsed and validated once, then answered from a cache
    first = (await api.post(document)).json()
    # when: the same text again, twice
    again = [(await api.post(document)).json() for _ in range(2)]
    # then: the same refusal every time, with the same message
    assert first["errors"][0]["extensions"]["code"] == code
    assert again == [first, first]


def test_prepared_documents_are_bounded_least_recently_used_first() -> None:
    # given: room for two documents
    documents = PreparedDocuments(rules=(), max_tokens=100, size=2)
    entries = {text: Prepared(parse(text), []) for text in ("{ a }", "{ b }", "{ c }")}
    documents.put("{ a }", entries["{ a }"])
    documents.put("{ b }", entries["{ b }"])
    # when: a is used, then c arrives
    assert documents.get("{ a }") is entries["{ a }"]
    documents.put("{ c }", entries["{ c }"])
    # then: b, the least recently used, made room
    assert len(documents) == 2
    assert documents.get("{ b }") is None
    assert documents.get("{ a }") is entries["{ a }"]
    assert documents.get("{ c }") is entries["{ c }"]
