"""Metrics and request logs, through the real ASGI app on a real database."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr
from sqlalchemy import event
from starlette.applications import Starlette

from billing.config import Settings
from billing.logs import JsonFormatter, LogFormat, formatter, write_json_line
from support.api import Api, api_for, custom_api, new_token
from support.contention import resupply_past_a_competing_update, wait_until_api_waits_for_a_lock
from support.documents import TRANSFER
from support.postgres import PgServer
from support.promtext import Samples, parse, value


async def scrape(api: Api) -> Samples:
    response = await api.http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


@contextmanager
def request_log(log_format: LogFormat, stream: io.StringIO | None = None) -> Iterator[io.StringIO]:
    """The request log lines written while the block runs, in ``log_format``."""
    out = stream or io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter(log_format, out))
    logger = logging.getLogger("billing.requests")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


# How a JSON log line shows its time: UTC, to the millisecond.
LOG_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00")


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


async def test_operations_are_counted_by_root_field_and_result(app: Starlette, api: Api) -> None:
    # given: two clients, one funded
    _, source = await api.create_client("metrics-source")
    _, target = await api.create_client("metrics-target")
    await api.resupply(source, "10.00")
    # when: three transfers that succeed, one that cannot, a read, a broken document, and a
    # request without a token
    answers = [await api.transfer(source, target, "1.00") for _ in range(3)]
    refused = await api.transfer(source, target, "100.00")
    await api.balance(source)
    broken = await api.post("{ wallet(id: 1) { balance }")
    async with api_for(app, None) as anonymous:
        assert (await anonymous.post("{ __typename }")).status_code == 401
    samples = await scrape(api)
    # then: each operation under its root field and the result type the caller saw
    assert [a["__typename"] for a in answers] == ["TransferSuccess"] * 3
    assert refused["__typename"] == "InsufficientFunds"
    assert broken.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    ops = "billing_operations_total"
    assert value(samples, ops, operation="transfer", result="TransferSuccess") == 3
    assert value(samples, ops, operation="transfer", result="InsufficientFunds") == 1
    assert value(samples, ops, operation="createClient", result="CreateClientSuccess") == 2
    assert value(samples, ops, operation="resupply", result="ResupplySuccess") == 1
    assert value(samples, ops, operation="wallet", result="ok") == 1
    assert value(samples, ops, operation="invalid", result="GRAPHQL_PARSE_FAILED") == 1
    assert sum(v for (name, _), v in samples.items() if name == ops) == 9  # not the 401
    # and every GraphQL request was timed under its operation
    duration = "billing_request_duration_seconds"
    assert value(samples, f"{duration}_count", operation="transfer") == 4
    assert value(samples, f"{duration}_bucket", operation="transfer", le="+Inf") == 4
    assert 0 < (value(samples, f"{duration}_sum", operation="transfer") or 0) < 10
    # and HTTP requests by path and status (the scrape itself is counted once it is answered)
    http = "billing_http_requests_total"
    assert value(samples, http, path="/graphql", status="200") == 9
    assert value(samples, http, path="/graphql", status="401") == 1
    # and nothing was retried, no connection is in use, the pool is the configured one
    assert not [name for name, _ in samples if name == "billing_transaction_retries_total"]
    assert value(samples, "billing_db_pool_size") == 8
    assert value(samples, "billing_db_pool_max_overflow") == 0
    assert value(samples, "billing_db_pool_checked_out") == 0


async def test_documents_with_several_root_fields_and_unknown_paths(api: Api) -> None:
    # when
    both = await api.run("{ a: wallet(id: 1) { id } b: client(id: 1) { id } }")
    missing = await api.http.get("/no-such-path")
    samples = await scrape(api)
    # then
    assert both == {"a": None, "b": None}
    assert missing.status_code == 404
    ops = "billing_operations_total"
    assert value(samples, ops, operation="multiple", result="ok") == 1
    assert value(samples, "billing_http_requests_total", path="other", status="404") == 1


async def test_failed_executions_keep_their_operation_and_refused_documents_do_not(
    api: Api, sql: asyncpg.Connection
) -> None:
    # given: a table the resolvers need is gone (an unexpected failure)
    await sql.execute("ALTER TABLE clients RENAME TO clients_elsewhere")
    # when: a query that runs into it, and a document that does not validate
    failed = await api.post("{ client(id: 1) { login } }")
    refused = await api.post("{ client(id: 1) { nonsense } }")
    samples = await scrape(api)
    # then
    assert failed.json()["errors"][0]["extensions"]["code"] == "INTERNAL_ERROR"
    ops = "billing_operations_total"
    assert value(samples, ops, operation="client", result="INTERNAL_ERROR") == 1
    assert refused.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert value(samples, ops, operation="invalid", result="GRAPHQL_VALIDATION_FAILED") == 1


async def test_retries_and_their_reasons_are_counted(
    api: Api, sql: asyncpg.Connection, pg_server: PgServer, database: str
) -> None:
    # given: a resupply that meets a concurrent SERIALIZABLE update (40001), then retries
    _, wallet = await api.create_client("metrics-retry")
    with request_log("json") as lines:
        result = await resupply_past_a_competing_update(api, sql, pg_server.dsn(database), wallet)
    samples = await scrape(api)
    # then
    assert result["__typename"] == "ResupplySuccess"
    retries = value(samples, "billing_transaction_retries_total", reason="serialization_failure")
    assert retries is not None
    assert retries >= 1
    logged = [line for line in json_lines(lines.getvalue()) if line["operation"] == "resupply"]
    assert len(logged) == 1
    assert logged[0]["retries"] == retries
    assert logged[0]["result"] == "ResupplySuccess"


async def test_try_again_answers_are_counted(
    pg_server: PgServer, database: str, settings: Settings, sql: asyncpg.Connection
) -> None:
    # given: one attempt allowed, and a competing transaction that wins the row
    async with custom_api(settings, retry_max_attempts=1) as (_, api):
        _, wallet = await api.create_client("metrics-try-again")
        # when
        result = await resupply_past_a_competing_update(api, sql, pg_server.dsn(database), wallet)
        samples = await scrape(api)
    # then
    assert result["__typename"] == "TryAgain"
    assert value(samples, "billing_try_again_total", operation="resupply") == 1
    ops = "billing_operations_total"
    assert value(samples, ops, operation="resupply", result="TryAgain") == 1


async def test_rest_requests_are_counted_as_their_operations(
    pg_server: PgServer, database: str, settings: Settings, sql: asyncpg.Connection
) -> None:
    async with custom_api(settings, retry_max_attempts=1) as (_, api):
        # given: two clients, one funded
        _, source = await api.create_client("rest-metrics-a")
        _, target = await api.create_client("rest-metrics-b")
        await api.resupply(source, "5.00")

        async def rest_transfer(amount: str) -> int:
            body = {"walletFromId": source, "walletToId": target, "amount": amount}
            return (await api.http.post("/transfers", json=body)).status_code

        async def rest_resupply() -> int:
            body = {"walletId": source, "amount": "1.00"}
            return (await api.http.post("/resupplies", json=body)).status_code

        # when: transfers by REST that succeed, cannot, and are malformed, and a resupply that
        # meets a competing update with no retry left
        statuses = [await rest_transfer("1.00"), await rest_transfer("1.00")]
        statuses.append(await rest_transfer("100.00"))
        malformed = await api.http.post(
            "/transfers", content=b"{", headers={"Content-Type": "application/json"}
        )
        busy = await resupply_past_a_competing_update(
            api, sql, pg_server.dsn(database), source, rest_resupply
        )
        samples = await scrape(api)
    # then: counted, timed and (TryAgain) flagged as the GraphQL operations of the same name are
    assert statuses == [200, 200, 409]
    assert malformed.status_code == 400
    assert busy == 503
    ops = "billing_operations_total"
    assert value(samples, ops, operation="transfer", result="TransferSuccess") == 2
    assert value(samples, ops, operation="transfer", result="InsufficientFunds") == 1
    assert value(samples, ops, operation="transfer", result="BAD_REQUEST") == 1
    assert value(samples, ops, operation="resupply", result="TryAgain") == 1
    assert value(samples, "billing_try_again_total", operation="resupply") == 1
    duration = "billing_request_duration_seconds"
    assert value(samples, f"{duration}_count", operation="transfer") == 4
    http = "billing_http_requests_total"
    assert value(samples, http, path="/transfers", status="200") == 2
    assert value(samples, http, path="/transfers", status="409") == 1
    assert value(samples, http, path="/resupplies", status="503") == 1


async def test_pool_gauge_follows_connections_in_use(
    api: Api, sql: asyncpg.Connection, pg_server: PgServer, database: str
) -> None:
    # given: a transfer that waits for a wallet row another session has locked
    _, source = await api.create_client("pool-gauge-a")
    _, target = await api.create_client("pool-gauge-b")
    await api.resupply(source, "5.00")
    holder = await asyncpg.connect(pg_server.dsn(database))
    try:
        await holder.execute("BEGIN")
        await holder.execute("SELECT id FROM wallets WHERE id = $1 FOR UPDATE", int(source))
        waiting = asyncio.create_task(api.transfer(source, target, "1.00"))
        await wait_until_api_waits_for_a_lock(sql)
        # when
        during = await scrape(api)
    finally:
        await holder.close()
    done = await asyncio.wait_for(waiting, 10)
    after = await scrape(api)
    # then: one connection in use while it waited, none once it finished
    assert value(during, "billing_db_pool_checked_out") == 1
    assert done["__typename"] == "TransferSuccess"
    assert value(after, "billing_db_pool_checked_out") == 0


async def test_metrics_need_an_operator_token(app: Starlette, api: Api) -> None:
    client, _ = await api.create_client("metrics-client")
    client_token = await new_token(app, int(client))
    async with (
        api_for(app, None) as anonymous,
        api_for(app, client_token) as client_api,
        api_for(app, "bk_" + "x" * 43) as wrong,
    ):
        assert (await anonymous.http.get("/metrics")).status_code == 401
        assert (await wrong.http.get("/metrics")).status_code == 401
        forbidden = await client_api.http.get("/metrics")
        assert forbidden.status_code == 403
        assert forbidden.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert "billing_" not in forbidden.text
    assert (await api.http.get("/metrics")).status_code == 200


async def test_the_metrics_token_is_checked_without_the_database(settings: Settings) -> None:
    secret = "scrape-" + "s" * 20
    async with custom_api(settings, metrics_token=SecretStr(secret)) as (application, _):
        engine = application.state.db.engine.sync_engine
        sent: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            sent.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            async with (
                api_for(application, secret) as scraper,
                api_for(application, secret + "x") as wrong,
            ):
                answered = await scraper.http.get("/metrics")
                assert sent == []  # no token lookup
                refused = await wrong.http.get("/metrics")
        finally:
            event.remove(engine, "before_cursor_execute", record)
    assert answered.status_code == 200
    assert "billing_http_requests_total" in answered.text
    assert refused.status_code == 401


async def test_public_metrics_need_no_token(settings: Settings) -> None:
    async with (
        custom_api(settings, metrics_public=True) as (application, _),
        api_for(application, None) as anonymous,
    ):
        response = await anonymous.http.get("/metrics")
    assert response.status_code == 200
    assert "billing_db_pool_size" in response.text


def test_a_short_metrics_token_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 characters"):
        Settings(metrics_token="short")


async def test_one_json_log_line_per_request(app: Starlette, api: Api) -> None:
    # given
    _, source = await api.create_client("log-source")
    _, target = await api.create_client("log-target")
    await api.resupply(source, "3.00")
    variables = {"input": {"walletFromId": source, "walletToId": target, "amount": "1.00"}}
    # when: a named transfer with the caller's request id, and a request without a token
    with request_log("json") as out:
        answer = await api.http.post(
            "/graphql",
            json={"query": TRANSFER, "variables": variables, "operationName": "Transfer"},
            headers={"X-Request-ID": "order-77.attempt-1"},
        )
        async with api_for(app, None) as anonymous:
            await anonymous.post("{ __typename }")
        await api.http.get("/healthz")
    lines = json_lines(out.getvalue())
    # then
    assert answer.json()["data"]["transfer"]["__typename"] == "TransferSuccess"
    assert len(lines) == 3
    transfer, unauthenticated, health = lines
    assert transfer["request_id"] == "order-77.attempt-1"
    assert {k: transfer[k] for k in ("method", "path", "status", "operation")} == {
        "method": "POST",
        "path": "/graphql",
        "status": 200,
        "operation": "transfer",
    }
    assert transfer["operation_name"] == "Transfer"
    assert transfer["result"] == "TransferSuccess"
    assert transfer["retries"] == 0
    assert isinstance(transfer["duration_ms"], float)
    assert transfer["duration_ms"] > 0
    assert (transfer["level"], transfer["logger"], transfer["pid"]) == (
        "INFO",
        "billing.requests",
        os.getpid(),
    )
    assert LOG_TIME.fullmatch(transfer["time"])
    assert unauthenticated["status"] == 401
    assert unauthenticated["operation"] is None
    assert unauthenticated["result"] is None
    assert len(unauthenticated["request_id"]) == 32  # generated
    assert (health["path"], health["level"]) == ("/healthz", "DEBUG")


async def test_text_log_line_for_a_terminal(api: Api) -> None:
    with request_log("text") as out:
        await api.http.post(
            "/graphql",
            json={"query": "query Probe { __typename }"},
            headers={"X-Request-ID": "probe-1"},
        )
    line = out.getvalue().strip()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO \d+ billing\.requests: POST /graphql 200"
        r" __typename ok \d+\.\d\d ms retries=0 request_id=probe-1",
        line,
    ), line


async def test_a_path_that_could_forge_log_lines_is_escaped(api: Api) -> None:
    with request_log("text") as out:
        await api.http.get("/x%0A2026-01-01 00:00:00,000 INFO 1 billing.requests: forged")
    text = out.getvalue()
    assert text.count("\n") == 1
    assert "\\n2026-01-01" in text


def test_auto_format_is_text_on_a_terminal_and_json_elsewhere() -> None:
    leader, follower = os.openpty()
    try:
        with os.fdopen(follower, "w", closefd=False) as terminal:
            assert not isinstance(formatter("auto", terminal), JsonFormatter)
    finally:
        os.close(leader)
        os.close(follower)
    assert isinstance(formatter("auto", io.StringIO()), JsonFormatter)
    assert not isinstance(formatter("text", io.StringIO()), JsonFormatter)
    assert isinstance(formatter("json", io.StringIO()), JsonFormatter)


def test_json_lines_carry_tracebacks_and_unicode() -> None:
    logger = logging.getLogger("billing.test-json")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError("сбой")
        except RuntimeError:
            logger.exception("ошибка %s", "здесь")
    finally:
        logger.removeHandler(handler)
    (line,) = json_lines(out.getvalue())
    assert line["message"] == "ошибка здесь"
    assert line["level"] == "ERROR"
    assert "RuntimeError: сбой" in line["exception"]


def service_logging(level: int) -> tuple[io.StringIO, logging.Handler, logging.Logger]:
    """What configure_logging sets up with JSON, in a logger hierarchy of its own: where the
    lines go, the root's one handler, and the request logger."""
    out = io.StringIO()
    root = logging.RootLogger(level)
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    return out, handler, logging.Manager(root).getLogger("billing.requests")


