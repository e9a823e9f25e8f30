"""Settings, read once from the environment (prefix ``BILLING_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """Per-user data directory: ``$XDG_DATA_HOME/billing`` or ``~/.local/share/billing``."""
    import os

    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "billing"


def to_async_url(url: str) -> str:
    """Accept ``postgres://`` and ``postgresql://`` URLs and select the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("database URL must start with postgresql:// (or postgres://)")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="External PostgreSQL URL; without it an embedded server is started.",
    )
    database_pooled: bool = Field(
        default=False,
        description="BILLING_DATABASE_URL leads to a pooler in transaction mode (PgBouncer):"
        " nothing relies on a database session outliving a transaction, and every setting the"
        " service needs is set in each transaction (see docs/many-machines.md).",
    )
    database_prepared_statements: bool | None = Field(
        default=None,
        description="Named prepared statements; unset: on, unless the database is pooled"
        " (PgBouncer before 1.21, or with max_prepared_statements = 0, cannot carry them).",
    )
    listen_database_url: str | None = Field(
        default=None,
        description="A direct connection to the primary for LISTEN (revocations, event"
        " wake-ups); unset: BILLING_DATABASE_URL unless it is pooled, else none (polled).",
    )
    listen_poll_interval: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Without a LISTEN connection, seconds between looks for revocations and"
        " new events: the most another node's revocation takes to reach this one.",
    )
    read_database_url: str | None = Field(
        default=None,
        description="A hot standby of the primary for queries (see docs/many-machines.md).",
    )
    read_max_lag: float = Field(
        default=1.0,
        ge=0,
        le=3600,
        description="Seconds the standby may lag behind the primary (measured) for queries to"
        " read from it; beyond that, and while its lag is unknown, they read from the primary.",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the embedded PostgreSQL keeps its data.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    pool_size: int = Field(default=8, ge=1, le=100)
    pool_max_overflow: int = Field(default=0, ge=0, le=100)
    pool_timeout: float = Field(default=5.0, gt=0, description="Seconds to wait for a connection.")
    connect_timeout: float = Field(default=5.0, gt=0)
    statement_timeout_ms: int = Field(default=10_000, ge=0)
    write_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a money-moving request may take in all (queue, connection, gate,"
        " statement, commit, retries); then OutcomeUnknown or ServiceUnavailable.",
    )
    read_timeout: float = Field(
        default=5.0, gt=0, description="Seconds a read (or a token check) may take in all."
    )
    tcp_timeout: int = Field(
        default=10,
        ge=2,
        le=3600,
        description="Seconds after which a TCP connection to the database whose other end"
        " stopped answering is dropped, on both ends (keepalives, TCP_USER_TIMEOUT).",
    )
    retry_max_attempts: int = Field(default=10, ge=1, le=100)
    retry_base_delay: float = Field(default=0.002, ge=0, description="Seconds; doubles per retry.")
    retry_max_delay: float = Field(default=0.2, ge=0, description="Cap of one backoff sleep.")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Larger bodies get 413.")
    max_query_depth: int = Field(default=10, ge=1)
    max_aliases: int = Field(default=15, ge=0)
    max_query_tokens: int = Field(default=1000, ge=10)
    introspection: bool = Field(
        default=True, description="Off: no introspection, no suggestions, no GraphiQL."
    )
    graphiql_assets: str = Field(
        default="auto",
        description="GraphiQL's files: 'auto' (the installed copy, else a CDN), 'cdn', or a"
        " directory holding them (see web/graphiql).",
    )
    default_currency: str = Field(
        default="USD",
        pattern=r"^[A-Z]{3}$",
        description="The ISO 4217 currency of wallets created without one, and of the wallets"
        " that existed before currencies did (set it before that migration runs).",
    )
    migrate_on_start: bool = True
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="auto: JSON lines unless stderr is a terminal."
    )
    shutdown_timeout: int = Field(
        default=10, ge=1, le=3600, description="Seconds in-flight requests get on SIGTERM."
    )
    events_relay: bool = Field(
        default=True,
        description="Run the relay that turns events into webhook deliveries (one process of the"
        " deployment leads it at a time).",
    )
    events_relay_interval: float = Field(
        default=0.05, gt=0, le=60, description="Seconds between the relay's reads of new events."
    )
    webhooks_timeout: float = Field(
        default=10.0, gt=0, le=300, description="Seconds one webhook attempt may take in all."
    )
    webhooks_concurrency: int = Field(
        default=16, ge=1, le=1000, description="Webhook attempts in flight at once."
    )
    webhooks_retry_delay: float = Field(
        default=10.0, gt=0, description="Seconds before the first retry of a webhook; doubles."
    )
    webhooks_retry_max_delay: float = Field(
        default=3600.0, gt=0, description="The longest pause between two attempts, in seconds."
    )
    webhooks_retry_for: float = Field(
        default=259_200.0,
        gt=0,
        description="Seconds a webhook is retried from its first attempt before it fails and"
        " its endpoint is disabled (72 hours).",
    )
    webhooks_allow_private: bool = Field(
        default=False,
        description="Let webhook URLs reach loopback, private, link-local and other non-public"
        " addresses (only for tests and closed networks).",
    )
    subscriptions_per_connection: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Operations one WebSocket may have running at once; another is refused.",
    )
    subscriptions_per_token: int = Field(
        default=100,
        ge=1,
        le=100_000,
        description="Subscriptions one token may hold open in one process, over all its"
        " WebSockets; another ends at once (TOO_MANY_SUBSCRIPTIONS).",
    )
    subscription_queue_size: int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        description="Events waiting to be sent to one subscriber; one more and the subscriber"
        " is ended (SLOW_CONSUMER) with the cursor to resume from.",
    )
    events_poll_interval: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Seconds between reads of new events for subscribers when nothing wakes the"
        " reader earlier: the most a subscriber lags when notifications are not heard.",
    )
    ws_init_timeout: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Seconds a new WebSocket has to send connection_init; then closed (4408).",
    )
    metrics_public: bool = Field(default=False, description="Serve /metrics without a token.")
    metrics_token: SecretStr | None = Field(
        default=None, description="A bearer secret for scrapers, checked without the database."
    )

    @property
    def prepared_statements(self) -> bool:
        """Whether connections keep named prepared statements (see the field)."""
        if self.database_prepared_statements is not None:
            return self.database_prepared_statements
        return not self.database_pooled

    @field_validator("metrics_token")
    @classmethod
    def _strong_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < 16:
            raise ValueError("the metrics token must be at least 16 characters long")
        return value

    @field_validator("database_url", "listen_database_url", "read_database_url")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        return to_async_url(value) if value else None

    @field_validator("graphiql_assets")
    @classmethod
    def _assets_source(cls, value: str) -> str:
        value = value.strip()
        if value in {"auto", "cdn"}:
            return value
        directory = Path(value).expanduser()
        if not directory.is_dir():
            raise ValueError("must be 'auto', 'cdn' or an existing directory")
        return str(directory.resolve())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
