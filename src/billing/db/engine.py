"""The async engine: small pool, SERIALIZABLE by default.

There is no pre-ping (it would cost three round trips per checkout). A pooled connection that
died during an outage fails on its first statement instead; SQLAlchemy then invalidates the
whole pool, and ``Database`` runs the work again on a fresh connection (see transactions.py).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from billing.config import Settings

APPLICATION_NAME = "billing-api"


def create_engine(settings: Settings, url: str) -> AsyncEngine:
    return create_async_engine(
        url,
        isolation_level="SERIALIZABLE",
        pool_size=settings.pool_size,
        max_overflow=settings.pool_max_overflow,
        pool_timeout=settings.pool_timeout,
        hide_parameters=True,  # error messages and logs never carry the values sent
        connect_args={
            "timeout": settings.connect_timeout,
            "server_settings": {
                "application_name": APPLICATION_NAME,
                # A statement sent outside BEGIN ... COMMIT is a transaction of its own; the
                # money-moving ones are sent that way (see domain/payments.py).
                "default_transaction_isolation": "serializable",
                "statement_timeout": str(settings.statement_timeout_ms),
                "idle_in_transaction_session_timeout": "60000",
            },
        },
    )


async def check_reachable(settings: Settings, url: str) -> None:
    """Connect once; raise DatabaseUnreachable with a readable message if that fails."""
    engine = create_engine(settings, url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (OSError, DBAPIError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise DatabaseUnreachable(
            f"cannot reach the database at {safe_url(url)}: {reason}"
        ) from exc
    finally:
        await engine.dispose()


class DatabaseUnreachable(RuntimeError):
    """The database could not be reached (at startup)."""


def safe_url(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)