def test_a_request_line_written_directly_is_the_line_logging_writes() -> None:
    # given: the service's own set-up (configure_logging with JSON), in a hierarchy of its own
    out, _, logger = service_logging(logging.INFO)
    fields = {"request_id": "r-1", "status": 200, "path": "/graphql", "note": "é"}
    # when: the same record, written directly and through logging
    assert write_json_line(logger, logging.INFO, "POST /graphql 200", fields)
    logger.info("POST /graphql 200", extra={"fields": fields})
    # then: the same line, but for the time
    direct, logged = json_lines(out.getvalue())
    assert LOG_TIME.fullmatch(direct.pop("time"))
    logged.pop("time")
    assert direct == logged
    assert list(direct) == list(logged)  # in the same order
    assert direct["pid"] == os.getpid()


def test_a_forked_child_logs_its_own_process_id() -> None:
    # given: the service's set-up, in a process that forks (the id is looked up once)
    out, _, logger = service_logging(logging.INFO)
    reading, writing = os.pipe()
    # when: the child writes a request line, and hands it over
    child = os.fork()
    if child == 0:  # pragma: no cover - the child: it never returns into the test run
        try:
            write_json_line(logger, logging.INFO, "POST /graphql 200", {"status": 200})
            os.write(writing, f"{os.getpid()} {out.getvalue()}".encode())
        except BaseException:
            os._exit(1)
        os._exit(0)
    os.close(writing)
    with os.fdopen(reading) as pipe:
        pid, _, written = pipe.read().partition(" ")
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # then: the child's line names the child, not its parent
    (line,) = json_lines(written)
    assert line["pid"] == int(pid) == child != os.getpid()


@pytest.mark.parametrize("change", ["second handler", "filter", "text", "level"])
def test_a_set_up_of_the_operators_own_gets_every_line_through_logging(change: str) -> None:
    # given: the service's set-up, changed by an operator
    out, handler, logger = service_logging(logging.DEBUG)
    if change == "second handler":
        logger.addHandler(logging.StreamHandler(io.StringIO()))
    elif change == "filter":
        handler.addFilter(lambda record: False)
    elif change == "text":
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler.setLevel(logging.WARNING)
    # when / then: nothing written directly; the caller logs as usual
    assert not write_json_line(logger, logging.INFO, "POST /graphql 200", {"status": 200})
    assert out.getvalue() == ""
