"""Command line: ``billing serve``, ``billing migrate``, ``billing export-schema``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from billing.config import Settings, get_settings
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


def serve(settings: Settings) -> int:
    import uvicorn

    from billing.db.engine import check_reachable, safe_url

    url = _database_url(settings)
    if settings.database_url:
        print(f"Data: PostgreSQL at {safe_url(url)}", flush=True)
    asyncio.run(check_reachable(settings, url))
    # Worker processes inherit the environment: they all use this one database server.
    os.environ["BILLING_DATABASE_URL"] = url
    get_settings.cache_clear()
    print(
        f"GraphQL API: http://{settings.host}:{settings.port}/graphql"
        " (open it in a browser for GraphiQL)",
        flush=True,
    )
    uvicorn.run(
        "billing.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=10,
    )
    return 0


def migrate(settings: Settings, revision: str) -> int:
    from billing.db.engine import check_reachable, create_engine
    from billing.db.migrate import current_revision, run_alembic

    url = _database_url(settings)

    async def run() -> str | None:
        await check_reachable(settings, url)
        engine = create_engine(settings, url)
        try:
            await run_alembic(engine, "upgrade", revision)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    print(f"Database schema at revision {asyncio.run(run())}")
    return 0


def audit(settings: Settings) -> int:
    from billing.db.engine import check_reachable, create_engine
    from billing.domain.audit import audit as run_audit

    url = _database_url(settings)

    async def run() -> bool:
        await check_reachable(settings, url)
        engine = create_engine(settings, url)
        try:
            report = await run_audit(engine)
        finally:
            await engine.dispose()
        print(report.render())
        return report.ok

    return 0 if asyncio.run(run()) else 1


def export_schema(output: Path | None) -> int:
    from billing.graphql.schema import schema

    text = schema.as_str() + "\n"
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

    p_export = sub.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    p_export.add_argument("-o", "--output", type=Path)

    args = parser.parse_args(argv)
    if args.command == "export-schema":
        return export_schema(args.output)

    overrides = {k: getattr(args, k, None) for k in ("host", "port", "workers")}
    settings = get_settings().model_copy(
        update={k: v for k, v in overrides.items() if v is not None}
    )
    configure_logging(settings.log_level)
    try:
        if args.command == "serve":
            return serve(settings)
        if args.command == "audit":
            return audit(settings)
        return migrate(settings, args.revision)
    except (OSError, RuntimeError) as exc:
        log.error("%s", exc)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
