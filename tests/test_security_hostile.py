"""Hostile requests: every one gets a 4xx or a readable GraphQL error, never a 500 or a leak."""

from __future__ import annotations

import io
import logging
from importlib.metadata import version

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from billing.app import create_app
from billing.config import Settings
from billing.logs import LogFormat, formatter
from support.api import Api, api_for, new_token
from support.postgres import PgServer

LEAKS = ("Traceback", "sqlalchemy", "asyncpg", "postgres", "SELECT", "/tmp", 'File "')
MUTATION = 'mutation { createClient(input: {login: "csrf", name: "C"}) { __typename } }'


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", f'{{"query": "{MUTATION.replace(chr(34), chr(92) + chr(34))}"}}'),
        ("application/x-www-form-urlencoded", "query=" + MUTATION),
        (
            "multipart/form-data; boundary=x",
            f'--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n{MUTATION}\r\n--x--',
        ),
        ("", MUTATION),
    ],
)
async def test_mutations_need_a_json_post(
    api: Api, sql: asyncpg.Connection, content_type: str, body: str
) -> None:
    response = await api.http.post("/graphql", content=body, headers={"content-type": content_type})
    assert 400 <= response.status_code < 500
    assert await sql.fetchval("SELECT count(*) FROM clients") == 0


async def test_mutations_over_get_are_refused(api: Api, sql: asyncpg.Connection) -> None:
    response = await api.http.get("/graphql", params={"query": MUTATION})
    assert 400 <= response.status_code < 500
    assert await sql.fetchval("SELECT count(*) FROM clients") == 0
    # while queries over GET work
    ok = await api.http.get("/graphql", params={"query": "{ wallet(id: 1) { id } }"})
    assert ok.json() == {"data": {"wallet": None}}


