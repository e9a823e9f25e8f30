"""A webhook receiver on a free 127.0.0.1 port, answering as a test scripts it.

It runs its own event loop in a thread, so that both async tests and tests driving a
`billing serve` subprocess (blocking calls) can use it. Each request gets the behaviour
``script(n)`` returns for its number n (0, 1, 2...):

* ``"ok"``: 200; ``"500"``: 500 (the connection kept alive);
* ``"hang"``: no answer, ever (the sender must time out);
* ``"drop"``: the connection is reset without an answer;
* ``"hold"``: no answer until ``release()``, then the connection is closed.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

ANSWERS = {"ok": b"HTTP/1.1 200 OK", "500": b"HTTP/1.1 500 Internal Server Error"}


@dataclass(frozen=True)
class Request:
    number: int
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    behaviour: str

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    script: Callable[[int], str]
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None
    _released: asyncio.Event | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def accepted(self) -> list[Request]:
        """The requests answered with 200, in the order they came."""
        with self._lock:
            return [r for r in self.requests if r.behaviour == "ok"]

    def seen(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    def release(self) -> None:
        """Let held requests go (their connections are closed without an answer)."""
        assert self._loop is not None
        assert self._released is not None
        self._loop.call_soon_threadsafe(self._released.set)

    async def wait_for(self, check: Callable[[Receiver], bool], within: float = 20) -> None:
        """Wait (in an async test) until ``check(self)`` holds."""
        deadline = time.monotonic() + within
        while not check(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"the receiver did not see it in {within} s: {self.seen()}")
            await asyncio.sleep(0.02)

    def block_until(self, check: Callable[[Receiver], bool], timeout: float = 30) -> None:
        """Wait (blocking) until ``check(self)`` holds."""
        deadline = time.monotonic() + timeout
        while not check(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"the receiver did not see it in {timeout} s: {self.seen()}")
            time.sleep(0.02)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                with self._lock:
                    number = len(self.requests)
                    behaviour = self.script(number)
                    self.requests.append(Request(number, path, headers, body, behaviour))
                if behaviour in ANSWERS:
                    writer.write(ANSWERS[behaviour] + b"\r\nContent-Length: 2\r\n\r\nno")
                    await writer.drain()
                    continue
                if behaviour == "hang":
                    await asyncio.sleep(3600)
                elif behaviour == "hold":
                    assert self._released is not None
                    await self._released.wait()
                writer.transport.abort()
                return
        finally:
            writer.close()

    async def _serve(self, started: threading.Event, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._released = asyncio.Event()
        handlers: set[asyncio.Task[None]] = set()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            handlers.add(task)
            try:
                await self._handle(reader, writer)
            except asyncio.CancelledError:
                writer.transport.abort()
            finally:
                handlers.discard(task)

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hooks"
        started.set()
        await stop.wait()
        server.close()
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


@contextmanager
def receiving(script: Callable[[int], str] = lambda n: "ok") -> Iterator[Receiver]:
    """A receiver following ``script`` until the block ends."""
    receiver = Receiver(script)
    started = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        try:
            loop.run_until_complete(receiver._serve(started, stop))
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="webhook-receiver", daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the receiver did not start")
    try:
        yield receiver
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
