"""Command line: ``billing serve``, ``billing migrate``, ``billing export-schema``, ..."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import ValidationError

from billing.config import Settings, get_settings
from billing.db.database import Database
from billing.errors import OperationError
from billing.logs import configure_logging

log = logging.getLogger("billing")


def _database_url(settings: Settings) -> str:
    """The configured external URL, or the embedded server's (started if needed)."""
    if settings.database_url:
        return settings.database_url
    from billing.db.embedded import start_embedded

    server = start_embedded(settings.data_dir)
    print(f"Data: {server.pgdata} (embedded PostgreSQL)", flush=True)
    return server.url()


T = TypeVar("T")


def _with_database(
    settings: Settings, url: str, work: Callable[[Database], Awaitable[T]], *, migrate: bool
) -> T:
    """Run ``work`` against the database (migrated first if asked), then close the pool."""
    from billing.db.engine import check_reachable, create_engine
    from billing.db.migrate import run_alembic

    async def run() -> T:
        await check_reachable(settings, url)
        engine = create_engine(settings, url)
        try:
            if migrate:
                await run_alembic(engine, default_currency=settings.default_currency)
            return await work(Database.configured(engine, settings))
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def _nothing(db: Database) -> None:
    return None


def _first_run_token(settings: Settings, url: str) -> str | None:
    """With the embedded database and no operator token yet: create one for local use."""
    from billing.domain import tokens

    async def work(db: Database) -> str | None:
        if await tokens.has_operator_token(db):
            return None
        _, secret = await tokens.create_token(db, kind="OPERATOR", name="local development")
        return secret

    return _with_database(settings, url, work, migrate=True)


def serve(settings: Settings) -> int:
    """Run the API until SIGINT or SIGTERM; both let in-flight requests finish (up to
    ``shutdown_timeout``), close the pools and stop the embedded PostgreSQL, then exit 0."""
    # SIGTERM as Ctrl-C: uvicorn hands the signal back once it has shut down gracefully, and
    # its default action would end the process before the embedded PostgreSQL is stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return _serve(settings)
    except KeyboardInterrupt:
        return 0


def _serve(settings: Settings) -> int:
    import uvicorn

    from billing.db.engine import DatabaseUnreachable, check_reachable, safe_url
    from billing.supervisor import Supervisor, listening_sockets

    url = _database_url(settings)
    endpoint = f"http://{settings.host}:{settings.port}/graphql"
    # Worker processes inherit the environment: they all use this one database server, which
    # is migrated now if it answers. A worker's startup never needs the database: uvicorn stops
    # the whole server when a worker it restarts fails to start, and an outage must not do that.
    migrate_in_workers = False
    if settings.database_url:
        print(f"Data: PostgreSQL at {safe_url(url)}", flush=True)
        try:
            asyncio.run(check_reachable(settings, url))
        except DatabaseUnreachable as exc:
            if not exc.transient:
                raise
            log.warning(
                "%s. Serving anyway: /readyz answers 503 and requests ServiceUnavailable until"
                " it answers%s.",
                exc,
                " (then the migrations are applied)" if settings.migrate_on_start else "",
            )
            migrate_in_workers = settings.migrate_on_start
        else:
            if settings.migrate_on_start:
                _with_database(settings, url, _nothing, migrate=True)
        print(f"GraphQL API: {endpoint}", flush=True)
    else:
        secret = _first_run_token(settings, url)
        print(f"GraphQL API: {endpoint} (open it in a browser for GraphiQL)", flush=True)
        if secret:
            print(
                "\nAn operator token was created for this data directory. It is shown once;"
                f" keep it:\n\n    {secret}\n\nGraphiQL with the token filled in:"
                f" {endpoint}#token={secret}\n"
                "Create more with `billing token create`.\n",
                flush=True,
            )
    os.environ["BILLING_DATABASE_URL"] = url
    os.environ["BILLING_MIGRATE_ON_START"] = "true" if migrate_in_workers else "false"
    get_settings.cache_clear()
    config = uvicorn.Config(
        "billing.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's records go through the service's own log format
        access_log=False,  # the service logs every request itself (billing.requests)
        timeout_graceful_shutdown=settings.shutdown_timeout,
        ws_max_size=settings.max_body_bytes,  # a WebSocket message: no larger than a request
    )
    # The workers' metrics meet in files here (see billing.http.metrics); nothing may have imported
    # prometheus_client in a worker before this is set. Fresh and private for every run.
    metrics_dir = _metrics_directory()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        if settings.workers == 1:
            server = uvicorn.Server(config)
            server.run()
            if not server.started:
                return 3  # the application did not start (its log says why)
        else:
            # The listening sockets are bound here, one per worker (see billing.supervisor).
            sockets = listening_sockets(settings.host, settings.port, settings.workers)
            Supervisor(config, sockets).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


METRICS_DIR_PREFIX = "billing-metrics-"


def _metrics_directory() -> str:
    """A new private directory for this run's metrics files, named after this process.

    Directories left behind by runs that were killed (their process is gone) are removed first.
    """
    import psutil

    for stale in Path(tempfile.gettempdir()).glob(f"{METRICS_DIR_PREFIX}*-*"):
        pid = stale.name.removeprefix(METRICS_DIR_PREFIX).partition("-")[0]
        with contextlib.suppress(OSError):
            mine = stale.stat().st_uid == os.getuid()
            if mine and pid.isdigit() and not psutil.pid_exists(int(pid)):
                shutil.rmtree(stale)
    return tempfile.mkdtemp(prefix=f"{METRICS_DIR_PREFIX}{os.getpid()}-")


