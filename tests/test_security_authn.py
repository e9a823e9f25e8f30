"""Authentication: no valid token, no data; tokens are stored hashed and revoked at once."""

from __future__ import annotations

import asyncio
import re

import asyncpg
import pytest
from starlette.applications import Starlette

from billing.config import Settings
from billing.db.database import Database
from billing.db.engine import create_engine
from billing.domain import tokens
from billing.errors import InvalidInput
from support.api import Api, api_for, custom_api, new_token

QUERY = "{ wallet(id: 1) { balance } }"
MUTATION = 'mutation { createClient(input: {login: "nobody", name: "N"}) { __typename } }'


@pytest.mark.parametrize("document", [QUERY, MUTATION, "{ __schema { queryType { name } } }"])
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer bk_not-a-real-token-at-all-0000000000000",
        "Bearer " + "x" * 5000,
        "bk_no-scheme",
    ],
)
async def test_requests_without_a_valid_token_get_401_and_no_data(
    app: Starlette, sql: asyncpg.Connection, document: str, authorization: str | None
) -> None:
    # given
    async with api_for(app, None) as anonymous:
        headers = {} if authorization is None else {"Authorization": authorization}
        # when
        response = await anonymous.http.post("/graphql", json={"query": document}, headers=headers)
    # then: the whole request is refused, in JSON, before any GraphQL runs
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await sql.fetchval("SELECT count(*) FROM clients") == 0


async def test_get_queries_need_a_token_too(app: Starlette) -> None:
    async with api_for(app, None) as anonymous:
        response = await anonymous.http.get("/graphql", params={"query": QUERY})
    assert response.status_code == 401


async def test_graphiql_page_loads_without_a_token(app: Starlette) -> None:
    async with api_for(app, None) as anonymous:
        response = await anonymous.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
    # and its script, also served without a token, takes a token from the URL fragment (never
    # sent to the server) into its headers (tests/test_graphiql.py does so in a browser)
    script = re.search(r'src="(/graphiql/static/billing-graphiql\.js[^"]*)"', response.text)
    assert script is not None, response.text
    async with api_for(app, None) as anonymous:
        code = (await anonymous.http.get(script.group(1))).text
    assert 'window.location.hash.indexOf("#token=") === 0' in code
    assert "history.replaceState" in code


async def test_revocation_takes_effect_on_the_next_request(app: Starlette) -> None:
    # given: a token that works
    secret = await new_token(app)
    async with api_for(app, secret) as api:
        assert (await api.post(QUERY)).status_code == 200
        record = next(t for t in await tokens.list_tokens(app.state.db) if t.revoked_at is None)
        # when
        assert await tokens.revoke_token(app.state.db, record.id, app.state.token_cache)
        # then
        assert (await api.post(QUERY)).status_code == 401
    # and revoking twice says so
    assert await tokens.revoke_token(app.state.db, record.id) is False


async def listening(app: Starlette) -> None:
    """Wait until the app's token cache hears revocations (it connects in the background)."""
    for _ in range(200):
        if app.state.token_cache.listening:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the token cache never started listening")


async def test_a_known_token_is_checked_without_a_round_trip(
    app: Starlette, statements: list[str]
) -> None:
    # given: a token that was used once
    await listening(app)
    async with api_for(app, await new_token(app)) as api:
        assert (await api.post(QUERY)).status_code == 200
        statements.clear()
        # when
        response = await api.post(QUERY)
    # then: only the query itself reached the database
    assert response.status_code == 200
    assert statements, "the query ran no SQL at all"
    assert not any("api_tokens" in s for s in statements), statements


async def test_a_revocation_from_another_process_reaches_the_cache(
    app: Starlette, settings: Settings
) -> None:
    # given: a token this app has cached
    await listening(app)
    secret = await new_token(app)
    async with api_for(app, secret) as api:
        assert (await api.post(QUERY)).status_code == 200
        record = next(t for t in await tokens.list_tokens(app.state.db) if t.revoked_at is None)
        # when: another process (here: another engine, as `billing token revoke` has) revokes it
        other = create_engine(settings, settings.database_url or "")
        try:
            assert await tokens.revoke_token(Database(other), record.id) is True
        finally:
            await other.dispose()
        # then: refused within moments, although the cache had it
        for _ in range(100):
            if (await api.post(QUERY)).status_code == 401:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the revoked token still works after 2 s")


async def test_without_its_listening_connection_the_cache_trusts_nothing(
    app: Starlette, sql: asyncpg.Connection, statements: list[str]
) -> None:
    # given: a cached token
    await listening(app)
    async with api_for(app, await new_token(app)) as api:
        assert (await api.post(QUERY)).status_code == 200
        # when: the listening connection is cut (a revocation now could go unheard)
        await sql.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE query LIKE 'LISTEN%' AND application_name = 'billing-api'"
        )
        for _ in range(200):
            if not app.state.token_cache.listening:
                break
            await asyncio.sleep(0.01)
        statements.clear()
        response = await api.post(QUERY)
    # then: the token is checked in the database again
    assert response.status_code == 200
    assert any("api_tokens" in s for s in statements), statements


async def test_only_a_hash_of_the_secret_is_stored(app: Starlette, sql: asyncpg.Connection) -> None:
    secret = await new_token(app)
    stored = await sql.fetch("SELECT * FROM api_tokens")
    assert len(stored) == 1
    assert secret not in repr(dict(stored[0]))
    assert stored[0]["secret_hash"] == tokens.hash_secret(secret)


async def test_client_tokens_need_an_existing_client(app: Starlette, api: Api) -> None:
    client, _ = await api.create_client("tokened")
    assert (await new_token(app, int(client))).startswith("bk_")
    with pytest.raises(InvalidInput):
        await new_token(app, 987654)


async def test_a_token_check_on_a_saturated_pool_is_503_not_500(settings: Settings) -> None:
    # given: a service with one connection, which another request holds
    async with custom_api(settings, pool_size=1, pool_timeout=0.3) as (application, _):
        secret = await new_token(application)
        deadline = asyncio.get_running_loop().time() + 5
        async with application.state.db.connection(deadline), api_for(application, secret) as api:
            # when: a request whose token must be looked up
            response = await api.post(QUERY)
    # then: the service is busy, and says so as it does for every whole-request refusal
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
