"""A TCP relay between the API and PostgreSQL, with network faults on demand.

The API connects to the relay's port on 127.0.0.1 as to a database server; the relay forwards
every byte to PostgreSQL (its Unix socket, or its TCP port) and back. Faults, all reversible
with ``heal``:

* ``blackhole()``: nothing flows either way, every socket stays open (a dead switch, a
  partition, a frozen host). New connections are accepted and then get no answer.
* ``delay(seconds)``: every chunk is delivered that much later, in order, each way.
* ``reset()``: every open connection is cut at once (both sides see it end).
* ``refuse()``: the port stops listening: new connections are refused (the host is down).

``relay_to`` runs one on an event loop of its own, in a thread, so that a test may block (start
``billing serve``, wait for an answer) while the relay keeps forwarding.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

T = TypeVar("T")

CHUNK = 65536


class Relay:
    def __init__(self, upstream: str) -> None:
        """``upstream``: PostgreSQL's URL (``?host=/dir`` names its Unix socket directory)."""
        parts = urlsplit(upstream)
        directory = parse_qs(parts.query).get("host", [""])[0]
        port = parts.port or 5432
        self.upstream_socket = f"{directory}/.s.PGSQL.{port}" if directory else None
        self.upstream_address = (parts.hostname or "127.0.0.1", port)
        self.port = 0
        self.delay_seconds = 0.0
        self.accepted = 0  # connections accepted so far
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()

    @property
    def open_connections(self) -> int:
        return len(self._links)

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1 (the same one again after ``refuse``)."""
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.heal_flow()
        for link in list(self._links):
            link.cut()
        for link in list(self._links):
            await link.done()

    # -- faults --------------------------------------------------------------------------

    def blackhole(self) -> None:
        self._flowing.clear()

    def delay(self, seconds: float) -> None:
        self.delay_seconds = seconds

    def reset(self) -> None:
        for link in list(self._links):
            link.cut()

    async def refuse(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def heal(self) -> None:
        """Back to passing everything through, at once, listening again if it stopped."""
        self.delay_seconds = 0.0
        self.heal_flow()
        if self._server is None:
            await self.start()

    def heal_flow(self) -> None:
        self._flowing.set()

    # -- forwarding ----------------------------------------------------------------------

    async def connect_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.upstream_socket is not None:
            return await asyncio.open_unix_connection(self.upstream_socket)
        return await asyncio.open_connection(*self.upstream_address)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        link = _Link(self, reader, writer)
        self._links.add(link)
        try:
            await link.run()
        finally:
            self._links.discard(link)


class _Link:
    """One client connection and its connection upstream."""

    def __init__(
        self, relay: Relay, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.relay = relay
        self.client = (reader, writer)
        self.upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._finished = asyncio.Event()

    async def run(self) -> None:
        try:
            await self.relay._flowing.wait()  # a blackholed host does not answer at all
            self.upstream = await self.relay.connect_upstream()
            self._tasks = [
                asyncio.create_task(self._pump(self.client[0], self.upstream[1])),
                asyncio.create_task(self._pump(self.upstream[0], self.client[1])),
            ]
            await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self.cut()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError, OSError):
                    await task
            self._finished.set()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy one direction; with a delay, each chunk is held back that long (in order)."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    return
                await asyncio.sleep(max(0.0, due - loop.time()))
                await self.relay._flowing.wait()
                writer.write(data)
                await writer.drain()

        delivering = asyncio.create_task(deliver())
        try:
            while True:
                await self.relay._flowing.wait()
                data = await reader.read(CHUNK)
                await queue.put((loop.time() + self.relay.delay_seconds, data))
                if not data:
                    break
            await delivering
        finally:
            delivering.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await delivering

    def cut(self) -> None:
        """End both connections at once (a reset, not a goodbye)."""
        for pair in (self.client, self.upstream):
            if pair is None:
                continue
            transport = pair[1].transport
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in {socket.AF_INET, socket.AF_INET6}:
                with contextlib.suppress(OSError):  # linger 0: close sends a reset
                    sock.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
            transport.abort()

    async def done(self) -> None:
        await self._finished.wait()


class RelayControl:
    """Blocking handles on a relay that runs in a thread of its own."""

    def __init__(self, relay: Relay, loop: asyncio.AbstractEventLoop) -> None:
        self.relay = relay
        self.loop = loop

    @property
    def port(self) -> int:
        return self.relay.port

    def url(self, database: str, user: str = "postgres") -> str:
        """The URL through the relay, as ``BILLING_DATABASE_URL`` takes it."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def blackhole(self) -> None:
        self.loop.call_soon_threadsafe(self.relay.blackhole)

    def delay(self, seconds: float) -> None:
        self.loop.call_soon_threadsafe(self.relay.delay, seconds)

    def reset(self) -> None:
        self.loop.call_soon_threadsafe(self.relay.reset)

    def refuse(self) -> None:
        self._run(self.relay.refuse())

    def heal(self) -> None:
        self._run(self.relay.heal())


@contextmanager
def relay_to(upstream: str) -> Iterator[RelayControl]:
    """A relay to the PostgreSQL at URL ``upstream``, running until the block ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="relay", daemon=True)
    thread.start()
    relay = Relay(upstream)
    control = RelayControl(relay, loop)
    try:
        control._run(relay.start())
        yield control
    finally:
        control._run(relay.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
