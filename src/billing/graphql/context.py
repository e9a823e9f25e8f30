"""Per-request context: the database, one read snapshot, and DataLoaders."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader

from billing.db.database import Database
from billing.db.faults import read_failure
from billing.domain import reads
from billing.domain.access import Actor
from billing.domain.records import ClientRecord, WalletRecord
from billing.events.hub import EventHub

# The header a caller sends to have a query read on the primary (``primary``), and the one that
# tells it where a query read.
READ_HEADER = "Billing-Read"
READ_FROM = "Billing-Read-From"

K = TypeVar("K")
V = TypeVar("V")


class Reader:
    """One read-only REPEATABLE READ transaction per request, opened on first use.

    All queries of a request see one consistent snapshot. Loaders may dispatch at the same
    time; a lock keeps them from using the connection concurrently.

    ``one_statement``: the request's document reads one object with one statement (see
    billing.graphql.documents), which then runs on its own, without BEGIN and COMMIT: a single
    statement sees one snapshot by itself. (Were a second to follow, it would open a snapshot
    of its own, later than the first.)
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        self._stack: contextlib.AsyncExitStack | None = None
        self._conn: AsyncConnection | None = None
        self.one_statement = False

    async def run(self, query: Callable[[AsyncConnection], Awaitable[V]]) -> V:
        async with self._lock:
            if self.one_statement:
                self.one_statement = False
                return await self._db.read_one(query)
            if self._conn is None:
                # A fresh snapshot may land on a connection that died in an outage: then the
                # snapshot is opened once more (nothing was read from it yet).
                return await self._db.again_if_stale(lambda deadline: self._first(query, deadline))
            return await self._query(query)

    async def _first(self, query: Callable[[AsyncConnection], Awaitable[V]], deadline: float) -> V:
        stack = contextlib.AsyncExitStack()
        self._conn = await stack.enter_async_context(self._db.read(deadline))
        self._stack = stack
        return await self._query(query)

    async def _query(self, query: Callable[[AsyncConnection], Awaitable[V]]) -> V:
        assert self._conn is not None
        try:
            return await query(self._conn)
        except Exception as exc:
            if failure := read_failure(exc):
                await self._close()
                raise failure from exc
            raise

    async def close(self) -> None:
        async with self._lock:
            await self._close()

    async def _close(self) -> None:
        stack, self._stack, self._conn = self._stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()


Fetch = Callable[[AsyncConnection, Sequence[K], int | None], Awaitable[Mapping[K, V]]]


class Loader(Generic[K, V]):
    """A DataLoader whose answers survive the cancellation of any one field awaiting them.

    When a field fails, graphql-core cancels its sibling fields still running. A load is cached
    by key and shared by every field asking for that key; cancelling one of them must not
    cancel the load the others wait for (they would fail with CancelledError).
    """

    def __init__(
        self, reader: Reader, fetch: Fetch[K, V], owner: int | None, missing: Callable[[], V]
    ) -> None:
        self._reader = reader
        self._fetch = fetch
        self._owner = owner
        self._missing = missing
        self._loader: DataLoader[K, V] | None = None  # made on the first load that batches

    async def _load(self, keys: Sequence[K]) -> list[V]:
        found = await self._reader.run(lambda conn: self._fetch(conn, keys, self._owner))
        return [found.get(k, self._missing()) for k in keys]

    def load(self, key: K) -> Awaitable[V]:
        if self._loader is None and self._reader.one_statement:
            # The document's one read (see Reader): nothing to batch or share it with.
            return self._one(key)
        return asyncio.shield(self._batched().load(key))

    def load_many(self, keys: Iterable[K]) -> Awaitable[list[V]]:
        return asyncio.shield(self._batched().load_many(keys))

    async def _one(self, key: K) -> V:
        return (await self._load([key]))[0]

    def _batched(self) -> DataLoader[K, V]:
        if self._loader is None:
            self._loader = DataLoader(load_fn=self._load)
        return self._loader


class Loaders:
    """Batched reads of what the caller may see (``owner``: a client token's client), each
    made on first use."""

    def __init__(self, reader: Reader, owner: int | None) -> None:
        self._reader = reader
        self._owner = owner

    @cached_property
    def client(self) -> Loader[int, ClientRecord | None]:
        return Loader(self._reader, reads.clients_by_id, self._owner, _none)

    @cached_property
    def wallet(self) -> Loader[int, WalletRecord | None]:
        return Loader(self._reader, reads.wallets_by_id, self._owner, _none)

    @cached_property
    def wallets_of_client(self) -> Loader[int, list[WalletRecord]]:
        return Loader(self._reader, reads.wallets_by_client, self._owner, list)


def _none() -> None:
    return None


@dataclass
class Socket:
    """What a WebSocket (subscriptions) needs besides the request's context."""

    hub: EventHub
    capacity: int  # events queued per subscriber
    # The actor a secret stands for now (None: unknown or revoked).
    authenticate: Callable[[str], Awaitable[Actor | None]]
    secret: str | None = None  # the token, once connection_init was accepted


@dataclass
class ResponseHead:
    """What an operation may set of its HTTP response besides the body (billing.graphql.view
    answers POST requests with these)."""

    status_code: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Context:
    request: Request | WebSocket | None  # None: a POST answered directly (see the view)
    response: Response | ResponseHead | WebSocket
    db: Database
    request_id: str
    actor: Actor
    default_currency: str = "USD"
    webhooks_allow_private: bool = False
    socket: Socket | None = None  # set on WebSockets only
    # The connection_init payload (WebSockets only; set by Strawberry).
    connection_params: dict[str, object] | None = None
    # Where a query reads, when the service has a read replica (None: it has none): the
    # standby, or the primary (it lags, or the caller asked; see billing.db.replica).
    reads: Database | None = None
    reader: Reader = field(init=False)
    _loaders: Loaders | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.reader = Reader(self.db)

    def query(self) -> None:
        """The operation is a query: it reads where ``reads`` says, and the answer says where
        (``Billing-Read-From``). Mutations read on the primary."""
        if self.reads is None:
            return
        self.reader = Reader(self.reads)
        if not isinstance(self.response, WebSocket):
            source = "primary" if self.reads is self.db else "replica"
            self.response.headers[READ_FROM] = source

    @property
    def loaders(self) -> Loaders:
        """Made on first use: most mutations never read through them."""
        if self._loaders is None:
            self._loaders = Loaders(self.reader, self.actor.owner_filter)
        return self._loaders

    async def before_write(self) -> None:
        """Forget what this request has read: data resolved after a mutation must show it."""
        await self.reader.close()
        self._loaders = None
