"""POSTing a webhook: one attempt, bounded in time, to a public address only.

Connections are made by ``GuardedBackend``: it resolves the host itself, refuses every address
that is not public (see ``billing.domain.webhooks``), connects to an accepted address, and checks
the address the socket really reached before anything is sent. A name that resolves to a public
address when the endpoint is registered and to a private one later (DNS rebinding) gets no
connection. Redirects are not followed: a 3xx is an answer that is not 2xx.
"""

from __future__ import annotations

import asyncio
import typing

import httpcore

from billing.domain.webhooks import refused_address, resolve

ANSWER_MAX = 64 * 1024  # what is read of an answer's body (and then dropped)


class RefusedAddress(httpcore.ConnectError):
    """The host resolves only to addresses a webhook may not reach."""


class GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{host} does not resolve ({exc})") from exc
        failure: Exception = httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            if (reason := refused_address(address, self.allow_private)) is not None:
                failure = RefusedAddress(f"refused to connect: {reason}")
                continue
            try:
                stream = await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            peer = stream.get_extra_info("server_addr")
            reached = str(peer[0]) if peer else ""
            if (reason := refused_address(reached, self.allow_private)) is not None:
                await stream.aclose()
                failure = RefusedAddress(f"refused to connect: {reason}")
                continue
            return stream
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are sent over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class Sender:
    """Sends webhooks over a small pool of kept-alive connections."""

    def __init__(self, *, timeout: float, concurrency: int, allow_private: bool) -> None:
        self.timeout = timeout
        self._pool = httpcore.AsyncConnectionPool(
            network_backend=GuardedBackend(allow_private),
            max_connections=concurrency,
            keepalive_expiry=30.0,
            retries=0,
        )

    async def post(
        self, url: str, headers: dict[str, str], content: bytes
    ) -> tuple[int | None, str | None]:
        """POST ``content``: (the HTTP status, None) if an answer came in time, else (None, why
        not). Only an answer's status counts; its body is read (up to ``ANSWER_MAX``) and
        dropped."""
        limits = dict.fromkeys(("connect", "read", "write", "pool"), self.timeout)
        try:
            async with asyncio.timeout(self.timeout):
                async with self._pool.stream(
                    "POST",
                    url,
                    headers=list(headers.items()),
                    content=content,
                    extensions={"timeout": limits},
                ) as response:
                    read = 0
                    async for chunk in response.aiter_stream():
                        read += len(chunk)
                        if read > ANSWER_MAX:
                            break
                    return response.status, None
        except (TimeoutError, httpcore.TimeoutException):
            return None, f"no answer within {self.timeout:g} s"
        except RefusedAddress as exc:
            return None, str(exc)
        except httpcore.ConnectError as exc:
            return None, f"could not connect: {exc}" if str(exc) else "could not connect"
        except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
            return None, f"connection failed: {exc}" if str(exc) else "connection failed"
        except httpcore.UnsupportedProtocol as exc:
            return None, f"unsupported URL: {exc}"

    async def close(self) -> None:
        await self._pool.aclose()