HOSTILE = {
    "malformed JSON": b'{"query": ',
    "invalid UTF-8": b'{"query": "\xc3\x28"}',
    "huge integer": b'{"query": "{ __typename }", "variables": {"n": ' + b"9" * 10_000 + b"}}",
    "huge exponent": b'{"query": "mutation($a: Money!) { resupply(input: {walletId: \\"1\\",'
    b' amount: $a}) { __typename } }", "variables": {"a": 1e999999}}',
    "deep input": b'{"query": "{ __typename }", "variables": {"v": '
    + b'{"a": ' * 5000
    + b"1"
    + b"}" * 5000
    + b"}}",
    "null bytes in the document": b'{"query": "{ wallet(id: \\"1\\u0000\\") { id } }"}',
    "null byte in a name": b'{"query": "mutation { createClient(input: {login: \\"abc\\",'
    b' name: \\"a\\u0000b\\"}) { __typename } }"}',
    "unknown fields": b'{"query": "{ wallet(id: 1) { id secret } }"}',
    "unknown input fields": b'{"query": "mutation { resupply(input: {walletId: \\"1\\",'
    b' amount: \\"1\\", admin: true}) { __typename } }"}',
    "wrong variable types": b'{"query": "query($id: ID!) { wallet(id: $id) { id } }",'
    b' "variables": {"id": {"$gt": ""}}}',
    "query not a string": b'{"query": {"a": 1}}',
    "variables not an object": b'{"query": "{ __typename }", "variables": [1, 2]}',
    "no query": b'{"variables": {}}',
    "syntax error": b'{"query": "{ wallet(id: 1) { id "}',
    "SQL in an id": b'{"query": "{ wallet(id: \\"1; DROP TABLE wallets\\") { id } }"}',
    "SQL in a login": b'{"query": "mutation { createClient(input: {login: \\"x\'; DROP TABLE'
    b' clients;--\\", name: \\"x\\"}) { __typename } }"}',
    "operation name not found": b'{"query": "{ __typename }", "operationName": "Nope"}',
    "200 KB string": b'{"query": "{ __typename }", "variables": {"s": "' + b"x" * 200_000 + b'"}}',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_hostile_input_gets_a_clear_client_error(
    api: Api, sql: asyncpg.Connection, name: str
) -> None:
    # when
    response = await api.http.post(
        "/graphql", content=HOSTILE[name], headers={"content-type": "application/json"}
    )
    # then: 4xx, or 200 with a readable error or a typed result; never 5xx, never internals
    assert response.status_code < 500, response.text
    assert response.status_code in (200, 400, 413)
    for leak in LEAKS:
        assert leak not in response.text, (leak, response.text[:300])
    if response.status_code == 200:
        body = response.json()
        for error in body.get("errors", []):
            assert error["extensions"]["code"] != "INTERNAL_ERROR", error
    # and the tables are intact
    assert await sql.fetchval("SELECT count(*) FROM wallets") == 0


async def test_secrets_never_reach_the_logs(
    pg_server: PgServer, database: str, sql: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    # given: a database URL with a password (the test server trusts local connections, so it is
    # accepted and ignored), a valid token and a wrong one, a metrics token, and the service's
    # own log formats (JSON and text) writing everything, debug included
    password = "db-pass-8e3f0c"
    metrics_secret = "metrics-secret-5b1d7e"
    url = make_url(pg_server.url(database)).set(password=password)
    settings = Settings(
        database_url=url.render_as_string(hide_password=False),
        migrate_on_start=False,
        metrics_token=metrics_secret,
    )
    caplog.set_level(logging.WARNING, logger="httpx")  # the test's own client logs its URLs
    caplog.set_level(logging.DEBUG)
    kinds: tuple[LogFormat, ...] = ("json", "text")
    outputs = {kind: io.StringIO() for kind in kinds}
    handlers = []
    for kind, out in outputs.items():
        handler = logging.StreamHandler(out)
        handler.setFormatter(formatter(kind, out))
        handlers.append(handler)
        logging.getLogger().addHandler(handler)
    application = create_app(settings)
    try:
        async with application.router.lifespan_context(application):
            secret = await new_token(application)
            wrong = "bk_" + "w" * 43
            async with api_for(application, secret) as api:
                # when: ordinary requests, a query whose text holds a secret, a refused token, a
                # scrape with the metrics token, and an unexpected internal failure
                client, wallet = await api.create_client("logged")
                await api.resupply(wallet, "1.00")
                query = f'{{ wallet(id: "{secret}") {{ id }} }}'
                await api.http.get("/graphql", params={"query": query})
                async with api_for(application, wrong) as intruder:
                    assert (await intruder.post("{ __typename }")).status_code == 401
                async with api_for(application, metrics_secret) as scraper:
                    assert (await scraper.http.get("/metrics")).status_code == 200
                await sql.execute("ALTER TABLE clients RENAME TO clients_elsewhere")
                failed = await api.post(
                    "query($id: ID!) { client(id: $id) { login } }", {"id": client}
                )
                assert failed.json()["errors"][0]["extensions"]["code"] == "INTERNAL_ERROR"
    finally:
        for handler in handlers:
            logging.getLogger().removeHandler(handler)
    # then: the failure and every request were logged, without any secret
    texts = {"caplog": caplog.text} | {kind: out.getvalue() for kind, out in outputs.items()}
    for source, text in texts.items():
        assert "unexpected error" in text, source
        assert "GET /graphql 200" in text, source
        assert "GET /metrics 200" in text, source
        for leaked in (password, secret, wrong, metrics_secret):
            assert leaked not in text, (source, leaked)


def test_dependencies_are_past_known_advisories() -> None:
    """Versions before these have advisories that matter here (see the security notes)."""

    def parts(text: str) -> tuple[int, ...]:
        return tuple(int(p) for p in text.split(".")[:3] if p.isdigit())

    floors = {
        # depth/alias limiter bypasses through fragments (CVE-2026-47706, CVE-2026-47707);
        # CSRF through multipart uploads (CVE-2024-47082)
        "strawberry-graphql": "0.315.7",
    }
    for package, floor in floors.items():
        assert parts(version(package)) >= parts(floor), package


def test_only_the_documented_endpoints_are_exposed(app: Starlette) -> None:
    # (GraphiQL's files: a fixed list read at startup, see tests/test_graphiql.py)
    paths = sorted(route.path for route in app.routes if isinstance(route, Route))
    rest = ["/clients", "/openapi.json", "/resupplies", "/transfers"]  # the REST adapter
    graphiql = ["/graphiql/static/{path:path}"]
    operations = ["/healthz", "/metrics", "/readyz"]
    assert paths == sorted(["/graphql", *operations, *rest, *graphiql])
    # and one WebSocket endpoint: subscriptions (docs/events.md)
    sockets = [route.path for route in app.routes if isinstance(route, WebSocketRoute)]
    assert sockets == ["/graphql"]
    assert len(app.routes) == len(paths) + len(sockets)


async def test_a_failing_field_does_not_break_another_waiting_for_the_same_object(
    api: Api,
) -> None:
    # given: one client, asked for twice in one document
    _, wallet = await api.create_client("asked-twice")
    document = (
        "query($w: ID!) {"
        " a: wallet(id: $w) { client { login } operations(first: -1) { edges { cursor } } }"
        " b: wallet(id: $w) { client { login } } }"
    )
    for _ in range(10):
        # when: a's operations fail, which cancels a's client while b waits for that client too
        response = await api.post(document, {"w": wallet})
        # then: a is null with its error, b is answered in full
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["data"] == {"a": None, "b": {"client": {"login": "asked-twice"}}}
        assert [e["path"] for e in body["errors"]] == [["a", "operations"]]


async def test_request_errors_are_json(api: Api) -> None:
    response = await api.http.post(
        "/graphql", content=b'{"query": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "Unable to parse request body as JSON",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }
