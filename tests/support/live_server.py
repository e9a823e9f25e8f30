"""The real service on a real socket: uvicorn in a background thread of the test process.

Hypothesis rules and schemathesis cases are synchronous, so they talk to the service with a
blocking HTTP client over 127.0.0.1. The server's event loop (where its database engine lives)
runs in its own thread; ``LiveServer.run`` executes a coroutine there, e.g. to create tokens
with the app's own database handle or to reset the ledger between examples.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import uvicorn
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette

from billing.app import create_app
from billing.config import Settings
from billing.db.faults import sqlstate_of
from billing.supervisor import listening_sockets
from support.api import new_token

T = TypeVar("T")

# Everything a ledger holds, tokens included (client tokens reference clients).
LEDGER_TABLES = (
    "idempotency_keys",
    "wallet_operations",
    "transactions",
    "api_tokens",
    "wallets",
    "clients",
)


@dataclass(frozen=True)
class LiveServer:
    url: str  # the GraphQL endpoint, http://127.0.0.1:<port>/graphql
    app: Starlette
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coro`` on the server's event loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def token(self, client_id: int | None = None) -> str:
        """A new operator token, or a client token for ``client_id``."""
        return self.run(new_token(self.app, client_id))

    def reset(self) -> None:
        """Empty the ledger and restart its ids at 1, as a fresh database would be."""
        self.truncate(*LEDGER_TABLES)

    def truncate(self, *tables: str) -> None:
        """TRUNCATE ``tables`` (and what refers to them), restarting their ids.

        The server's background work (the relay, its hold sweep) keeps running: a statement of
        it that locks these tables in another order can deadlock with the TRUNCATE, and
        PostgreSQL may abort either one. The TRUNCATE is then run again."""

        async def truncate() -> None:
            statement = text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
            for attempt in range(1, 6):
                try:
                    async with self.app.state.db.engine.begin() as conn:
                        await conn.execute(statement)
                    return
                except DBAPIError as exc:
                    if sqlstate_of(exc) != "40P01" or attempt == 5:
                        raise

        self.run(truncate())


@contextmanager
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """Serve ``create_app(settings)`` on a free 127.0.0.1 port until the block ends."""
    app = create_app(settings)
    # Bound here and handed over (no race for the port), as `billing serve` binds its own.
    (sock,) = listening_sockets("127.0.0.1", 0, 1)
    port: int = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
    )
    loop = asyncio.new_event_loop()

    def serve() -> None:
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=serve, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the test server stopped while starting (see the log)")
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start within 30 s")
            time.sleep(0.01)
        yield LiveServer(f"http://127.0.0.1:{port}/graphql", app, loop)
    finally:
        server.should_exit = True  # stops serving, runs the app's shutdown (engine disposed)
        thread.join(30)
        sock.close()
        if thread.is_alive():
            raise RuntimeError("the test server did not stop within 30 s")
