"""The Starlette application: factory, lifespan (engine, migrations) and routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from billing import rest
from billing.config import Settings, get_settings
from billing.db.database import Database
from billing.db.engine import create_engine
from billing.db.listener import Listener, Notifications, Poller
from billing.db.migrate import current_revision, migrate_when_reachable, migrations_head
from billing.db.replica import ReadReplica
from billing.db.token_cache import TokenCache
from billing.domain import holds
from billing.domain.access import Actor
from billing.errors import ServiceUnavailable
from billing.events.hub import EventHub
from billing.events.relay import Relay
from billing.graphql.schema import Limits, build_schema
from billing.graphql.view import BillingGraphQL
from billing.http.auth import BearerAuth
from billing.http.gateway import Gateway
from billing.http.metrics import Metrics
from billing.http.observability import observe_retry
from billing.ide import graphiql_page
from billing.logs import configure_logging

log = logging.getLogger(__name__)


async def _start_replica(app: Starlette, settings: Settings, metrics: Metrics) -> None:
    """With a read replica, measure its lag from now on (see billing.db.replica)."""
    if not settings.read_database_url:
        return
    # A standby runs no SERIALIZABLE transaction: everything on it reads at REPEATABLE READ.
    engine = create_engine(
        settings,
        settings.read_database_url,
        session={"default_transaction_isolation": "repeatable read"},
        isolation_level="REPEATABLE READ",
    )
    standby = Database.configured(engine, settings, keep_connections=True)
    replica = ReadReplica(app.state.db, standby, max_lag=settings.read_max_lag, on_lag=metrics.lag)
    app.state.replica = replica
    await replica.start()


async def _stop_replica(app: Starlette) -> None:
    if replica := getattr(app.state, "replica", None):
        await replica.stop()
        await replica.standby.close()
        await replica.standby.engine.dispose()


async def _start_events(app: Starlette, settings: Settings, engine: AsyncEngine) -> None:
    """Start the process's listening connection, the token cache and the event hub on it, and
    its events relay (one of the deployment's relays leads; see billing.events.relay). Each
    waits for the database in the background: startup never does."""
    listener = _listener(app, settings, engine)
    app.state.listener = listener
    app.state.token_cache = TokenCache[Actor](listener)
    hub = EventHub(
        app.state.db,
        poll_interval=settings.events_poll_interval,
        per_token=settings.subscriptions_per_token,
    )
    listener.add(hub.hooks())
    app.state.token_cache.revoked.append(hub.tokens_changed)  # ends revoked subscriptions
    app.state.event_hub = hub
    await listener.start()
    await hub.start()
    if settings.events_relay:
        url = engine.url.render_as_string(hide_password=False)
        db = app.state.db
        app.state.relay = Relay(
            url, settings, ready=app.state.schema_ready, sweep=lambda: holds.expire_lapsed(db)
        )
        await app.state.relay.start()


def _listener(app: Starlette, settings: Settings, engine: AsyncEngine) -> Notifications:
    """Listening on a direct connection (BILLING_LISTEN_DATABASE_URL, else the database's own
    unless it is pooled), else polling (see billing.db.listener)."""
    if settings.listen_database_url:
        url = make_url(settings.listen_database_url)
    elif not settings.database_pooled:
        url = engine.url
    else:
        return Poller(app.state.db, interval=settings.listen_poll_interval)
    return Listener(
        url.set(drivername="postgresql").render_as_string(hide_password=False), settings
    )


async def _stop_events(app: Starlette) -> None:
    if relay := getattr(app.state, "relay", None):
        await relay.stop()
    if hub := getattr(app.state, "event_hub", None):
        await hub.stop()  # subscriptions still open end now (SHUTTING_DOWN)
    if listener := getattr(app.state, "listener", None):
        await listener.stop()


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)
    metrics = Metrics(rest.PATHS)
    url = settings.database_url
    if url is None:
        from billing.db.embedded import start_embedded

        url = start_embedded(settings.data_dir).url()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = create_engine(settings, url)
        metrics.watch_pool(engine, settings.pool_max_overflow)
        # Requests are answered only once the schema is known to be current; until then (the
        # database is not reachable yet), with ServiceUnavailable. Startup never waits for the
        # database: an outage must not stop the service from starting.
        app.state.schema_ready = asyncio.Event()
        migrating = None
        if settings.migrate_on_start:
            migrating = asyncio.create_task(
                migrate_when_reachable(engine, app.state.schema_ready, settings.default_currency),
                name="migrations",
            )
        else:
            app.state.schema_ready.set()
        try:
            app.state.db = Database.configured(
                engine,
                settings,
                on_retry=observe_retry,
                on_in_use=metrics.in_use,
                keep_connections=True,
            )
            app.state.default_currency = settings.default_currency
            await _start_replica(app, settings, metrics)
            await _start_events(app, settings, engine)
            yield
        finally:
            if migrating is not None:
                migrating.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await migrating
            await _stop_events(app)
            await _stop_replica(app)
            if db := getattr(app.state, "db", None):
                await db.close()
            await engine.dispose()
            log.info("database connections closed")

    schema = build_schema(
        Limits(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_aliases,
            max_tokens=settings.max_query_tokens,
            introspection=settings.introspection,
        )
    )
    head = migrations_head()

    async def healthz(request: Request) -> JSONResponse:
        """The process is alive and serving requests."""
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        """Ready: the database answers and its schema is at this version's migration head."""
        if not request.app.state.schema_ready.is_set():
            return JSONResponse({"status": "unavailable", "migrations": "waiting"}, 503)
        try:
            revision = await request.app.state.db.read_one(current_revision)
        except ServiceUnavailable:
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        if revision != head:
            body = {"status": "unavailable", "schema": revision, "expected": head}
            return JSONResponse(body, 503)
        return JSONResponse({"status": "ready", "schema": revision})

    view = BillingGraphQL(schema, ide=settings.introspection, settings=settings)
    # GraphiQL (its page and files) is offered only where the schema is public.
    ide = graphiql_page(settings.graphiql_assets) if settings.introspection else None
    graphql = BearerAuth(view, ide.page if ide else None)
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            # Subscriptions: the token comes with connection_init (see BillingGraphQL).
            WebSocketRoute("/graphql", graphql),
            Route("/metrics", metrics.endpoint(settings)),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *(ide.routes() if ide else []),
            *rest.routes(openapi=settings.introspection),
        ],
        # One layer in front of the routes: request ids, metrics and logs, the body limit; a
        # POST to /graphql is answered there directly (see billing.http.gateway).
        middleware=[
            Middleware(
                Gateway,
                max_bytes=settings.max_body_bytes,
                metrics=metrics,
                error_for=rest.error_for,
                direct={"/graphql": view.direct},
            )
        ],
        lifespan=lifespan,
    )