def migrate(settings: Settings, revision: str) -> int:
    from billing.db.migrate import current_revision, run_alembic

    async def work(db: Database) -> str | None:
        await run_alembic(
            db.engine, "upgrade", revision, default_currency=settings.default_currency
        )
        return await db.read_one(current_revision)

    version = _with_database(settings, _database_url(settings), work, migrate=False)
    print(f"Database schema at revision {version}")
    return 0


def audit(settings: Settings) -> int:
    from billing.domain.audit import audit as run_audit

    async def work(db: Database) -> bool:
        report = await run_audit(db.engine)
        print(report.render())
        return report.ok

    return 0 if _with_database(settings, _database_url(settings), work, migrate=False) else 1


def token(settings: Settings, args: argparse.Namespace) -> int:
    from billing.domain import tokens

    url = _database_url(settings)
    if args.action == "create":
        kind: Literal["OPERATOR", "CLIENT"] = "OPERATOR" if args.operator else "CLIENT"
        name = args.name or ("operator" if args.operator else f"client {args.client}")

        async def create(db: Database) -> tuple[tokens.TokenRecord, str]:
            return await tokens.create_token(db, kind=kind, client_id=args.client, name=name)

        try:
            record, secret = _with_database(settings, url, create, migrate=True)
        except OperationError as exc:
            log.error("%s", exc.message)
            return 1
        print(f"Created {record.kind.lower()} token {record.id} ({record.name}). Its secret,")
        print("shown only this once (send it as 'Authorization: Bearer <secret>'):\n")
        print(f"    {secret}\n")
        return 0
    if args.action == "list":
        listed = _with_database(settings, url, tokens.list_tokens, migrate=True)
        print(f"{'ID':>4}  {'KIND':8}  {'CLIENT':>6}  {'CREATED':19}  {'STATUS':7}  NAME")
        for t in listed:
            status = "revoked" if t.revoked_at else "active"
            client = "" if t.client_id is None else str(t.client_id)
            created = t.created_at.strftime("%Y-%m-%d %H:%M:%S")
            print(f"{t.id:>4}  {t.kind:8}  {client:>6}  {created:19}  {status:7}  {t.name}")
        return 0

    async def revoke(db: Database) -> bool:
        return await tokens.revoke_token(db, args.id)

    if _with_database(settings, url, revoke, migrate=True):
        print(f"Token {args.id} revoked; requests with it are refused from now on.")
        return 0
    log.error("no active token with id %s", args.id)
    return 1


def export_schema(output: Path | None) -> int:
    from billing.graphql.schema import schema

    text = schema.as_str() + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
    return 0


def export_openapi(output: Path | None) -> int:
    from billing.rest.openapi import render

    text = render()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="billing", description="GraphQL billing API")
    sub = parser.add_subparsers(dest="command", required=True)

    p_serve = sub.add_parser("serve", help="run the API (embedded PostgreSQL unless configured)")
    p_serve.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    p_serve.add_argument("--port", type=int, help="port (default 8000)")
    p_serve.add_argument("--workers", type=int, help="worker processes (default 1)")

    p_migrate = sub.add_parser("migrate", help="apply database migrations")
    p_migrate.add_argument("revision", nargs="?", default="head")

    sub.add_parser("audit", help="check the ledger; exit status 1 on any violation")

    p_token = sub.add_parser("token", help="manage API tokens")
    token_sub = p_token.add_subparsers(dest="action", required=True)
    p_create = token_sub.add_parser("create", help="create a token; its secret is shown once")
    who = p_create.add_mutually_exclusive_group(required=True)
    who.add_argument("--operator", action="store_true", help="may do everything")
    who.add_argument("--client", type=int, metavar="ID", help="acts for this client only")
    p_create.add_argument("--name", help="a label to recognise the token by")
    token_sub.add_parser("list", help="list tokens (never their secrets)")
    p_revoke = token_sub.add_parser("revoke", help="revoke a token at once")
    p_revoke.add_argument("id", type=int)

    p_export = sub.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    p_export.add_argument("-o", "--output", type=Path)

    p_openapi = sub.add_parser("export-openapi", help="print the REST adapter's OpenAPI document")
    p_openapi.add_argument("-o", "--output", type=Path)

    args = parser.parse_args(argv)
    if args.command == "export-schema":
        return export_schema(args.output)
    if args.command == "export-openapi":
        return export_openapi(args.output)

    overrides = {k: getattr(args, k, None) for k in ("host", "port", "workers")}
    try:
        settings = Settings.model_validate(
            {
                **get_settings().model_dump(),
                **{k: v for k, v in overrides.items() if v is not None},
            }
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        print(f"billing: invalid configuration: {problems}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    commands: dict[str, Callable[[], int]] = {
        "serve": lambda: serve(settings),
        "migrate": lambda: migrate(settings, args.revision),
        "audit": lambda: audit(settings),
        "token": lambda: token(settings, args),
    }
    try:
        return commands[args.command]()
    except (OSError, RuntimeError) as exc:
        log.error("%s", exc)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
