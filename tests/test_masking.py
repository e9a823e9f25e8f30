"""Unexpected errors are masked for the caller and logged in full for the operator."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from support.api import Api

LEAKS = ("Traceback", "sqlalchemy", "asyncpg", "postgres", "SELECT", "clients", "relation")


async def test_unexpected_error_is_masked_with_a_request_id_and_logged(
    api: Api, sql: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    # given: a real fault the code does not expect (the clients table has gone)
    client, _ = await api.create_client("vanishing")
    await sql.execute("ALTER TABLE clients RENAME TO clients_gone")
    # when
    with caplog.at_level(logging.ERROR, logger="billing.errors"):
        response = await api.post("query($id: ID!) { client(id: $id) { login } }", {"id": client})
    # then: the caller sees a generic message and the request id, nothing of the internals
    assert response.status_code == 200
    error = response.json()["errors"][0]
    request_id = response.headers["x-request-id"]
    assert error["message"] == f"Internal error. Request id: {request_id}"
    assert error["extensions"] == {"code": "INTERNAL_ERROR", "requestId": request_id}
    for leak in LEAKS:
        assert leak not in response.text
    # and the log has the request id and the full traceback
    records = [r for r in caplog.records if r.name == "billing.errors"]
    assert len(records) == 1
    assert request_id in records[0].getMessage()
    assert records[0].exc_info is not None
    assert "clients" in str(records[0].exc_info[1])


async def test_mutation_error_is_masked_too(api: Api, sql: asyncpg.Connection) -> None:
    # given
    await sql.execute("ALTER TABLE wallets RENAME TO wallets_gone")
    # when
    response = await api.post(
        'mutation { createClient(input: {login: "nowallet", name: "N"}) { __typename } }'
    )
    # then
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_ERROR"
    for leak in LEAKS:
        assert leak not in response.text
    # and nothing was written: the client insert was rolled back with the failed transaction
    assert await sql.fetchval("SELECT count(*) FROM clients") == 0


async def test_request_errors_stay_readable(api: Api) -> None:
    response = await api.post("{ wallet(id: 1) { nosuchfield } }")
    message = response.json()["errors"][0]["message"]
    assert "nosuchfield" in message
    assert "Internal error" not in message


async def test_caller_request_id_is_echoed(api: Api) -> None:
    response = await api.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"x-request-id": "abc-123"}
    )
    assert response.headers["x-request-id"] == "abc-123"
    # a malformed one is replaced, never echoed
    response = await api.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"x-request-id": "bad id\t<script>"}
    )
    assert response.headers["x-request-id"] != "bad id\t<script>"
    assert len(response.headers["x-request-id"]) == 32
