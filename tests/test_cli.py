"""The real command line: `billing serve` and `billing migrate` as subprocesses."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy.engine import make_url

from support.documents import CREATE_CLIENT
from support.postgres import HEAD, PgServer
from support.serve import BILLING, TOKEN, clean_env, free_port, gql, postmasters, serving

pytestmark = pytest.mark.slow


def test_data_persists_across_restarts_of_serve(tmp_path: Path) -> None:
    # given: a first run that creates a client and credits its wallet
    with serving(tmp_path) as first:
        token = first.token()
        created = gql(
            first.url, token, CREATE_CLIENT, {"input": {"login": "durable", "name": "Долгий"}}
        )
        wallet = created["createClient"]["wallet"]["id"]
        gql(
            first.url,
            token,
            'mutation($w: ID!) { resupply(input: {walletId: $w, amount: "42.42"}) { __typename } }',
            {"w": wallet},
        )
    output = "".join(first.output)
    # then the first run said where its data lives, printed GraphiQL's address with the token,
    # and stopped cleanly with its database
    assert f"Data: {tmp_path / 'pgdata'}" in output
    assert f"{first.url}#token={token}" in output
    assert first.proc.returncode == 0, output
    assert postmasters(tmp_path / "pgdata") == []
    # when: a second run on the same data directory
    with serving(tmp_path) as second:
        query = "query($w: ID!) { wallet(id: $w) { balance client { name } } }"
        data = gql(second.url, token, query, {"w": wallet})
    # then: the data and the token are still there, and no second token was printed
    assert data["wallet"] == {"balance": "42.42", "client": {"name": "Долгий"}}
    assert not TOKEN.search("".join(second.output))


def test_workers_share_one_embedded_server(tmp_path: Path) -> None:
    with serving(tmp_path, "--workers", "2") as served:
        url, proc, token = served.url, served.proc, served.token()
        # given: two worker processes
        deadline = time.monotonic() + 30
        while len(psutil.Process(proc.pid).children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = [p for p in psutil.Process(proc.pid).children() if "postgres" not in p.name()]
        assert len(workers) >= 2
        # when: requests spread over the workers
        for i in range(10):
            gql(url, token, CREATE_CLIENT, {"input": {"login": f"worker{i}", "name": "W"}})
        # then: one database server behind them, holding all the data
        assert len(postmasters(tmp_path / "pgdata")) == 1
        ids = {
            gql(url, token, "query($id: ID!) { client(id: $id) { login } }", {"id": str(i)})[
                "client"
            ]["login"]
            for i in range(1, 11)
        }
        assert ids == {f"worker{i}" for i in range(10)}


def test_migrate_command_on_an_external_database(pg_server: PgServer) -> None:
    # given: an empty database on a server the tests started
    import asyncio

    from billing.db.embedded import ensure_database

    asyncio.run(ensure_database(pg_server.admin_url, "billing_cli_migrate"))
    url = pg_server.dsn("billing_cli_migrate")
    # when
    done = subprocess.run(
        [*BILLING, "migrate"],
        env=clean_env(BILLING_DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # then
    assert done.returncode == 0, done.stderr
    assert f"Database schema at revision {HEAD}" in done.stdout


def test_serve_refused_by_the_database_exits_with_a_clear_message(
    tmp_path: Path, pg_server: PgServer
) -> None:
    # given: a server that answers, but has no such database (a mistake, not an outage)
    url = make_url(pg_server.url("no_such_database")).set(password="s3cret")
    done = subprocess.run(
        [*BILLING, "serve", "--port", str(free_port())],
        env=clean_env(BILLING_DATABASE_URL=url.render_as_string(hide_password=False)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "cannot reach the database" in done.stderr
    assert "no_such_database" in done.stderr
    assert "s3cret" not in done.stdout + done.stderr


def test_serve_without_its_database_starts_and_answers_503(tmp_path: Path) -> None:
    # given: a URL whose socket directory has no server (an outage: it may come back)
    url = f"postgresql://billing:s3cret@/billing?host={tmp_path}"
    # when
    with serving(tmp_path, BILLING_DATABASE_URL=url, BILLING_CONNECT_TIMEOUT="1") as served:
        ready = httpx.get(served.url.replace("/graphql", "/readyz"), timeout=10)
    # then: it serves, not ready, and says why without showing the password
    assert ready.status_code == 503
    output = "".join(served.output)
    assert "cannot reach the database" in output
    assert "Serving anyway" in output
    assert "s3cret" not in output


def test_serve_starts_cleanly_after_being_killed(tmp_path: Path) -> None:
    # given: a run that was SIGKILLed, leaving its PostgreSQL running and its pid listed
    with serving(tmp_path) as first:
        token = first.token()
        gql(first.url, token, CREATE_CLIENT, {"input": {"login": "killed", "name": "K"}})
        first.proc.kill()
        first.proc.wait()
    assert len(postmasters(tmp_path / "pgdata")) == 1
    # when: it is started again on the same data directory, and stopped cleanly
    with serving(tmp_path) as second:
        data = gql(second.url, token, "{ client(id: 1) { login } }")
    # then: it served the old data, and its clean stop also stopped PostgreSQL
    assert data == {"client": {"login": "killed"}}
    assert second.proc.returncode == 0
    assert postmasters(tmp_path / "pgdata") == []
